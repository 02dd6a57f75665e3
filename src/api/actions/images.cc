// DescribeImages, CreateImage, RegisterImage, CopyImage, DeregisterImage and the image
// attributes: operator images from the host-wide store and tenants' custom images together.
#include "services/images.h"

#include "api/action.h"

namespace kumo::api {

using nlohmann::json;

namespace {

// The image actions all need the operator image store beside the transaction.
using ImageFn = absl::StatusOr<json> (*)(store::Tx&, const services::Caller&,
                                         const services::ImageStore&, const json&);
using ImageIdFn = absl::StatusOr<json> (*)(store::Tx&, const services::Caller&, IdGenerator&,
                                           const services::ImageStore&, const json&);

ActionSpec ImageRead(ImageFn fn) {
  return {[fn](ActionContext& ctx, const json& in) {
            return ctx.Read(
                [&](store::Tx& tx) { return fn(tx, ctx.caller(), *ctx.deps().images, in); });
          },
          false};
}

ActionSpec ImageWrite(ImageFn fn) {
  return ReconciledWrite([fn](ActionContext& ctx, store::Tx& tx, const json& in) {
    return fn(tx, ctx.caller(), *ctx.deps().images, in);
  });
}

ActionSpec ImageCreate(ImageIdFn fn) {
  return ReconciledWrite([fn](ActionContext& ctx, store::Tx& tx, const json& in) {
    return fn(tx, ctx.caller(), *ctx.deps().ids, *ctx.deps().images, in);
  });
}

}  // namespace

void RegisterImageActions(ActionTable& t) {
  t["DescribeImages"] = ImageRead(services::DescribeImages);
  t["DescribeImageAttribute"] = ImageRead(services::DescribeImageAttribute);
  t["CreateImage"] = ImageCreate(services::CreateImage);
  t["RegisterImage"] = ImageCreate(services::RegisterImage);
  t["CopyImage"] = ImageCreate(services::CopyImage);
  t["DeregisterImage"] = ImageWrite(services::DeregisterImage);
  t["ModifyImageAttribute"] = ImageWrite(services::ModifyImageAttribute);
  t["ResetImageAttribute"] = ImageWrite(services::ResetImageAttribute);
}

}  // namespace kumo::api

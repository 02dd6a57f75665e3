// Volumes and snapshots: Create/Delete/Attach/Detach/ModifyVolume, CreateSnapshot(s),
// CopySnapshot, DeleteSnapshot and their Describe actions.
#include "services/volumes.h"

#include "api/action.h"

namespace kumo::api {

using nlohmann::json;

void RegisterVolumeActions(ActionTable& t) {
  t["CreateVolume"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::CreateVolume(tx, ctx.caller(), *ctx.deps().ids, in);
  });
  t["DeleteVolume"] = ReconciledWrite(services::DeleteVolume);
  t["AttachVolume"] = ReconciledWrite(services::AttachVolume);
  t["DetachVolume"] = ReconciledWrite(services::DetachVolume);
  t["ModifyVolume"] = ReconciledWrite(services::ModifyVolume);
  t["DescribeVolumes"] = ReadAction(services::DescribeVolumes);
  t["DescribeVolumeStatus"] = ReadAction(services::DescribeVolumeStatus);
  t["DescribeVolumesModifications"] = ReadAction(services::DescribeVolumesModifications);
  t["CreateSnapshot"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::CreateSnapshot(tx, ctx.caller(), *ctx.deps().ids, in);
  });
  t["CreateSnapshots"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::CreateSnapshots(tx, ctx.caller(), *ctx.deps().ids, in);
  });
  t["CopySnapshot"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::CopySnapshot(tx, ctx.caller(), *ctx.deps().ids, in);
  });
  t["DeleteSnapshot"] = ReconciledWrite(services::DeleteSnapshot);
  t["DescribeSnapshots"] = ReadAction(services::DescribeSnapshots);
}

}  // namespace kumo::api

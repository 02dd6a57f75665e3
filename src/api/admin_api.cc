#include "api/admin_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/errors.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace kumo::api {

using nlohmann::json;

absl::StatusOr<json> AdminApi::HandleAuthenticated(const auth::HttpRequestView& req) {
  if (req.method != "POST") return InvalidParameterValue("The admin API takes POST requests");
  ASSIGN_OR_RETURN(auth::SignedRequest sig, auth::ParseSignature(req));
  if (sig.credential.access_key_id != deps_.access_key_id) {
    return Ec2Error(absl::StatusCode::kPermissionDenied, "UnauthorizedOperation",
                    "The admin API needs the operator credentials of this data directory");
  }
  auth::VerifyOptions verify;
  verify.service = "kumo";
  RETURN_IF_ERROR(
      auth::VerifySignature(req, sig, deps_.secret_access_key, deps_.auth_clock->Now(), verify));
  std::string_view op = req.path.substr(kAdminPrefix.size());
  auto it = deps_.operations.find(op);
  if (it == deps_.operations.end()) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidAction",
                    fmt::format("No admin operation '{}'", op));
  }
  json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return InvalidParameterValue("The body must be a JSON object");
  }
  return it->second(body);
}

HttpResponse AdminApi::Handle(const auth::HttpRequestView& req) {
  std::string request_id = deps_.ids->RequestId();
  absl::StatusOr<json> r;
  try {
    r = HandleAuthenticated(req);
  } catch (const std::exception& e) {
    // A body of the wrong JSON types (a string where a number goes) is the caller's mistake.
    r = InvalidParameterValue(fmt::format("Bad request body: {}", e.what()));
  }
  if (r.ok()) {
    json out = std::move(*r);
    out["RequestId"] = request_id;
    return HttpResponse{200, out.dump(2) + "\n", "application/json", request_id};
  }
  ErrorResponse e = RenderError(r.status(), request_id);
  if (e.http_status >= 500) spdlog::error("admin request failed: {}", r.status().ToString());
  json out = {{"Error",
               {{"Code", e.code},
                {"Message", e.http_status >= 500 ? "An internal error has occurred"
                                                 : std::string(r.status().message())}}},
              {"RequestId", request_id}};
  return HttpResponse{e.http_status, out.dump(2) + "\n", "application/json", request_id};
}

}  // namespace kumo::api

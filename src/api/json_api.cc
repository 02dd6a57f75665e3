#include "api/json_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/errors.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace kumo::api {

using nlohmann::json;

namespace {

constexpr std::string_view kContentType = "application/x-amz-json-1.1";

// The signing name each target prefix expects.
std::string_view ServiceOf(std::string_view target) {
  if (target.rfind("AWSInsightsIndexService.", 0) == 0) return "ce";
  if (target.rfind("KumoBilling.", 0) == 0) return "ce";
  return "";
}

// JSON services name their errors without EC2's prefixes ("ValidationException").
std::string JsonErrorType(const absl::Status& st, const std::string& ec2_code) {
  if (ec2_code == "AuthFailure" || ec2_code == "SignatureDoesNotMatch") {
    return ec2_code == "AuthFailure" ? "UnrecognizedClientException" : "InvalidSignatureException";
  }
  if (ec2_code == "InvalidClientTokenId") return "UnrecognizedClientException";
  if (ec2_code == "UnauthorizedOperation") return "AccessDeniedException";
  if (ec2_code.find("Exception") != std::string::npos) return ec2_code;
  switch (st.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kNotFound:
      return "ValidationException";
    default:
      return ec2_code.empty() ? "InternalFailure" : ec2_code;
  }
}

}  // namespace

bool JsonApi::Accepts(const auth::HttpRequestView& request) {
  return request.method == "POST" && !HeaderValue(request, "x-amz-target").empty();
}

absl::StatusOr<json> JsonApi::HandleAuthenticated(const auth::HttpRequestView& req,
                                                  const std::string& request_id) {
  ASSIGN_OR_RETURN(auth::SignedRequest sig, auth::ParseSignature(req));
  std::string_view target = HeaderValue(req, "x-amz-target");
  auto op = operations_.find(target);
  if (op == operations_.end()) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "UnknownOperationException",
                    fmt::format("Unknown operation {}", target));
  }
  if (sig.credential.service != ServiceOf(target)) {
    return Ec2Error(
        absl::StatusCode::kUnauthenticated, "InvalidSignatureException",
        fmt::format("Credential should be scoped to correct service: '{}'", ServiceOf(target)));
  }
  ASSIGN_OR_RETURN(auto cred, AuthenticateTenant(deps_, req, sig));
  if (cred.account.status != "active") {
    return Ec2Error(absl::StatusCode::kPermissionDenied, "AccessDeniedException",
                    "The account is suspended");
  }
  json input = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (input.is_discarded() || !input.is_object()) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "SerializationException",
                    "The request body must be a JSON object");
  }
  JsonCall call{{cred.account.id, sig.credential.region, request_id, deps_.clock->Now()},
                cred.account,
                std::move(input)};
  return op->second(call);
}

HttpResponse JsonApi::Handle(const auth::HttpRequestView& req) {
  std::string request_id = deps_.ids->RequestId();
  absl::StatusOr<json> r;
  try {
    r = HandleAuthenticated(req, request_id);
  } catch (const std::exception& e) {
    // A JSON value of an unexpected type in the input, say: the caller's error, not a crash.
    r = Ec2Error(absl::StatusCode::kInvalidArgument, "ValidationException", e.what());
  }
  if (r.ok()) return HttpResponse{200, r->dump(), std::string(kContentType), request_id};
  std::string code = Ec2CodeOf(r.status());
  std::string type = JsonErrorType(r.status(), code);
  int status = type == "InternalFailure" ? 500 : HttpStatusFor(code, r.status().code());
  if (type == "UnrecognizedClientException" || type == "InvalidSignatureException" ||
      type == "AccessDeniedException") {
    status = 403;
  } else if (status < 500) {
    status = 400;
  }
  if (status >= 500) {
    spdlog::error("request {} failed: {}", request_id, r.status().ToString());
  }
  json body = {{"__type", type}, {"message", std::string(r.status().message())}};
  return HttpResponse{status, body.dump(), std::string(kContentType), request_id};
}

}  // namespace kumo::api

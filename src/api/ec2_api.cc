#include "api/ec2_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "api/errors.h"
#include "api/query.h"
#include "api/xml_writer.h"
#include "common/encoding.h"
#include "common/errors.h"
#include "common/hash.h"
#include "common/status_macros.h"

namespace kumo::api {
namespace {

constexpr std::string_view kStsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/";

bool IsProtocolParam(std::string_view name) {
  return name == "Action" || name == "Version" || name.rfind("X-Amz-", 0) == 0;
}

// The idempotency fingerprint: every action parameter except the token itself, in a canonical
// order, so a retry by another client library still matches.
std::string ParamsHash(const Params& params) {
  std::vector<std::pair<std::string_view, std::string_view>> sorted;
  for (const auto& [k, v] : params) {
    if (k != "ClientToken" && k != "DryRun" && k.rfind("X-Amz-", 0) != 0) sorted.emplace_back(k, v);
  }
  std::sort(sorted.begin(), sorted.end());
  std::string buf;
  for (const auto& [k, v] : sorted) {
    buf += k;
    buf += '\0';
    buf += v;
    buf += '\0';
  }
  return HexEncode(Sha256(buf));
}

HttpResponse StsGetCallerIdentity(const store::Account& account, const std::string& request_id) {
  XmlWriter w;
  w.Open("GetCallerIdentityResponse", kStsNamespace);
  w.Open("GetCallerIdentityResult");
  w.Element("Arn", fmt::format("arn:aws:iam::{}:root", account.id));
  w.Element("UserId", account.id);
  w.Element("Account", account.id);
  w.Close();
  w.Open("ResponseMetadata");
  w.Element("RequestId", request_id);
  w.Close();
  w.Close();
  return HttpResponse{200, w.Take(), "text/xml", request_id};
}

}  // namespace

HttpResponse Ec2Api::Handle(const auth::HttpRequestView& request) {
  std::string request_id = deps_.ids->RequestId();
  absl::StatusOr<HttpResponse> r;
  // Our code returns Status; a third-party exception that escapes a handler (nlohmann on data
  // an operator edited by hand, say) becomes a 500 for this request, never a dead daemon.
  try {
    r = HandleAuthenticated(request, request_id);
  } catch (const std::exception& e) {
    r = absl::InternalError(fmt::format("Unhandled exception: {}", e.what()));
  }
  if (r.ok()) return std::move(*r);
  ErrorResponse e = RenderError(r.status(), request_id);
  if (e.http_status >= 500) {
    spdlog::error("request {} failed: {}", request_id, r.status().ToString());
  } else {
    spdlog::debug("request {}: {} {}", request_id, e.code, std::string(r.status().message()));
  }
  return HttpResponse{e.http_status, std::move(e.body), "text/xml;charset=UTF-8", request_id};
}

absl::StatusOr<HttpResponse> Ec2Api::HandleAuthenticated(const auth::HttpRequestView& req,
                                                         const std::string& request_id) {
  if (req.method != "GET" && req.method != "POST") {
    return InvalidParameterValue(fmt::format("HTTP method {} is not supported", req.method));
  }
  // Authentication comes before anything that reveals what exists.
  ASSIGN_OR_RETURN(auth::SignedRequest sig, auth::ParseSignature(req));
  Params params;
  RETURN_IF_ERROR(AppendForm(req.query, &params));
  if (req.method == "POST") {
    std::string_view type = HeaderValue(req, "content-type");
    if (!req.body.empty() && !type.empty() &&
        type.rfind("application/x-www-form-urlencoded", 0) != 0) {
      return InvalidParameterValue(
          "POST bodies must be application/x-www-form-urlencoded (the EC2 Query protocol)");
    }
    RETURN_IF_ERROR(AppendForm(req.body, &params));
  }
  RETURN_IF_ERROR(CheckUnique(params));

  const std::string& service = sig.credential.service;
  if (service != "ec2" && service != "sts") {
    return Ec2Error(
        absl::StatusCode::kUnauthenticated, "SignatureDoesNotMatch",
        fmt::format("Credential should be scoped to correct service: 'ec2', not '{}'", service));
  }
  ASSIGN_OR_RETURN(auto cred, AuthenticateTenant(deps_, req, sig));

  const std::string* action = FindParam(params, "Action");
  if (action == nullptr || action->empty()) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "MissingAction",
                    "The request must contain the parameter Action");
  }
  if (service == "sts") {
    if (*action != "GetCallerIdentity") {
      return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidAction",
                      fmt::format("Could not find operation {} for version 2011-06-15", *action));
    }
    return StsGetCallerIdentity(cred.account, request_id);
  }
  auto spec = actions_.find(*action);
  if (spec == actions_.end() || !deps_.model->HasOperation(*action)) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidAction",
                    fmt::format("The action {} is not valid for this web service.", *action));
  }

  Params action_params;
  action_params.reserve(params.size());
  for (auto& p : params) {
    if (!IsProtocolParam(p.first)) action_params.push_back(p);
  }
  ASSIGN_OR_RETURN(nlohmann::json input, deps_.model->DecodeRequest(*action, action_params));

  // No IAM yet: an active account may do everything with its own resources; a suspended one
  // nothing. DryRun answers that question without doing anything.
  bool allowed = cred.account.status == "active";
  if (input.value("DryRun", false)) {
    if (!allowed) {
      return Ec2Error(absl::StatusCode::kPermissionDenied, "UnauthorizedOperation",
                      "You are not authorized to perform this operation.");
    }
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                    "Request would have succeeded, but DryRun flag is set.");
  }
  if (!allowed) {
    return Ec2Error(absl::StatusCode::kPermissionDenied, "UnauthorizedOperation",
                    "You are not authorized to perform this operation.");
  }

  services::Caller caller{cred.account.id, sig.credential.region, request_id, deps_.clock->Now()};
  // Every account has its default VPC, subnets and security group in every region it uses.
  if (deps_.network) RETURN_IF_ERROR(deps_.network->Ensure(caller));

  std::string token = input.value("ClientToken", "");
  if (token.size() > 64) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterValue",
                    "ClientToken must be at most 64 ASCII characters");
  }
  ActionContext ctx(
      deps_,
      services::Caller{cred.account.id, sig.credential.region, request_id, deps_.clock->Now()},
      *action, token, token.empty() ? "" : ParamsHash(action_params));
  auto result = spec->second.handler(ctx, input);
  if (!result.ok()) {
    if (IsReplayed(result.status()) && ctx.replayed()) {
      return HttpResponse{200, *ctx.replayed(), "text/xml;charset=UTF-8", request_id};
    }
    return result.status();
  }
  return HttpResponse{200, deps_.model->RenderResponse(*action, *result, request_id),
                      "text/xml;charset=UTF-8", request_id};
}

}  // namespace kumo::api

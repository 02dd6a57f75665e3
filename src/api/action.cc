#include "api/action.h"

#include <fmt/format.h>

#include "absl/strings/cord.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace kumo::api {

namespace {
constexpr char kReplayPayload[] = "kumo.dev/replayed";
}

absl::Status ReplayedStatus() {
  absl::Status s(absl::StatusCode::kAborted, "replayed");
  s.SetPayload(kReplayPayload, absl::Cord("1"));
  return s;
}

bool IsReplayed(const absl::Status& status) {
  return status.GetPayload(kReplayPayload).has_value();
}

std::string_view HeaderValue(const auth::HttpRequestView& req, std::string_view name) {
  for (const auto& [k, v] : req.headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(a) == std::tolower(b);
        })) {
      return v;
    }
  }
  return {};
}

absl::StatusOr<services::Accounts::Credential> AuthenticateTenant(const Deps& deps,
                                                                  const auth::HttpRequestView& req,
                                                                  const auth::SignedRequest& sig) {
  if (!deps.regions->Serves(sig.credential.region)) {
    return Ec2Error(absl::StatusCode::kUnauthenticated, "SignatureDoesNotMatch",
                    fmt::format("Credential should be scoped to a valid region, not '{}'",
                                sig.credential.region));
  }
  auto cred = deps.accounts->Lookup(sig.credential.access_key_id);
  if (!cred.ok()) {
    if (!absl::IsNotFound(cred.status())) return cred.status();
    return auth::UnknownAccessKeyError();
  }
  if (cred->key.status != "Active") {
    return AuthFailure("AWS was not able to validate the provided access credentials");
  }
  auth::VerifyOptions verify;
  verify.service = sig.credential.service;
  verify.region = sig.credential.region;
  const Clock& auth_clock = deps.auth_clock ? *deps.auth_clock : *deps.clock;
  RETURN_IF_ERROR(auth::VerifySignature(req, sig, cred->secret, auth_clock.Now(), verify));
  return cred;
}

absl::StatusOr<nlohmann::json> ActionContext::Write(const WriteFn& fn) {
  nlohmann::json result;
  absl::Status st = deps_.store->Write([&](store::Tx& tx) -> absl::Status {
    if (!client_token_.empty()) {
      ASSIGN_OR_RETURN(auto prior,
                       tx.GetIdempotency(caller_.account_id, caller_.region, client_token_));
      if (prior) {
        if (prior->action != action_ || prior->params_hash != params_hash_) {
          return Ec2Error(absl::StatusCode::kInvalidArgument, "IdempotentParameterMismatch",
                          "The client token you have provided is associated with a resource "
                          "that is already deleted or with different parameters. Please use a "
                          "different client token.");
        }
        replayed_ = prior->response;
        return ReplayedStatus();
      }
    }
    ASSIGN_OR_RETURN(result, fn(tx));
    if (!client_token_.empty()) {
      store::IdempotencyRecord rec{
          caller_.account_id,     caller_.region,
          client_token_,          action_,
          params_hash_,           deps_.model->RenderResponse(action_, result, caller_.request_id),
          UnixMillis(caller_.now)};
      RETURN_IF_ERROR(tx.PutIdempotency(rec));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return result;
}

absl::StatusOr<nlohmann::json> ActionContext::Read(const WriteFn& fn) {
  nlohmann::json result;
  RETURN_IF_ERROR(deps_.store->Read([&](store::Tx& tx) -> absl::Status {
    ASSIGN_OR_RETURN(result, fn(tx));
    return absl::OkStatus();
  }));
  return result;
}

ActionSpec ReadAction(TxServiceFn fn) {
  return {[fn](ActionContext& ctx, const nlohmann::json& in) {
            return ctx.Read([&](store::Tx& tx) { return fn(tx, ctx.caller(), in); });
          },
          false};
}

ActionSpec WriteAction(TxServiceFn fn) {
  return {[fn](ActionContext& ctx, const nlohmann::json& in) {
            return ctx.Write([&](store::Tx& tx) { return fn(tx, ctx.caller(), in); });
          },
          true};
}

ActionSpec ReconciledWrite(ContextTxFn fn) {
  return {[fn](ActionContext& ctx, const nlohmann::json& in) -> absl::StatusOr<nlohmann::json> {
            auto out = ctx.Write([&](store::Tx& tx) { return fn(ctx, tx, in); });
            if (out.ok() && ctx.deps().instances_changed) ctx.deps().instances_changed();
            return out;
          },
          true};
}

ActionSpec ReconciledWrite(TxServiceFn fn) {
  return ReconciledWrite([fn](ActionContext& ctx, store::Tx& tx, const nlohmann::json& in) {
    return fn(tx, ctx.caller(), in);
  });
}

ActionTable AllActions() {
  ActionTable t;
  RegisterKeyPairActions(t);
  RegisterTagActions(t);
  RegisterRegionActions(t);
  RegisterVpcActions(t);
  RegisterRoutingActions(t);
  RegisterSecurityGroupActions(t);
  RegisterInstanceActions(t);
  RegisterAddressActions(t);
  RegisterVolumeActions(t);
  RegisterImageActions(t);
  RegisterSpotActions(t);
  return t;
}

}  // namespace kumo::api

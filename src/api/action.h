// What an EC2 action handler sees: its decoded input (JSON keyed by the model's member names),
// the caller, and transactions that carry ClientToken idempotency for it.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "api/model.h"
#include "auth/sigv4.h"
#include "common/clock.h"
#include "common/ids.h"
#include "services/accounts.h"
#include "services/caller.h"
#include "services/images.h"
#include "services/instance_types.h"
#include "services/instances.h"
#include "services/regions.h"
#include "services/vpcs.h"
#include "store/store.h"

namespace kumo::host {
class Host;
}  // namespace kumo::host

namespace kumo::api {

// Everything handlers may use; owned by the daemon's wiring.
struct Deps {
  store::Store* store;
  services::Accounts* accounts;
  const services::Regions* regions;
  IdGenerator* ids;
  const Clock* clock;
  const Ec2Model* model;
  services::DefaultNetwork* network;
  const services::InstanceTypeCatalog* catalog;
  const services::ImageStore* images;
  const services::InstanceEnv* instance_env = nullptr;
  // For what only the host knows (console output); null where there is none (unit tests).
  host::Host* host = nullptr;
  // Wakes the reconciler after a committed change to instances.
  std::function<void()> instances_changed;
  // What signatures are checked against: real time, also when `clock` is simulated. Null: clock.
  const Clock* auth_clock = nullptr;
};

// A request header's value (names match case-insensitively); empty when absent.
std::string_view HeaderValue(const auth::HttpRequestView& req, std::string_view name);

// Checks a tenant's SigV4 signature (already parsed from req): a served region, a known and
// active key, the signature itself against real time. The account may still be suspended.
absl::StatusOr<services::Accounts::Credential> AuthenticateTenant(const Deps& deps,
                                                                  const auth::HttpRequestView& req,
                                                                  const auth::SignedRequest& sig);

class ActionContext {
 public:
  ActionContext(const Deps& deps, services::Caller caller, std::string action,
                std::string client_token, std::string params_hash)
      : deps_(deps),
        caller_(std::move(caller)),
        action_(std::move(action)),
        client_token_(std::move(client_token)),
        params_hash_(std::move(params_hash)) {}

  const Deps& deps() const { return deps_; }
  const services::Caller& caller() const { return caller_; }

  using WriteFn = std::function<absl::StatusOr<nlohmann::json>(store::Tx&)>;
  // Runs fn in one write transaction. With a ClientToken, the rendered response is recorded in
  // that same transaction; a retry with the token replays it (see replayed()) without calling fn,
  // and a retry with other parameters is IdempotentParameterMismatch.
  absl::StatusOr<nlohmann::json> Write(const WriteFn& fn);
  absl::StatusOr<nlohmann::json> Read(const WriteFn& fn);

  // Set when Write found the token already used with the same parameters: the stored response.
  const std::optional<std::string>& replayed() const { return replayed_; }

 private:
  const Deps& deps_;
  services::Caller caller_;
  std::string action_;
  std::string client_token_;
  std::string params_hash_;
  std::optional<std::string> replayed_;
};

using ActionHandler =
    std::function<absl::StatusOr<nlohmann::json>(ActionContext& ctx, const nlohmann::json& input)>;

struct ActionSpec {
  ActionHandler handler;
  bool mutating = false;
};

using ActionTable = std::map<std::string, ActionSpec, std::less<>>;

// Most actions are one service call inside one transaction; these build their specs.
using TxServiceFn = absl::StatusOr<nlohmann::json> (*)(store::Tx&, const services::Caller&,
                                                       const nlohmann::json&);
ActionSpec ReadAction(TxServiceFn fn);
ActionSpec WriteAction(TxServiceFn fn);
// A write the reconciler acts on (instances, security groups): it is woken once the
// transaction has committed.
using ContextTxFn = std::function<absl::StatusOr<nlohmann::json>(ActionContext&, store::Tx&,
                                                                 const nlohmann::json&)>;
ActionSpec ReconciledWrite(ContextTxFn fn);
ActionSpec ReconciledWrite(TxServiceFn fn);

// One registration function per action family (api/actions/*.cc).
void RegisterKeyPairActions(ActionTable& table);
void RegisterTagActions(ActionTable& table);
void RegisterRegionActions(ActionTable& table);
void RegisterVpcActions(ActionTable& table);
void RegisterRoutingActions(ActionTable& table);
void RegisterSecurityGroupActions(ActionTable& table);
void RegisterInstanceActions(ActionTable& table);
void RegisterAddressActions(ActionTable& table);
void RegisterVolumeActions(ActionTable& table);
void RegisterImageActions(ActionTable& table);
void RegisterSpotActions(ActionTable& table);

ActionTable AllActions();

// The status a handler returns after ActionContext::Write replayed a response; the dispatcher
// answers with the stored response instead of an error.
absl::Status ReplayedStatus();
bool IsReplayed(const absl::Status& status);

}  // namespace kumo::api

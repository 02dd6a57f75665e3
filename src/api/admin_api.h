// The operator's admin API: POST /kumo-admin/<operation> with a JSON body, signed (SigV4, service
// "kumo") with the data directory's operator credentials. Protocol only: the daemon supplies the
// operations (the spot market's hooks, the simulated clock), as the EC2 actions come from
// services.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "api/ec2_api.h"
#include "auth/sigv4.h"
#include "common/clock.h"
#include "common/ids.h"

namespace kumo::api {

inline constexpr std::string_view kAdminPrefix = "/kumo-admin/";

using AdminOperation = std::function<absl::StatusOr<nlohmann::json>(const nlohmann::json& body)>;

struct AdminDeps {
  std::string access_key_id;
  std::string secret_access_key;
  const Clock* auth_clock = nullptr;  // signatures are checked against real time
  IdGenerator* ids = nullptr;
  std::map<std::string, AdminOperation, std::less<>> operations;
};

class AdminApi {
 public:
  explicit AdminApi(AdminDeps deps) : deps_(std::move(deps)) {}
  // Errors are JSON too: {"Error": {"Code", "Message"}, "RequestId"}.
  HttpResponse Handle(const auth::HttpRequestView& request);

 private:
  absl::StatusOr<nlohmann::json> HandleAuthenticated(const auth::HttpRequestView& request);
  AdminDeps deps_;
};

}  // namespace kumo::api

// AWS's JSON 1.1 protocol on the EC2 endpoint (POST / with X-Amz-Target and a JSON body): Cost
// Explorer (AWSInsightsIndexService.*, signed for "ce") and Kumo's own billing calls
// (KumoBilling.*: the bill behind `kumo bill` and the console). Protocol only: parse →
// authenticate → call the operation → JSON; errors are {"__type", "message"} as AWS sends them.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "api/action.h"
#include "api/ec2_api.h"
#include "services/instance_types.h"

namespace kumo::api {

struct JsonCall {
  services::Caller caller;
  store::Account account;
  nlohmann::json input;
};
using JsonOperation = std::function<absl::StatusOr<nlohmann::json>(const JsonCall& call)>;

class JsonApi {
 public:
  // operations: by full target ("AWSInsightsIndexService.GetCostAndUsage").
  JsonApi(Deps deps, std::map<std::string, JsonOperation, std::less<>> operations)
      : deps_(deps), operations_(std::move(operations)) {}

  // Whether a request is for this protocol rather than the EC2 Query one.
  static bool Accepts(const auth::HttpRequestView& request);
  HttpResponse Handle(const auth::HttpRequestView& request);

 private:
  absl::StatusOr<nlohmann::json> HandleAuthenticated(const auth::HttpRequestView& request,
                                                     const std::string& request_id);
  Deps deps_;
  std::map<std::string, JsonOperation, std::less<>> operations_;
};

// Cost Explorer's and Kumo's billing operations over the store (actions/billing.cc).
std::map<std::string, JsonOperation, std::less<>> BillingOperations(
    store::Store& store, const services::InstanceTypeCatalog& catalog);

}  // namespace kumo::api

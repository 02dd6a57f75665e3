// RequestSpotInstances, DescribeSpotInstanceRequests, CancelSpotInstanceRequests, spot launches
// through RunInstances, and what the user's instance actions do to a request (specs/spot.md §1).
#include <fmt/format.h>

#include <algorithm>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/describe.h"
#include "services/images.h"
#include "services/metering.h"
#include "services/spot.h"
#include "services/spot_internal.h"
#include "services/tags.h"

namespace kumo::services {

using market::Micros;
using nlohmann::json;

namespace spot {

std::string StatusMessage(std::string_view code, const store::Resource& r, Micros price) {
  std::string inst = r.data.value("instance_id", "");
  if (code == "pending-evaluation") {
    return "Your Spot request has been submitted for review, and is pending evaluation.";
  }
  if (code == "not-scheduled-yet") {
    return "Your Spot request will not be evaluated until the scheduled date.";
  }
  if (code == "pending-fulfillment") return "Your Spot request is pending fulfillment.";
  if (code == "fulfilled") return "Your spot request is fulfilled.";
  if (code == "price-too-low") {
    return fmt::format(
        "Your Spot request price of {} is lower than the minimum required Spot request "
        "fulfillment price of {}.",
        FormatPriceShort(r.data.value("max_micros", Micros(0))), FormatPriceShort(price));
  }
  if (code == "capacity-not-available") {
    return "There is no Spot capacity available that matches your request.";
  }
  if (code == "canceled-before-fulfillment") {
    return "Your Spot request was canceled before it was fulfilled.";
  }
  if (code == "schedule-expired") return "Your Spot request has expired.";
  if (code == "request-canceled-and-instance-running") {
    return fmt::format(
        "Your Spot request is canceled, but your instance {} is still running. Terminate it "
        "yourself if you no longer need it.",
        inst);
  }
  if (code == "instance-terminated-by-user") {
    return "Spot Instance terminated due to user-initiated termination.";
  }
  if (code == "instance-terminated-no-capacity") {
    return "Your Spot instance was terminated because there is no Spot capacity available that "
           "matches your request.";
  }
  if (code == "instance-terminated-by-price") {
    return "Your Spot instance was terminated because your Spot request price is lower than the "
           "Spot price.";
  }
  if (code == "instance-terminated-by-service") {
    return "Your Spot instance was terminated because its Spot request was canceled while the "
           "instance was stopped.";
  }
  if (code == "instance-terminated-by-experiment") {
    return "Your Spot instance was terminated by an interruption the operator initiated.";
  }
  if (code == "marked-for-termination") {
    return "Your Spot instance is marked for termination because your Spot request price is lower "
           "than the Spot price.";
  }
  if (code == "marked-for-stop" || code == "marked-for-stop-by-experiment") {
    return "Your Spot instance is marked to be stopped.";
  }
  if (code == "instance-stopped-by-user")
    return "Spot Instance stopped due to user-initiated stop.";
  if (code == "instance-stopped-no-capacity") {
    return "Your Spot instance was stopped because there is no Spot capacity available that "
           "matches your request.";
  }
  if (code == "instance-stopped-by-price") {
    return "Your Spot instance was stopped because your Spot request price is lower than the Spot "
           "price.";
  }
  if (code == "instance-stopped-by-experiment") {
    return "Your Spot instance was stopped by an interruption the operator initiated.";
  }
  if (code == "system-error") return "An internal error prevented fulfilling your Spot request.";
  return std::string(code);
}

void SetStatus(store::Resource& r, std::string_view state, std::string_view code, int64_t now_ms,
               std::string message) {
  if (r.data.value("state", "") == state && r.data.value("status_code", "") == code &&
      (message.empty() || r.data.value("status_message", "") == message)) {
    return;
  }
  r.data["state"] = state;
  r.data["status_code"] = code;
  r.data["status_message"] = message.empty() ? StatusMessage(code, r, 0) : message;
  r.data["status_ms"] = now_ms;
}

absl::Status Interrupt(store::Tx& tx, store::Resource& inst, store::Resource& req,
                       const std::string& reason, int64_t now_ms) {
  std::string action = req.data.value("behavior", "terminate");
  bool persistent = req.data.value("type", "") == "persistent";
  // Hibernation begins at once, with its notice; stop and terminate after the 2 minutes.
  int64_t when = action == "hibernate" ? now_ms : now_ms + kNoticeMs;
  inst.data["spot_action"] = {{"action", action},
                              {"time_ms", when},
                              {"reason", reason},
                              {"notice_ms", now_ms},
                              {"done", false}};
  if (req.data.value("state", "") == "cancelled") {
    // The instance of a cancelled request is interrupted like any other; its request stays.
  } else if (action == "terminate" && reason != "price") {
    // EC2 closes (or, persistent, reopens) the request at once when it reclaims capacity.
    std::string code = reason == "experiment" ? "instance-terminated-by-experiment"
                                              : "instance-terminated-no-capacity";
    SetStatus(req, persistent ? "open" : "closed", code, now_ms);
  } else if (action == "terminate") {
    SetStatus(req, "active", "marked-for-termination", now_ms);
  } else {
    SetStatus(req, "active",
              reason == "experiment" ? "marked-for-stop-by-experiment" : "marked-for-stop", now_ms);
  }
  RETURN_IF_ERROR(SaveInstance(tx, inst, now_ms));
  RETURN_IF_ERROR(tx.UpdateResource(req));
  ++req.version;
  return absl::OkStatus();
}

}  // namespace spot

namespace {

absl::Status RequestNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidSpotInstanceRequestID.NotFound",
                  fmt::format("The spot instance request ID '{}' does not exist", id));
}

absl::Status CheckRequestId(std::string_view id) {
  if (id.rfind("sir-", 0) != 0 || id.size() < 8 ||
      id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789", 4) != std::string::npos) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidSpotInstanceRequestID.Malformed",
                    fmt::format("Invalid id: \"{}\" (expecting \"sir-...\")", id));
  }
  return absl::OkStatus();
}

// EC2's request ids are "sir-" and 8 lower-case alphanumerics.
std::string NewRequestId(IdGenerator& ids) {
  std::string raw = ids.ResourceId("sir");
  std::string tail = raw.substr(4);
  return "sir-" + tail.substr(tail.size() > 8 ? tail.size() - 8 : 0);
}

absl::StatusOr<Micros> MaxPrice(const json& value, Micros od) {
  if (value.is_null()) return od;  // EC2's default maximum: the On-Demand price
  Micros m = 0;
  if (!value.is_string() || !ParsePrice(value.get<std::string>(), &m)) {
    return InvalidParameterValue(fmt::format("Invalid spot price: {}", value.dump()));
  }
  if (m < kMinSpotPrice) {
    return InvalidParameterValue(
        fmt::format("The spot price {} is below the minimum of 0.001", value.get<std::string>()));
  }
  return m;
}

absl::StatusOr<int64_t> TimeArg(const json& input, const char* name) {
  if (!input.contains(name)) return int64_t(0);
  TimePoint t;
  if (!ParseIso8601(input.value(name, ""), &t)) {
    return InvalidParameterValue(fmt::format("Invalid value for {}", name));
  }
  return UnixMillis(t);
}

json RequestJson(const store::Resource& r, const std::vector<store::Tag>& tags) {
  const json& d = r.data;
  const json launch = d.value("launch", json::object());
  json spec = {{"ImageId", launch.value("ImageId", "")},
               {"InstanceType", d.value("instance_type", "")},
               {"Placement", {{"AvailabilityZone", d.value("az", "")}}},
               {"Monitoring", {{"Enabled", false}}}};
  if (launch.contains("KeyName")) spec["KeyName"] = launch["KeyName"];
  if (launch.contains("SubnetId")) spec["SubnetId"] = launch["SubnetId"];
  json groups = json::array();
  for (const auto& g : launch.value("SecurityGroupIds", json::array())) {
    groups.push_back({{"GroupId", g}});
  }
  for (const auto& g : launch.value("SecurityGroups", json::array())) {
    groups.push_back({{"GroupName", g}});
  }
  if (!groups.empty()) spec["SecurityGroups"] = groups;
  if (launch.contains("BlockDeviceMappings")) {
    spec["BlockDeviceMappings"] = launch["BlockDeviceMappings"];
  }
  json out = {{"SpotInstanceRequestId", r.id},
              {"SpotPrice", FormatPrice(d.value("max_micros", Micros(0)))},
              {"Type", d.value("type", "one-time")},
              {"State", d.value("state", "open")},
              {"Status",
               {{"Code", d.value("status_code", "")},
                {"Message", d.value("status_message", "")},
                {"UpdateTime", FormatIso8601(FromUnixMillis(d.value("status_ms", int64_t(0))))}}},
              {"CreateTime", FormatIso8601(FromUnixMillis(r.created_ms))},
              {"LaunchSpecification", spec},
              {"ProductDescription", std::string(kSpotProduct)},
              {"InstanceInterruptionBehavior", d.value("behavior", "terminate")},
              {"Tags", TagSetJson(tags)}};
  if (int64_t v = d.value("valid_from_ms", int64_t(0))) {
    out["ValidFrom"] = FormatIso8601(FromUnixMillis(v));
  }
  if (int64_t v = d.value("valid_until_ms", int64_t(0))) {
    out["ValidUntil"] = FormatIso8601(FromUnixMillis(v));
  }
  if (!d.value("launch_group", "").empty()) out["LaunchGroup"] = d["launch_group"];
  if (!d.value("az_group", "").empty()) out["AvailabilityZoneGroup"] = d["az_group"];
  if (!d.value("instance_id", "").empty()) out["InstanceId"] = d["instance_id"];
  if (!d.value("launched_az", "").empty()) {
    std::string az = d["launched_az"];
    out["LaunchedAvailabilityZone"] = az;
    out["LaunchedAvailabilityZoneId"] = Regions::ZoneId(r.region, az.back() - 'a');
  }
  if (d.contains("fault") && d["fault"].is_object()) {
    out["Fault"] = {{"Code", d["fault"].value("code", "")},
                    {"Message", d["fault"].value("message", "")}};
  }
  return out;
}

FilterFields RequestFields(const store::Resource& r) {
  const json& d = r.data;
  const json launch = d.value("launch", json::object());
  FilterFields f = {
      {"spot-instance-request-id", r.id},
      {"state", d.value("state", "")},
      {"status-code", d.value("status_code", "")},
      {"status-message", d.value("status_message", "")},
      {"type", d.value("type", "")},
      {"spot-price", FormatPrice(d.value("max_micros", Micros(0)))},
      {"create-time", FormatIso8601(FromUnixMillis(r.created_ms))},
      {"product-description", std::string(kSpotProduct)},
      {"instance-id", d.value("instance_id", "")},
      {"launched-availability-zone", d.value("launched_az", "")},
      {"launch-group", d.value("launch_group", "")},
      {"availability-zone-group", d.value("az_group", "")},
      {"launch.image-id", launch.value("ImageId", "")},
      {"launch.instance-type", d.value("instance_type", "")},
      {"launch.key-name", launch.value("KeyName", "")},
      {"launch.monitoring-enabled", "false"},
  };
  for (const auto& g : launch.value("SecurityGroupIds", json::array())) {
    f.emplace("launch.group-id", g.get<std::string>());
  }
  for (const auto& g : launch.value("SecurityGroups", json::array())) {
    f.emplace("launch.group-name", g.get<std::string>());
  }
  if (int64_t v = d.value("valid_from_ms", int64_t(0))) {
    f.emplace("valid-from", FormatIso8601(FromUnixMillis(v)));
  }
  if (int64_t v = d.value("valid_until_ms", int64_t(0))) {
    f.emplace("valid-until", FormatIso8601(FromUnixMillis(v)));
  }
  if (d.contains("fault") && d["fault"].is_object()) {
    f.emplace("fault-code", d["fault"].value("code", ""));
    f.emplace("fault-message", d["fault"].value("message", ""));
  }
  return f;
}

absl::StatusOr<store::Resource> RequestOf(store::Tx& tx, const store::Resource& instance) {
  std::string id = instance.data.value("spot_request_id", "");
  auto r = tx.GetResource(instance.account_id, instance.region, id);
  if (!r.ok() || r->type != kSpotRequestType) return absl::NotFoundError("no spot request");
  return r;
}

// Free slots for `count` more spot instances of the type in the pool: the host's room after
// on-demand and every spot instance, capped by the operator's pool capacity.
absl::StatusOr<bool> PoolHasRoom(store::Tx& tx, const InstanceEnv& env, const store::Resource& pool,
                                 const InstanceType& type, int count, std::string_view skip_id) {
  ASSIGN_OR_RETURN(auto all, tx.ListAllResources(kInstanceType));
  spot::Room room = spot::RoomForSpot(env, all);
  int64_t held = 0;
  for (const auto& r : all) {
    std::string state = r.data.value("state", "");
    if (r.id == skip_id || !spot::IsSpot(r) || (state != "pending" && state != "running") ||
        spot::InNotice(r)) {
      continue;  // as in the round: instances on their way out are not counted
    }
    room.Take(r);
    if (r.region == pool.region && r.data.value("availability_zone", "") == pool.data["az"] &&
        r.data.value("instance_type", "") == type.name) {
      ++held;
    }
  }
  return spot::PoolSupply(pool, type, room, held) >= count;
}

// EC2 counts a request against the spot quota until it is closed, whether or not its instance
// still runs.
absl::Status CheckSpotQuota(store::Tx& tx, const Caller& caller, const InstanceEnv& env,
                            const InstanceType& type, int64_t count) {
  ASSIGN_OR_RETURN(auto reqs, tx.ListResources(caller.account_id, caller.region, kSpotRequestType));
  int64_t used = 0;
  for (const auto& r : reqs) {
    std::string s = r.data.value("state", "");
    if (s != "open" && s != "active" && s != "disabled") continue;
    const InstanceType* t = env.catalog->Find(r.data.value("instance_type", ""));
    used += t ? t->vcpus : 1;
  }
  if (used + count * type.vcpus > env.spot_vcpu_quota) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "MaxSpotInstanceCountExceeded",
                    "Max spot instance count exceeded");
  }
  return absl::OkStatus();
}

absl::Status NoSpotCapacity() {
  return Ec2Error(absl::StatusCode::kResourceExhausted, "InsufficientInstanceCapacity",
                  "There is no Spot capacity available that matches your request.");
}

}  // namespace

absl::StatusOr<json> RequestSpotInstances(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                          const InstanceEnv& env, const json& input) {
  int64_t count = input.value("InstanceCount", int64_t(1));
  if (count < 1 || count > 100) {
    return InvalidParameterValue("InstanceCount must be between 1 and 100");
  }
  std::string type = input.value("Type", "one-time");
  if (type != "one-time" && type != "persistent") {
    return InvalidParameterValue(fmt::format("Invalid value '{}' for Type", type));
  }
  std::string behavior = input.value("InstanceInterruptionBehavior", "terminate");
  if (behavior != "terminate" && behavior != "stop" && behavior != "hibernate") {
    return InvalidParameterValue(
        fmt::format("Invalid value '{}' for InstanceInterruptionBehavior", behavior));
  }
  if (behavior != "terminate" && type != "persistent") {
    return InvalidParameterCombination(
        "InstanceInterruptionBehavior stop and hibernate need a persistent request");
  }
  if (input.contains("BlockDurationMinutes")) {
    return Ec2Error(absl::StatusCode::kUnimplemented, "Unsupported",
                    "Spot blocks (BlockDurationMinutes) are no longer supported");
  }
  json launch = input.value("LaunchSpecification", json::object());
  if (launch.value("ImageId", "").empty()) {
    return MissingParameter("The request must contain the parameter LaunchSpecification.ImageId");
  }
  std::string type_name = launch.value("InstanceType", env.catalog->default_type());
  const InstanceType* itype = env.catalog->Find(type_name);
  if (!itype) {
    return InvalidParameterValue(
        fmt::format("The instance type '{}' is not supported on this host", type_name));
  }
  ASSIGN_OR_RETURN(std::string az, LaunchZone(tx, caller, launch));
  ASSIGN_OR_RETURN(
      Micros max,
      MaxPrice(input.contains("SpotPrice") ? input["SpotPrice"] : json(),
               Micros(std::llround(env.catalog->PricePerHour(*itype, caller.region) * 1e6))));
  int64_t now = UnixMillis(caller.now);
  ASSIGN_OR_RETURN(int64_t valid_from, TimeArg(input, "ValidFrom"));
  ASSIGN_OR_RETURN(int64_t valid_until, TimeArg(input, "ValidUntil"));
  if (input.contains("ValidFrom") && valid_from <= now) {
    return InvalidParameterValue("ValidFrom must be in the future");
  }
  if (input.contains("ValidUntil") && valid_until <= std::max(now, valid_from)) {
    return InvalidParameterValue("ValidUntil must be in the future and after ValidFrom");
  }
  // A one-time request lapses after 7 days unless told otherwise, as on EC2.
  if (!valid_until && type == "one-time") valid_until = now + int64_t(7) * 24 * 3600 * 1000;
  ASSIGN_OR_RETURN(auto tags, TagsFromSpecifications(input.value("TagSpecifications", json()),
                                                     "spot-instances-request"));
  RETURN_IF_ERROR(CheckSpotQuota(tx, caller, env, *itype, count));
  json out = json::array();
  for (int64_t i = 0; i < count; ++i) {
    store::Resource r{NewRequestId(ids),
                      caller.account_id,
                      caller.region,
                      std::string(kSpotRequestType),
                      "",
                      {{"max_micros", max},
                       {"type", type},
                       {"valid_from_ms", valid_from},
                       {"valid_until_ms", valid_until},
                       {"launch_group", input.value("LaunchGroup", "")},
                       {"az_group", input.value("AvailabilityZoneGroup", "")},
                       {"behavior", behavior},
                       {"launch", launch},
                       {"az", az},
                       {"instance_type", itype->name},
                       {"instance_id", ""},
                       {"launched_az", ""}},
                      0,
                      now};
    spot::SetStatus(r, "open", valid_from > now ? "not-scheduled-yet" : "pending-evaluation", now);
    RETURN_IF_ERROR(tx.InsertResource(r));
    RETURN_IF_ERROR(ApplyTags(tx, caller, r.id, "spot-instances-request", tags));
    std::vector<store::Tag> stored;
    for (const auto& t : tags) stored.push_back({r.id, "spot-instances-request", t.key, t.value});
    out.push_back(RequestJson(r, stored));
  }
  return json{{"SpotInstanceRequests", out}};
}

absl::StatusOr<json> DescribeSpotInstanceRequests(store::Tx& tx, const Caller& caller,
                                                  const json& input) {
  for (const auto& id : input.value("SpotInstanceRequestIds", json::array())) {
    RETURN_IF_ERROR(CheckRequestId(id.get<std::string>()));
  }
  static const DescribeSpec spec{kSpotRequestType,
                                 "SpotInstanceRequestIds",
                                 "SpotInstanceRequests",
                                 {"spot-instance-request-id",
                                  "state",
                                  "status-code",
                                  "status-message",
                                  "type",
                                  "spot-price",
                                  "create-time",
                                  "product-description",
                                  "instance-id",
                                  "launched-availability-zone",
                                  "launch-group",
                                  "availability-zone-group",
                                  "launch.image-id",
                                  "launch.instance-type",
                                  "launch.key-name",
                                  "launch.monitoring-enabled",
                                  "launch.group-id",
                                  "launch.group-name",
                                  "valid-from",
                                  "valid-until",
                                  "fault-code",
                                  "fault-message"},
                                 RequestFields,
                                 RequestJson,
                                 RequestNotFound};
  return DescribeResources(tx, caller, input, spec);
}

absl::StatusOr<json> CancelSpotInstanceRequests(store::Tx& tx, const Caller& caller,
                                                const json& input, bool terminate_instances) {
  std::vector<store::Resource> list;
  for (const auto& idj : input.value("SpotInstanceRequestIds", json::array())) {
    std::string id = idj;
    RETURN_IF_ERROR(CheckRequestId(id));
    auto r = tx.GetResource(caller.account_id, caller.region, id);
    if (absl::IsNotFound(r.status()) || (r.ok() && r->type != kSpotRequestType)) {
      return RequestNotFound(id);
    }
    RETURN_IF_ERROR(r.status());
    list.push_back(std::move(*r));
  }
  if (list.empty()) {
    return MissingParameter("The request must contain the parameter SpotInstanceRequestId");
  }
  int64_t now = UnixMillis(caller.now);
  json out = json::array();
  for (auto& r : list) {
    std::string state = r.data.value("state", ""), inst_id = r.data.value("instance_id", "");
    std::optional<store::Resource> inst;
    if (!inst_id.empty()) {
      auto got = tx.GetResource(r.account_id, r.region, inst_id);
      if (got.ok()) inst = std::move(*got);
    }
    bool stop_instance = false;
    if (state == "open") {
      spot::SetStatus(r, "cancelled", "canceled-before-fulfillment", now);
    } else if (state == "active") {
      spot::SetStatus(r, "cancelled", "request-canceled-and-instance-running", now);
      stop_instance = terminate_instances;
    } else if (state == "disabled") {
      // EC2 terminates the stopped instance of a cancelled disabled request.
      spot::SetStatus(r, "cancelled", "instance-terminated-by-service", now);
      stop_instance = true;
    }
    if (state == "open" || state == "active" || state == "disabled") {
      RETURN_IF_ERROR(tx.UpdateResource(r));
    }
    if (stop_instance && inst && inst->data.value("state", "") != "terminated" &&
        inst->data.value("desired", "") != "terminated") {
      inst->data["state"] = "shutting-down";
      inst->data["desired"] = "terminated";
      inst->data["transition_reason"] =
          fmt::format("User initiated ({} GMT)", FormatIso8601(caller.now).substr(0, 19));
      inst->data["state_reason"] = {
          {"code", "Client.UserInitiatedShutdown"},
          {"message", "Client.UserInitiatedShutdown: User initiated shutdown"}};
      if (state == "active") {
        spot::SetStatus(r, "cancelled", "instance-terminated-by-user", now);
        ++r.version;
        RETURN_IF_ERROR(tx.UpdateResource(r));
      }
      RETURN_IF_ERROR(SaveInstance(tx, *inst, UnixMillis(caller.now)));
    }
    out.push_back({{"SpotInstanceRequestId", r.id}, {"State", r.data.value("state", "")}});
  }
  return json{{"CancelledSpotInstanceRequests", out}};
}

absl::StatusOr<SpotLaunch> CheckSpotLaunch(store::Tx& tx, const Caller& caller,
                                           const InstanceEnv& env, const json& options,
                                           const InstanceType& type, const std::string& az,
                                           int count) {
  std::string market_type = options.value("MarketType", "");
  if (market_type != "spot") {
    return InvalidParameterValue(
        fmt::format("MarketType '{}' is not supported; use spot", market_type));
  }
  json so = options.value("SpotOptions", json::object());
  SpotLaunch l;
  l.type = so.value("SpotInstanceType", "one-time");
  l.behavior = so.value("InstanceInterruptionBehavior", "terminate");
  if (l.type != "one-time" && l.type != "persistent") {
    return InvalidParameterValue(fmt::format("Invalid SpotInstanceType '{}'", l.type));
  }
  if (l.behavior != "terminate" && l.behavior != "stop" && l.behavior != "hibernate") {
    return InvalidParameterValue(
        fmt::format("Invalid InstanceInterruptionBehavior '{}'", l.behavior));
  }
  if ((l.type == "persistent") != (l.behavior != "terminate")) {
    return InvalidParameterCombination(
        "A persistent spot request needs InstanceInterruptionBehavior stop or hibernate, and "
        "stop or hibernate needs a persistent request");
  }
  if (so.contains("BlockDurationMinutes")) {
    return Ec2Error(absl::StatusCode::kUnimplemented, "Unsupported",
                    "Spot blocks (BlockDurationMinutes) are no longer supported");
  }
  if (so.contains("ValidUntil")) {
    if (l.type != "persistent") {
      return InvalidParameterCombination("ValidUntil is supported only for persistent requests");
    }
    ASSIGN_OR_RETURN(l.valid_until_ms, TimeArg(so, "ValidUntil"));
    if (l.valid_until_ms <= UnixMillis(caller.now)) {
      return InvalidParameterValue("ValidUntil must be in the future");
    }
  }
  ASSIGN_OR_RETURN(store::Resource pool, spot::GetPool(tx, {caller.region, az, type.name}));
  ASSIGN_OR_RETURN(l.max_price, MaxPrice(so.contains("MaxPrice") ? so["MaxPrice"] : json(),
                                         pool.data.value("od_micros", Micros(0))));
  Micros price = pool.data.value("price_micros", Micros(0));
  if (l.max_price < price) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "SpotMaxPriceTooLow",
                    fmt::format("Your Spot request price of {} is lower than the minimum required "
                                "Spot request fulfillment price of {}.",
                                FormatPriceShort(l.max_price), FormatPriceShort(price)));
  }
  RETURN_IF_ERROR(CheckSpotQuota(tx, caller, env, type, count));
  ASSIGN_OR_RETURN(bool room, PoolHasRoom(tx, env, pool, type, count, ""));
  if (!room) return NoSpotCapacity();
  return l;
}

absl::Status MarkSpotLaunch(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                            const SpotLaunch& launch, store::Resource& instance) {
  int64_t now = UnixMillis(caller.now);
  const json& d = instance.data;
  json spec = {{"ImageId", d.value("image_id", "")}};
  if (!d.value("key_name", "").empty()) spec["KeyName"] = d["key_name"];
  spec["SubnetId"] = d.value("subnet_id", "");
  json group_ids = json::array();
  for (const auto& g : d.value("groups", json::array())) group_ids.push_back(g.value("id", ""));
  spec["SecurityGroupIds"] = group_ids;
  store::Resource r{NewRequestId(ids),
                    caller.account_id,
                    caller.region,
                    std::string(kSpotRequestType),
                    "",
                    {{"max_micros", launch.max_price},
                     {"type", launch.type},
                     {"valid_from_ms", 0},
                     {"valid_until_ms", launch.valid_until_ms},
                     {"behavior", launch.behavior},
                     {"launch", spec},
                     {"az", d.value("availability_zone", "")},
                     {"instance_type", d.value("instance_type", "")},
                     {"instance_id", instance.id},
                     {"launched_az", d.value("availability_zone", "")},
                     {"via_run_instances", true}},
                    0,
                    now};
  spot::SetStatus(r, "active", "fulfilled", now);
  RETURN_IF_ERROR(tx.InsertResource(r));
  instance.data["instance_lifecycle"] = "spot";
  instance.data["spot_request_id"] = r.id;
  instance.data["spot_max_micros"] = launch.max_price;
  return absl::OkStatus();
}

absl::Status SpotOnUserTerminate(store::Tx& tx, const Caller& caller, const store::Resource& i) {
  if (!spot::IsSpot(i)) return absl::OkStatus();
  auto req = RequestOf(tx, i);
  if (!req.ok() || req->data.value("instance_id", "") != i.id) return absl::OkStatus();
  std::string state = req->data.value("state", "");
  bool persistent = req->data.value("type", "") == "persistent";
  int64_t now = UnixMillis(caller.now);
  if (state == "active" || state == "disabled") {
    spot::SetStatus(*req, persistent ? "open" : "closed", "instance-terminated-by-user", now);
  } else if (state == "cancelled" &&
             req->data.value("status_code", "") == "request-canceled-and-instance-running") {
    spot::SetStatus(*req, "cancelled", "instance-terminated-by-user", now);
  } else {
    return absl::OkStatus();
  }
  return tx.UpdateResource(*req);
}

absl::Status SpotOnUserStop(store::Tx& tx, const Caller& caller, const store::Resource& i) {
  if (!spot::IsSpot(i)) return absl::OkStatus();
  auto req = RequestOf(tx, i);
  if (!req.ok()) return absl::OkStatus();
  if (req->data.value("type", "") != "persistent") {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "UnsupportedOperation",
                    fmt::format("You can't stop the Spot Instance '{}' because it is associated "
                                "with a one-time Spot Instance request. You can only stop Spot "
                                "Instances associated with persistent Spot Instance requests.",
                                i.id));
  }
  if (req->data.value("state", "") != "active" || req->data.value("instance_id", "") != i.id) {
    return absl::OkStatus();
  }
  spot::SetStatus(*req, "disabled", "instance-stopped-by-user", UnixMillis(caller.now));
  return tx.UpdateResource(*req);
}

absl::Status SpotOnUserStart(store::Tx& tx, const Caller& caller, const InstanceEnv& env,
                             const store::Resource& i) {
  if (!spot::IsSpot(i)) return absl::OkStatus();
  auto req = RequestOf(tx, i);
  if (!req.ok()) return absl::OkStatus();
  const InstanceType* type = env.catalog->Find(i.data.value("instance_type", ""));
  auto pool = spot::GetPool(
      tx, {i.region, i.data.value("availability_zone", ""), i.data.value("instance_type", "")});
  bool room = false;
  if (type && pool.ok()) {
    ASSIGN_OR_RETURN(room, PoolHasRoom(tx, env, *pool, *type, 1, i.id));
  }
  if (!room) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "InsufficientInstanceCapacity",
                    fmt::format("You can't start the Spot Instance '{}' because there is no "
                                "available Spot capacity.",
                                i.id));
  }
  if (req->data.value("state", "") != "disabled" || req->data.value("instance_id", "") != i.id) {
    return absl::OkStatus();
  }
  spot::SetStatus(*req, "active", "fulfilled", UnixMillis(caller.now));
  return tx.UpdateResource(*req);
}

absl::Status InterruptSpotInstance(store::Tx& tx, const std::string& instance_id,
                                   const std::string& reason, TimePoint now) {
  if (reason != "capacity" && reason != "price" && reason != "experiment") {
    return InvalidParameterValue("reason must be capacity, price or experiment");
  }
  ASSIGN_OR_RETURN(auto all, tx.ListAllResources(kInstanceType));
  for (auto& i : all) {
    if (i.id != instance_id) continue;
    if (!spot::IsSpot(i)) return InvalidParameterValue(instance_id + " is not a spot instance");
    if (i.data.value("state", "") != "running" && i.data.value("state", "") != "pending") {
      return InvalidParameterValue(instance_id + " is not running");
    }
    if (spot::InNotice(i)) return InvalidParameterValue(instance_id + " is already interrupted");
    ASSIGN_OR_RETURN(store::Resource req, RequestOf(tx, i));
    return spot::Interrupt(tx, i, req, reason, UnixMillis(now));
  }
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidInstanceID.NotFound",
                  fmt::format("The instance ID '{}' does not exist", instance_id));
}

absl::Status RecommendRebalance(store::Tx& tx, const std::string& instance_id, TimePoint now) {
  ASSIGN_OR_RETURN(auto all, tx.ListAllResources(kInstanceType));
  for (auto& i : all) {
    if (i.id != instance_id) continue;
    if (!spot::IsSpot(i)) return InvalidParameterValue(instance_id + " is not a spot instance");
    i.data["rebalance_ms"] = UnixMillis(now);
    return SaveInstance(tx, i, UnixMillis(now));
  }
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidInstanceID.NotFound",
                  fmt::format("The instance ID '{}' does not exist", instance_id));
}

}  // namespace kumo::services

// Spot pools, their price history (DescribeSpotPriceHistory), capacity for spot, and the
// operator's pool settings.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/filters.h"
#include "services/images.h"
#include "services/metering.h"
#include "services/pagination.h"
#include "services/spot.h"
#include "services/spot_internal.h"

namespace kumo::services {

using market::Micros;
using nlohmann::json;

std::string FormatPrice(Micros m) { return fmt::format("{}.{:06d}", m / 1000000, m % 1000000); }

std::string FormatPriceShort(Micros m) {
  std::string s = FormatPrice(m);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

bool ParsePrice(const std::string& s, Micros* out) {
  size_t dot = s.find('.');
  std::string whole = s.substr(0, dot), frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  if ((whole.empty() && frac.empty()) || whole.size() > 6 ||
      whole.find_first_not_of("0123456789") != std::string::npos ||
      frac.find_first_not_of("0123456789") != std::string::npos ||
      (dot != std::string::npos && frac.empty())) {
    return false;
  }
  // Digits past the sixth decimal are below a micro-dollar: EC2 rounds prices too.
  frac = frac.substr(0, std::min<size_t>(frac.size(), 6));
  frac.resize(6, '0');
  *out = (whole.empty() ? 0 : std::stoll(whole)) * 1000000 + std::stoll(frac);
  return true;
}

namespace spot {

std::string PoolName(std::string_view az, std::string_view type) {
  return fmt::format("{}/{}", az, type);
}

absl::StatusOr<store::Resource> GetPool(store::Tx& tx, const PoolKey& key) {
  ASSIGN_OR_RETURN(auto pool, tx.FindResourceByName(kOperatorOwnerId, key.region, kSpotPoolType,
                                                    PoolName(key.az, key.instance_type)));
  if (!pool) {
    return Ec2Error(
        absl::StatusCode::kNotFound, "InvalidParameterValue",
        fmt::format("No spot pool for {} in {} ({})", key.instance_type, key.az, key.region));
  }
  return *pool;
}

absl::Status SetPoolPrice(store::Tx& tx, store::Resource& pool, Micros price, int64_t at_ms) {
  if (pool.data.value("price_micros", Micros(-1)) == price) return absl::OkStatus();
  int64_t seq = pool.data.value("history_seq", int64_t(0)) + 1;
  pool.data["price_micros"] = price;
  pool.data["price_ms"] = at_ms;
  pool.data["history_seq"] = seq;
  store::Resource h{fmt::format("sph-{}-{}", pool.name, seq),
                    pool.account_id,
                    pool.region,
                    std::string(kSpotPriceType),
                    "",
                    {{"az", pool.data["az"]},
                     {"instance_type", pool.data["instance_type"]},
                     {"product", pool.data["product"]},
                     {"price_micros", price},
                     {"ts_ms", at_ms}},
                    0,
                    at_ms};
  RETURN_IF_ERROR(tx.InsertResource(h));
  // The ledger keeps its own copy: history is pruned after 90 days, bills are not.
  RETURN_IF_ERROR(RecordSpotPrice(tx, pool.region, pool.data.value("az", ""),
                                  pool.data.value("instance_type", ""), price, at_ms));
  RETURN_IF_ERROR(tx.UpdateResource(pool));
  ++pool.version;
  return absl::OkStatus();
}

void Room::Take(const store::Resource& r, int64_t n) {
  vcpus -= n * r.data.value("vcpus", 1);
  mib -= n * r.data.value("memory_mib", int64_t(0));
  gpus -= n * r.data.value("gpus", 0);
}

void Room::Take(int64_t instance_vcpus, int64_t instance_mib, int64_t instance_gpus) {
  vcpus -= instance_vcpus;
  mib -= instance_mib;
  gpus -= instance_gpus;
}

void Room::Take(const InstanceType& t, int64_t n) {
  vcpus -= n * t.vcpus;
  mib -= n * t.memory_mib;
  gpus -= n * t.gpu_count;
}

int64_t Room::Fits(const InstanceType& t) const {
  int64_t n = std::max<int64_t>(0, vcpus) / std::max(1, t.vcpus);
  if (t.memory_mib > 0) n = std::min(n, std::max<int64_t>(0, mib) / t.memory_mib);
  if (t.gpu_count > 0) n = std::min(n, std::max<int64_t>(0, gpus) / t.gpu_count);
  return n;
}

bool IsSpot(const store::Resource& r) { return r.data.value("instance_lifecycle", "") == "spot"; }

bool HoldsCapacity(const store::Resource& r) {
  std::string s = r.data.value("state", "");
  return s == "pending" || s == "running" || s == "stopping" || s == "shutting-down";
}

bool InNotice(const store::Resource& r) {
  const json& a = r.data.contains("spot_action") ? r.data["spot_action"] : json();
  return a.is_object() && !a.value("done", false);
}

Room RoomForSpot(const InstanceEnv& env, const std::vector<store::Resource>& instances) {
  Room room{int64_t(env.host_cpus * env.cpu_ratio),
            int64_t(double(env.host_memory_mib) * env.ram_ratio), int64_t(env.gpus.size())};
  for (const auto& r : instances) {
    if (HoldsCapacity(r) && !IsSpot(r)) room.Take(r);
  }
  return room;
}

int64_t PoolSupply(const store::Resource& pool, const InstanceType& type, const Room& room,
                   int64_t held_in_pool) {
  int64_t n = room.Fits(type);
  const json& cap = pool.data.contains("capacity") ? pool.data["capacity"] : json();
  if (cap.is_number_integer())
    n = std::min(n, std::max<int64_t>(0, cap.get<int64_t>() - held_in_pool));
  return n;
}

}  // namespace spot

absl::Status EnsureSpotPools(store::Tx& tx, const InstanceEnv& env, const Regions& regions,
                             TimePoint now) {
  int64_t now_ms = UnixMillis(now);
  for (const auto& region : regions.names()) {
    ASSIGN_OR_RETURN(auto existing, tx.ListResources(kOperatorOwnerId, region, kSpotPoolType));
    std::set<std::string> have;
    for (const auto& p : existing) have.insert(p.name);
    for (const auto& az : regions.Zones(region)) {
      for (const auto& type : env.catalog->types()) {
        std::string name = spot::PoolName(az, type.name);
        if (have.count(name)) continue;
        Micros od = Micros(std::llround(env.catalog->PricePerHour(type, region) * 1e6));
        // The reserve: 0.30 × On-Demand, the floor of the smoothed mode too, …
        // rounded up to EC2's 0.0001 step so it is never below 0.30 × On-Demand.
        Micros reserve = std::max<Micros>(kMinSpotPrice, (od * 3 / 10 + 99) / 100 * 100);
        store::Resource pool{fmt::format("spool-{}", name),
                             std::string(kOperatorOwnerId),
                             region,
                             std::string(kSpotPoolType),
                             name,
                             {{"az", az},
                              {"instance_type", type.name},
                              {"product", kSpotProduct},
                              {"od_micros", od},
                              {"default_reserve_micros", reserve},
                              {"reserve_micros", reserve},
                              {"capacity", nullptr}},
                             0,
                             now_ms};
        RETURN_IF_ERROR(tx.InsertResource(pool));
        pool.version = 1;  // what InsertResource stored
        RETURN_IF_ERROR(spot::SetPoolPrice(tx, pool, reserve, now_ms));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<json> DescribeSpotPriceHistory(store::Tx& tx, const Caller& caller,
                                              const json& input) {
  static const std::set<std::string, std::less<>> kNames = {
      "availability-zone",   "availability-zone-id", "instance-type",
      "product-description", "spot-price",           "timestamp"};
  ASSIGN_OR_RETURN(FilterSet filters,
                   FilterSet::Parse(input.value("Filters", json()), kNames, /*taggable=*/false));
  ASSIGN_OR_RETURN(PageRequest page_req, ParsePageRequest(input, 1, 10000));
  ASSIGN_OR_RETURN(PageBounds bounds, DecodePage(page_req));
  if (!page_req.max_results) bounds.limit = 1000;
  std::string zone = input.value("AvailabilityZone", ""),
              zone_id = input.value("AvailabilityZoneId", "");
  if (!zone.empty() && !zone_id.empty()) {
    return InvalidParameterCombination(
        "Only one of AvailabilityZone and AvailabilityZoneId may be specified");
  }
  int64_t now_ms = UnixMillis(caller.now);
  int64_t start_ms = now_ms - kHistoryKeepMs, end_ms = now_ms;
  bool has_start = false;
  auto time_arg = [&](const char* name, int64_t* out) -> absl::Status {
    if (!input.contains(name)) return absl::OkStatus();
    TimePoint t;
    if (!ParseIso8601(input.value(name, ""), &t)) {
      return InvalidParameterValue(fmt::format("Invalid value for {}", name));
    }
    *out = UnixMillis(t);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(time_arg("StartTime", &start_ms));
  RETURN_IF_ERROR(time_arg("EndTime", &end_ms));
  has_start = input.contains("StartTime");
  if (start_ms > end_ms) {
    return InvalidParameterValue("The StartTime must be before the EndTime");
  }
  // At most 90 days back, and nothing from the future.
  start_ms = std::max(start_ms, now_ms - kHistoryKeepMs);
  end_ms = std::min(end_ms, now_ms);
  std::set<std::string> types, products;
  for (const auto& t : input.value("InstanceTypes", json::array())) types.insert(t);
  for (const auto& p : input.value("ProductDescriptions", json::array())) products.insert(p);

  ASSIGN_OR_RETURN(auto all, tx.ListResources(kOperatorOwnerId, caller.region, kSpotPriceType));
  auto zone_id_of = [&](const std::string& az) {
    return Regions::ZoneId(caller.region, az.empty() ? 0 : az.back() - 'a');
  };
  struct Row {
    std::string key;
    json item;
  };
  std::vector<const store::Resource*> picked;
  // The last change before StartTime, per pool: the price in effect when the window opens.
  std::map<std::string, std::pair<int64_t, const store::Resource*>> before;
  for (const auto& r : all) {
    std::string az = r.data.value("az", ""), type = r.data.value("instance_type", ""),
                product = r.data.value("product", "");
    int64_t ts = r.data.value("ts_ms", int64_t(0));
    if (ts > end_ms) continue;
    if (!zone.empty() && az != zone) continue;
    if (!zone_id.empty() && zone_id_of(az) != zone_id) continue;
    if (!types.empty() && !types.count(type)) continue;
    if (!products.empty() && !products.count(product)) continue;
    if (ts >= start_ms) {
      picked.push_back(&r);
    } else if (has_start) {
      auto& b = before[az + "/" + type + "/" + product];
      if (!b.second || ts > b.first) b = {ts, &r};
    }
  }
  for (const auto& [_, b] : before) picked.push_back(b.second);

  std::vector<Row> out;
  for (const store::Resource* r : picked) {
    std::string az = r->data.value("az", "");
    int64_t ts = r->data.value("ts_ms", int64_t(0));
    json item = {{"AvailabilityZone", az},
                 {"AvailabilityZoneId", zone_id_of(az)},
                 {"InstanceType", r->data.value("instance_type", "")},
                 {"ProductDescription", r->data.value("product", "")},
                 {"SpotPrice", FormatPrice(r->data.value("price_micros", Micros(0)))},
                 {"Timestamp", FormatIso8601(FromUnixMillis(ts))}};
    FilterFields f = {{"availability-zone", az},
                      {"availability-zone-id", item["AvailabilityZoneId"]},
                      {"instance-type", item["InstanceType"]},
                      {"product-description", item["ProductDescription"]},
                      {"spot-price", item["SpotPrice"]},
                      {"timestamp", item["Timestamp"]}};
    if (!filters.Matches(f, {})) continue;
    // Newest first, then zone, type and product: a key that sorts ascending in that order.
    std::string key = fmt::format("{:016d}|{}|{}|{}", INT64_MAX / 1000 - ts, az,
                                  r->data.value("instance_type", ""), r->id);
    out.push_back({key, std::move(item)});
  }
  std::sort(out.begin(), out.end(), [](const Row& a, const Row& b) { return a.key < b.key; });
  std::string next;
  auto page = TakePage(
      std::move(out), bounds, [](const Row& r) { return r.key; }, &next);
  json items = json::array();
  for (auto& r : page) items.push_back(std::move(r.item));
  json result = {{"SpotPriceHistory", items}};
  if (!next.empty()) result["NextToken"] = next;
  return result;
}

absl::Status SetPoolReserve(store::Tx& tx, const PoolKey& key, Micros price) {
  ASSIGN_OR_RETURN(store::Resource pool, spot::GetPool(tx, key));
  if (price != 0 && price < kMinSpotPrice) {
    return InvalidParameterValue("The price must be at least 0.001");
  }
  pool.data["reserve_micros"] =
      price == 0 ? pool.data.value("default_reserve_micros", Micros(0)) : price;
  return tx.UpdateResource(pool);
}

absl::StatusOr<int> PurgePriceHistory(store::Tx& tx, TimePoint now) {
  int64_t cutoff = UnixMillis(now) - kHistoryKeepMs;
  ASSIGN_OR_RETURN(auto all, tx.ListAllResources(kSpotPriceType));
  // The newest record of each pool stays whatever its age: it is the price in effect.
  std::map<std::string, int64_t> newest;
  for (const auto& r : all) {
    std::string pool =
        r.region + "/" + r.data.value("az", "") + "/" + r.data.value("instance_type", "");
    int64_t& n = newest[pool];
    n = std::max(n, r.data.value("ts_ms", int64_t(0)));
  }
  int removed = 0;
  for (const auto& r : all) {
    int64_t ts = r.data.value("ts_ms", int64_t(0));
    std::string pool =
        r.region + "/" + r.data.value("az", "") + "/" + r.data.value("instance_type", "");
    if (ts >= cutoff || ts == newest[pool]) continue;
    RETURN_IF_ERROR(tx.DeleteResource(r.account_id, r.region, r.id));
    ++removed;
  }
  return removed;
}

absl::Status SetPricingMode(store::Tx& tx, const std::string& region, const std::string& mode) {
  if (mode != "auction" && mode != "smoothed" && mode != "ar1") {
    return InvalidParameterValue("mode must be auction, smoothed or ar1");
  }
  ASSIGN_OR_RETURN(auto cfg,
                   tx.FindResourceByName(kOperatorOwnerId, region, kSpotConfigType, "config"));
  if (!cfg) {
    return tx.InsertResource({fmt::format("spot-config-{}", region),
                              std::string(kOperatorOwnerId),
                              region,
                              std::string(kSpotConfigType),
                              "config",
                              {{"mode", mode}},
                              0,
                              0});
  }
  cfg->data["mode"] = mode;
  return tx.UpdateResource(*cfg);
}

absl::Status SetPoolCapacity(store::Tx& tx, const PoolKey& key, std::optional<int64_t> slots) {
  ASSIGN_OR_RETURN(store::Resource pool, spot::GetPool(tx, key));
  if (slots && *slots < 0) return InvalidParameterValue("Capacity must not be negative");
  pool.data["capacity"] = slots ? json(*slots) : json();
  return tx.UpdateResource(pool);
}

}  // namespace kumo::services

// The market round (specs/spot.md §1.4, §4.1): carry out due notices, lapse requests past
// ValidUntil, then clear every pool in auction mode — the running spot instances and the open
// requests bid their maximum prices for the slots the host has left after on-demand; winners
// launch (or, stopped by an interruption, restart), losing instances get the 2-minute notice.
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "common/errors.h"
#include "common/status_macros.h"
#include "market/pricing.h"
#include "services/images.h"
#include "services/spot.h"
#include "services/spot_internal.h"

namespace kumo::services {

using market::Micros;
using nlohmann::json;

namespace {

constexpr int64_t kForgetClosedMs = int64_t(4) * 3600 * 1000;

struct Bidder {
  enum Kind { kInstance, kRequest, kRestart } kind;
  market::Bid bid;
  store::Resource* inst = nullptr;
  store::Resource* req = nullptr;
};

struct Book {
  std::vector<Bidder> bidders;
  int64_t held = 0;  // running spot instances of the pool that hold capacity without bidding
};

std::string BookKey(std::string_view region, std::string_view az, std::string_view type) {
  return fmt::format("{}|{}", region, spot::PoolName(az, type));
}

absl::Status Save(store::Tx& tx, store::Resource& r) {
  RETURN_IF_ERROR(tx.UpdateResource(r));
  ++r.version;
  return absl::OkStatus();
}

bool Open(const store::Resource& req, int64_t now_ms) {
  return req.data.value("state", "") == "open" &&
         req.data.value("valid_from_ms", int64_t(0)) <= now_ms;
}

// Who bids in each pool: its running spot instances and its open requests, and the stopped
// instances the market may restart; `room` is what the host has left for them.
std::map<std::string, Book> Gather(std::vector<store::Resource>& instances,
                                   const std::vector<store::Resource*>& requests, int64_t now_ms,
                                   spot::Room& room) {
  std::map<std::string, Book> books;
  std::map<std::string, store::Resource*> req_by_id, inst_by_id;
  for (store::Resource* r : requests) req_by_id[r->id] = r;
  for (auto& i : instances) inst_by_id[i.id] = &i;
  for (auto& i : instances) {
    if (!spot::IsSpot(i) || !spot::HoldsCapacity(i)) continue;
    // Instances on their way out (in their notice, stopping, shutting down) are not counted:
    // their room is already given back, or a reclaimed slot would evict a second bidder.
    std::string state = i.data.value("state", "");
    if ((state != "pending" && state != "running") || spot::InNotice(i)) continue;
    std::string key =
        BookKey(i.region, i.data.value("availability_zone", ""), i.data.value("instance_type", ""));
    auto it = req_by_id.find(i.data.value("spot_request_id", ""));
    if (it == req_by_id.end() || it->second->data.value("instance_id", "") != i.id) {
      room.Take(i);  // a request we cannot see any more: it keeps its room, bidding nothing
      ++books[key].held;
      continue;
    }
    books[key].bidders.push_back(
        {Bidder::kInstance,
         {i.id, i.data.value("spot_max_micros", Micros(0)), it->second->created_ms},
         &i,
         it->second});
  }
  for (store::Resource* rp : requests) {
    store::Resource& r = *rp;
    std::string key = BookKey(r.region, r.data.value("az", ""), r.data.value("instance_type", ""));
    market::Bid bid{r.id, r.data.value("max_micros", Micros(0)), r.created_ms};
    if (Open(r, now_ms)) {
      books[key].bidders.push_back({Bidder::kRequest, bid, nullptr, &r});
    } else if (r.data.value("state", "") == "disabled" && r.data.value("market_restart", false)) {
      auto it = inst_by_id.find(r.data.value("instance_id", ""));
      if (it != inst_by_id.end() && it->second->data.value("state", "") == "stopped") {
        books[key].bidders.push_back({Bidder::kRestart, bid, it->second, &r});
      }
    }
  }
  return books;
}

// Carries out the interruption whose notice has run out.
absl::Status Execute(store::Tx& tx, store::Resource& inst, store::Resource* req, int64_t now_ms,
                     bool* changed) {
  json& a = inst.data["spot_action"];
  a["done"] = true;
  std::string action = a.value("action", "terminate"), reason = a.value("reason", "capacity");
  std::string state = inst.data.value("state", "");
  if (state == "pending" || state == "running") {
    std::string when = FormatIso8601(FromUnixMillis(now_ms)).substr(0, 19);
    if (action == "terminate") {
      inst.data["state"] = "shutting-down";
      inst.data["desired"] = "terminated";
      inst.data["transition_reason"] = fmt::format("Service initiated ({} GMT)", when);
      inst.data["state_reason"] = {
          {"code", "Server.SpotInstanceTermination"},
          {"message", "Server.SpotInstanceTermination: Spot instance termination"}};
    } else {
      inst.data["state"] = "stopping";
      inst.data["desired"] = "stopped";
      inst.data["force_stop"] = false;
      inst.data["stop_requested_ms"] = now_ms;
      inst.data["transition_reason"] = fmt::format("Service initiated ({} GMT)", when);
      inst.data["state_reason"] = {
          {"code", "Server.SpotInstanceShutdown"},
          {"message", "Server.SpotInstanceShutdown: Spot instance shutdown"}};
    }
    *changed = true;
  }
  RETURN_IF_ERROR(Save(tx, inst));
  if (!req || req->data.value("instance_id", "") != inst.id ||
      req->data.value("state", "") == "cancelled") {
    return absl::OkStatus();
  }
  bool persistent = req->data.value("type", "") == "persistent";
  if (action == "terminate") {
    if (req->data.value("status_code", "") == "marked-for-termination") {
      spot::SetStatus(*req, persistent ? "open" : "closed", "instance-terminated-by-price", now_ms);
    }
  } else {
    std::string code = reason == "price"        ? "instance-stopped-by-price"
                       : reason == "experiment" ? "instance-stopped-by-experiment"
                                                : "instance-stopped-no-capacity";
    spot::SetStatus(*req, "disabled", code, now_ms);
    // Only EC2 restarts what it stopped; what an experiment stopped waits for its user.
    req->data["market_restart"] = reason != "experiment";
  }
  return Save(tx, *req);
}

absl::Status Fulfil(store::Tx& tx, IdGenerator& ids, const InstanceEnv& env, store::Resource& req,
                    int64_t now_ms, RoundResult* result) {
  json input = req.data.value("launch", json::object());
  input["InstanceType"] = req.data.value("instance_type", "");
  input["MinCount"] = 1;
  input["MaxCount"] = 1;
  if (!input.contains("SubnetId")) input["Placement"] = {{"AvailabilityZone", req.data["az"]}};
  input["_Spot"] = {{"request_id", req.id}, {"max_micros", req.data["max_micros"]}};
  Caller caller{req.account_id, req.region, "spot-" + req.id, FromUnixMillis(now_ms)};
  auto launched = RunInstances(tx, caller, ids, env, input);
  if (!launched.ok()) {
    std::string code = Ec2CodeOf(launched.status());
    if (code == "InsufficientInstanceCapacity" || code == "InsufficientAddressCapacity") {
      spot::SetStatus(req, "open", "capacity-not-available", now_ms);
    } else if (code == "VcpuLimitExceeded") {
      spot::SetStatus(req, "open", "limit-exceeded", now_ms,
                      std::string(launched.status().message()));
    } else {
      spot::SetStatus(
          req, "failed", "bad-parameters", now_ms,
          fmt::format("Your Spot request failed: {}", std::string(launched.status().message())));
      req.data["fault"] = {{"code", code}, {"message", std::string(launched.status().message())}};
    }
    return Save(tx, req);
  }
  req.data["instance_id"] = (*launched)["Instances"].at(0).value("InstanceId", "");
  req.data["launched_az"] = req.data["az"];
  spot::SetStatus(req, "active", "fulfilled", now_ms);
  ++result->fulfilled;
  result->instances_changed = true;
  return Save(tx, req);
}

absl::Status Restart(store::Tx& tx, const InstanceEnv& env, store::Resource& inst,
                     store::Resource& req, int64_t now_ms, RoundResult* result) {
  Caller caller{req.account_id, req.region, "spot-" + req.id, FromUnixMillis(now_ms)};
  RETURN_IF_ERROR(
      StartInstances(tx, caller, env, {{"InstanceIds", {inst.id}}, {"_Market", true}}).status());
  req.data["market_restart"] = false;
  spot::SetStatus(req, "active", "fulfilled", now_ms);
  result->instances_changed = true;
  return Save(tx, req);
}

// The pool's price in its region's mode, and who wins its slots. auction: the (K+1)-th bid over
// the reserve. ar1: the same over the AR(1) hidden reserve, walked up to now. smoothed: the
// published price, which only moves at hourly publications; bids at or above it win by rank.
absl::StatusOr<market::Clearing> ClearPool(store::Tx& tx, store::Resource& pool,
                                           const std::string& mode, std::vector<market::Bid> bids,
                                           int64_t supply, int64_t now_ms,
                                           const std::function<void(int64_t)>& due) {
  Micros reserve = pool.data.value("reserve_micros", Micros(0));
  Micros od = pool.data.value("od_micros", Micros(0));
  if (mode == "ar1") {
    // The band: the reserve and 0.10 × On-Demand above it (the paper's [0.40, 0.45] is as
    // narrow).
    Micros ceiling = reserve + std::max<Micros>(od / 10, 1000);
    json st = pool.data.value("ar1", json());
    market::Ar1State s;
    if (st.is_object() && st.value("floor", Micros(0)) == reserve) {
      s = {st.value("price", reserve), st.value("delta", Micros(0)), st.value("next_ms", now_ms),
           st.value("rng", uint64_t(0))};
    } else {
      s = market::Ar1Start(reserve, ceiling, now_ms, std::hash<std::string>()(pool.id));
    }
    // Catch up with the redraws since the last round, each recorded at its own time.
    for (int steps = 0; s.next_ms <= now_ms && steps < 100000; ++steps) {
      int64_t at = s.next_ms;
      market::Ar1Step(s, reserve, ceiling);
      RETURN_IF_ERROR(spot::SetPoolPrice(tx, pool, s.price, at));
    }
    pool.data["ar1"] = {{"floor", reserve},
                        {"price", s.price},
                        {"delta", s.delta},
                        {"next_ms", s.next_ms},
                        {"rng", s.rng}};
    market::Clearing c = market::ClearAuction(std::move(bids), supply, s.price);
    RETURN_IF_ERROR(spot::SetPoolPrice(tx, pool, c.price, now_ms));
    RETURN_IF_ERROR(tx.UpdateResource(pool));
    ++pool.version;
    return c;
  }
  if (mode == "smoothed") {
    market::SmoothedParams params;
    params.r_min = od > 0 ? std::min(1.0, double(reserve) / double(od)) : params.r_min;
    json st = pool.data.value("smoothed", json());
    market::SmoothedState s{0, now_ms, now_ms};
    if (st.is_object()) {
      s = {st.value("u_bar", 0.0), st.value("tick_ms", now_ms), st.value("published_ms", now_ms)};
    }
    int64_t demand = int64_t(bids.size());
    market::SmoothedTick(s, now_ms, demand, supply, params);
    Micros price = pool.data.value("price_micros", reserve);
    while (s.published_ms + params.publish_ms <= now_ms) {
      s.published_ms += params.publish_ms;
      price = market::SmoothedPublish(s, price, od, params);
      RETURN_IF_ERROR(spot::SetPoolPrice(tx, pool, price, s.published_ms));
    }
    due(s.published_ms + params.publish_ms);
    pool.data["smoothed"] = {
        {"u_bar", s.u_bar}, {"tick_ms", s.tick_ms}, {"published_ms", s.published_ms}};
    RETURN_IF_ERROR(tx.UpdateResource(pool));
    ++pool.version;
    // Interruptions are decoupled from the price except below it: rank by bid, cut at supply.
    market::Clearing c = market::ClearAuction(std::move(bids), supply, price);
    c.price = price;
    return c;
  }
  market::Clearing c = market::ClearAuction(std::move(bids), supply, reserve);
  RETURN_IF_ERROR(spot::SetPoolPrice(tx, pool, c.price, now_ms));
  return c;
}

// Re-reads only the requests whose row version changed since the last round (and drops the
// deleted ones): parsing every request's JSON each round was nearly all of a round's time.
absl::Status RefreshRequests(store::Tx& tx, MarketCache& cache) {
  ASSIGN_OR_RETURN(auto versions, tx.ListResourceVersions(kSpotRequestType));
  std::map<std::string, store::Resource> next;
  for (auto& v : versions) {
    auto it = cache.requests.find(v.id);
    if (it != cache.requests.end() && it->second.version == v.version) {
      next.emplace_hint(next.end(), v.id, std::move(it->second));
      continue;
    }
    ASSIGN_OR_RETURN(store::Resource r, tx.GetResource(v.account_id, v.region, v.id));
    next.emplace_hint(next.end(), v.id, std::move(r));
  }
  cache.requests = std::move(next);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RoundResult> RunMarketRound(store::Tx& tx, IdGenerator& ids, const InstanceEnv& env,
                                           TimePoint now, MarketCache* cache) {
  int64_t now_ms = UnixMillis(now);
  RoundResult result;
  auto due = [&](int64_t t) {
    if (t > now_ms && (result.next_due_ms == 0 || t < result.next_due_ms)) result.next_due_ms = t;
  };
  ASSIGN_OR_RETURN(auto instances, tx.ListAllResources(kInstanceType));
  std::vector<store::Resource> owned;
  std::vector<store::Resource*> requests;
  if (cache) {
    RETURN_IF_ERROR(RefreshRequests(tx, *cache));
    requests.reserve(cache->requests.size());
    for (auto& [id, r] : cache->requests) requests.push_back(&r);
  } else {
    ASSIGN_OR_RETURN(owned, tx.ListAllResources(kSpotRequestType));
    for (auto& r : owned) requests.push_back(&r);
  }
  ASSIGN_OR_RETURN(auto pools, tx.ListAllResources(kSpotPoolType));
  std::map<std::string, store::Resource*> req_by_id, inst_by_id;
  for (store::Resource* r : requests) req_by_id[r->id] = r;
  for (auto& i : instances) inst_by_id[i.id] = &i;

  // Notices that have run out.
  for (auto& i : instances) {
    if (!spot::InNotice(i)) continue;
    int64_t t = i.data["spot_action"].value("time_ms", int64_t(0));
    if (t > now_ms) {
      due(t);
      continue;
    }
    auto it = req_by_id.find(i.data.value("spot_request_id", ""));
    RETURN_IF_ERROR(Execute(tx, i, it == req_by_id.end() ? nullptr : it->second, now_ms,
                            &result.instances_changed));
  }

  // Requests' schedules, and forgetting closed ones after 4 hours (EC2's rule).
  std::vector<store::Resource*> live;
  std::vector<std::string> forgotten;
  for (store::Resource* rp : requests) {
    store::Resource& r = *rp;
    std::string state = r.data.value("state", "");
    int64_t from = r.data.value("valid_from_ms", int64_t(0)),
            until = r.data.value("valid_until_ms", int64_t(0));
    auto inst = inst_by_id.find(r.data.value("instance_id", ""));
    store::Resource* instance = inst == inst_by_id.end() ? nullptr : inst->second;
    bool expired = until != 0 && until <= now_ms;
    if (state == "open" && expired) {
      spot::SetStatus(r, "cancelled", "schedule-expired", now_ms);
      RETURN_IF_ERROR(Save(tx, r));
    } else if (state == "open" && from > now_ms) {
      due(from);
      if (r.data.value("status_code", "") != "not-scheduled-yet") {
        spot::SetStatus(r, "open", "not-scheduled-yet", now_ms);
        RETURN_IF_ERROR(Save(tx, r));
      }
    } else if (state == "active" && expired && r.data.value("type", "") == "persistent") {
      spot::SetStatus(r, "cancelled", "request-canceled-and-instance-running", now_ms);
      RETURN_IF_ERROR(Save(tx, r));
    } else if (state == "disabled" && expired) {
      // An expired disabled request is cancelled, and its stopped instance terminated (T28/29).
      r.data["state"] = "cancelled";
      RETURN_IF_ERROR(Save(tx, r));
      if (instance && instance->data.value("desired", "") != "terminated") {
        instance->data["state"] = "shutting-down";
        instance->data["desired"] = "terminated";
        RETURN_IF_ERROR(Save(tx, *instance));
        result.instances_changed = true;
      }
    } else if ((state == "cancelled" || state == "closed" || state == "failed") &&
               r.data.value("status_ms", int64_t(0)) + kForgetClosedMs <= now_ms &&
               (!instance || instance->data.value("state", "") == "terminated")) {
      RETURN_IF_ERROR(tx.DeleteResource(r.account_id, r.region, r.id));
      forgotten.push_back(r.id);
      continue;
    } else if (state == "open" && until) {
      due(until);
    }
    if ((state == "cancelled" || state == "closed" || state == "failed")) {
      due(r.data.value("status_ms", int64_t(0)) + kForgetClosedMs);
    }
    live.push_back(rp);
  }
  requests = std::move(live);
  if (cache) {
    for (const auto& id : forgotten) cache->requests.erase(id);
  }

  std::map<std::string, std::string> modes;
  ASSIGN_OR_RETURN(auto configs, tx.ListAllResources(kSpotConfigType));
  for (const auto& cfg : configs) modes[cfg.region] = cfg.data.value("mode", "auction");

  spot::Room room = spot::RoomForSpot(env, instances);
  // What is physically free now: instances in their notice still run. The market decides on
  // `room` (they are not counted: their slots are promised); new launches also wait for
  // `physical`, so a spot winner never runs beside the instance it displaced. Only on-demand
  // launches overlap a notice (README: how the 2 minutes are paid for).
  spot::Room physical = room;
  for (const auto& i : instances) {
    if (spot::IsSpot(i) && spot::HoldsCapacity(i)) physical.Take(i);
  }
  std::map<std::string, Book> books = Gather(instances, requests, now_ms, room);
  // Pools with the highest bids clear first: they have the first claim on the host's room.
  std::vector<store::Resource*> order;
  for (auto& p : pools) order.push_back(&p);
  auto top = [&](const store::Resource* p) {
    auto it =
        books.find(BookKey(p->region, p->data.value("az", ""), p->data.value("instance_type", "")));
    Micros best = -1;
    if (it != books.end()) {
      for (const auto& b : it->second.bidders) best = std::max(best, b.bid.max_price);
    }
    return best;
  };
  std::stable_sort(
      order.begin(), order.end(),
      [&](const store::Resource* a, const store::Resource* b) { return top(a) > top(b); });
  for (store::Resource* pool : order) {
    const InstanceType* type = env.catalog->Find(pool->data.value("instance_type", ""));
    if (!type) continue;
    Book& book = books[BookKey(pool->region, pool->data.value("az", ""), type->name)];
    int64_t supply = spot::PoolSupply(*pool, *type, room, book.held);
    std::vector<market::Bid> bids;
    for (const auto& b : book.bidders) bids.push_back(b.bid);
    auto mode = modes.find(pool->region);
    ASSIGN_OR_RETURN(market::Clearing c,
                     ClearPool(tx, *pool, mode == modes.end() ? "auction" : mode->second,
                               std::move(bids), supply, now_ms, due));
    room.Take(*type, int64_t(c.winners.size()));
    std::set<std::string> winners(c.winners.begin(), c.winners.end());
    for (auto& b : book.bidders) {
      bool won = winners.count(b.bid.request_id) > 0;
      if (b.kind == Bidder::kInstance && !won) {
        std::string reason = b.bid.max_price < c.price ? "price" : "capacity";
        RETURN_IF_ERROR(spot::Interrupt(tx, *b.inst, *b.req, reason, now_ms));
        ++result.interrupted;
        due(b.inst->data["spot_action"].value("time_ms", int64_t(0)));
      } else if ((b.kind == Bidder::kRequest || b.kind == Bidder::kRestart) && won &&
                 physical.Fits(*type) < 1) {
        if (b.req->data.value("status_code", "") != "pending-fulfillment" &&
            b.kind == Bidder::kRequest) {
          spot::SetStatus(*b.req, "open", "pending-fulfillment", now_ms);
          RETURN_IF_ERROR(Save(tx, *b.req));
        }
        // The next rounds (every 2 s) launch it once the displaced instance is gone.
      } else if (b.kind == Bidder::kRequest && won) {
        physical.Take(*type);
        RETURN_IF_ERROR(Fulfil(tx, ids, env, *b.req, now_ms, &result));
      } else if (b.kind == Bidder::kRequest) {
        std::string code = b.bid.max_price < c.price ? "price-too-low" : "capacity-not-available";
        std::string message = spot::StatusMessage(code, *b.req, c.price);
        if (b.req->data.value("status_code", "") != code ||
            b.req->data.value("status_message", "") != message) {
          spot::SetStatus(*b.req, "open", code, now_ms, message);
          RETURN_IF_ERROR(Save(tx, *b.req));
        }
      } else if (b.kind == Bidder::kRestart && won) {
        physical.Take(*type);
        RETURN_IF_ERROR(Restart(tx, env, *b.inst, *b.req, now_ms, &result));
      }
    }
  }
  return result;
}

absl::StatusOr<json> OrderBook(store::Tx& tx, const InstanceEnv& env, const PoolKey& key,
                               TimePoint now) {
  ASSIGN_OR_RETURN(store::Resource pool, spot::GetPool(tx, key));
  const InstanceType* type = env.catalog->Find(key.instance_type);
  if (!type) return InvalidParameterValue("Unknown instance type " + key.instance_type);
  ASSIGN_OR_RETURN(auto instances, tx.ListAllResources(kInstanceType));
  ASSIGN_OR_RETURN(auto owned, tx.ListAllResources(kSpotRequestType));
  std::vector<store::Resource*> requests;
  for (auto& r : owned) requests.push_back(&r);
  spot::Room room = spot::RoomForSpot(env, instances);
  auto books = Gather(instances, requests, UnixMillis(now), room);
  Book& book = books[BookKey(key.region, key.az, key.instance_type)];
  int64_t supply = spot::PoolSupply(pool, *type, room, book.held);
  std::vector<market::Bid> bids;
  for (const auto& b : book.bidders) bids.push_back(b.bid);
  Micros reserve = pool.data.value("reserve_micros", Micros(0));
  market::Clearing c = market::ClearAuction(bids, supply, reserve);
  std::set<std::string> winners(c.winners.begin(), c.winners.end());
  json rows = json::array();
  for (const auto& b : book.bidders) {
    std::string kind = b.kind == Bidder::kInstance  ? "instance"
                       : b.kind == Bidder::kRequest ? "request"
                                                    : "stopped-instance";
    rows.push_back({{"id", b.bid.request_id},
                    {"kind", kind},
                    {"account", b.req ? b.req->account_id : ""},
                    {"max_price", FormatPrice(b.bid.max_price)},
                    {"create_time", FormatIso8601(FromUnixMillis(b.bid.create_ms))},
                    {"wins", winners.count(b.bid.request_id) > 0}});
  }
  std::sort(rows.begin(), rows.end(),
            [](const json& a, const json& b) { return a["max_price"] > b["max_price"]; });
  const json& cap = pool.data.contains("capacity") ? pool.data["capacity"] : json();
  return json{{"pool", pool.name},
              {"region", key.region},
              {"price", FormatPrice(pool.data.value("price_micros", Micros(0)))},
              {"clearing_price", FormatPrice(c.price)},
              {"reserve", FormatPrice(reserve)},
              {"on_demand", FormatPrice(pool.data.value("od_micros", Micros(0)))},
              {"capacity_override", cap},
              {"supply", supply},
              {"held_in_notice", book.held},
              {"bids", rows}};
}

}  // namespace kumo::services

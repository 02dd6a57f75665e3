// The market round (specs/spot.md §1.4, §4.1): carry out due notices, lapse requests past
// ValidUntil, then clear every pool in auction mode — the running spot instances and the open
// requests bid their maximum prices for the slots the host has left after on-demand; winners
// launch (or, stopped by an interruption, restart), losing instances get the 2-minute notice.
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/errors.h"
#include "common/status_macros.h"
#include "market/pricing.h"
#include "services/images.h"
#include "services/metering.h"
#include "services/spot.h"
#include "services/spot_internal.h"

namespace kumo::services {

using market::Micros;
using nlohmann::json;

namespace {

constexpr int64_t kForgetClosedMs = int64_t(4) * 3600 * 1000;

std::string BookKey(std::string_view region, std::string_view az, std::string_view type) {
  return fmt::format("{}|{}", region, spot::PoolName(az, type));
}

absl::Status Save(store::Tx& tx, store::Resource& r, int64_t now_ms) {
  if (r.type == kInstanceType) return SaveInstance(tx, r, now_ms);  // meters the change
  RETURN_IF_ERROR(tx.UpdateResource(r));
  ++r.version;
  return absl::OkStatus();
}

// Typed views of the records a round reads, derived once per row version: a round looks at
// every request and instance, and reading their fields out of JSON each time was most of its
// cost (bench/market_round_bench.cc).
struct RequestView {
  store::Resource res;
  std::string state, type, status_code, status_message, instance_id, book;
  int book_id = -1;  // MarketBook::BookId(book), resolved on first use after each Derive
  Micros max = 0;
  int64_t valid_from_ms = 0, valid_until_ms = 0, status_ms = 0;
  bool market_restart = false;
  Micros message_price = -1;  // the clearing price status_message was last checked against
  uint64_t seen = 0;

  void Derive() {
    const json& d = res.data;
    state = d.value("state", "");
    type = d.value("type", "");
    status_code = d.value("status_code", "");
    status_message = d.value("status_message", "");
    instance_id = d.value("instance_id", "");
    book = BookKey(res.region, d.value("az", ""), d.value("instance_type", ""));
    max = d.value("max_micros", Micros(0));
    valid_from_ms = d.value("valid_from_ms", int64_t(0));
    valid_until_ms = d.value("valid_until_ms", int64_t(0));
    status_ms = d.value("status_ms", int64_t(0));
    market_restart = d.value("market_restart", false);
    message_price = -1;
    book_id = -1;
  }
  bool Closed() const { return state == "cancelled" || state == "closed" || state == "failed"; }
};

struct InstanceView {
  store::Resource res;
  std::string state, desired, spot_request_id, book;
  int book_id = -1;
  bool spot = false, holds = false, in_notice = false;
  int64_t action_ms = 0;  // when the interruption in its notice is carried out
  Micros max = 0;
  int64_t vcpus = 1, mib = 0, gpus = 0;
  uint64_t seen = 0;

  void Derive() {
    const json& d = res.data;
    state = d.value("state", "");
    desired = d.value("desired", "");
    spot_request_id = d.value("spot_request_id", "");
    book = BookKey(res.region, d.value("availability_zone", ""), d.value("instance_type", ""));
    spot = spot::IsSpot(res);
    holds = spot::HoldsCapacity(res);
    in_notice = spot::InNotice(res);
    action_ms = in_notice ? d["spot_action"].value("time_ms", int64_t(0)) : 0;
    max = d.value("spot_max_micros", Micros(0));
    vcpus = d.value("vcpus", 1);
    mib = d.value("memory_mib", int64_t(0));
    gpus = d.value("gpus", 0);
    book_id = -1;
  }
  void TakeFrom(spot::Room& room) const { room.Take(vcpus, mib, gpus); }
};

struct PoolView {
  store::Resource res;
  std::string book, instance_type;
  int book_id = -1;
  uint64_t seen = 0;

  void Derive() {
    book_id = -1;
    instance_type = res.data.value("instance_type", "");
    book = BookKey(res.region, res.data.value("az", ""), instance_type);
  }
};

template <typename View>
absl::Status SaveView(store::Tx& tx, View& v, int64_t now_ms) {
  RETURN_IF_ERROR(Save(tx, v.res, now_ms));
  v.Derive();
  return absl::OkStatus();
}

struct Bidder {
  enum Kind { kInstance, kRequest, kRestart } kind;
  market::Bid bid;
  InstanceView* inst = nullptr;
  RequestView* req = nullptr;
};

struct Book {
  std::vector<Bidder> bidders;
  int64_t held = 0;  // running spot instances of the pool that hold capacity without bidding
  Micros best = -1;  // the highest bid
  void Add(Bidder b) {
    best = std::max(best, b.bid.max_price);
    bidders.push_back(std::move(b));
  }
};

// Brings `cached` up to the store's rows of `type` without the change feed: re-reads the rows
// whose version changed and drops the deleted ones. The store lists rows by id, so the map is
// walked in step with it.
template <typename View>
absl::Status Refresh(store::Tx& tx, std::string_view type, uint64_t round,
                     std::map<std::string, View>& cached) {
  ASSIGN_OR_RETURN(auto versions, tx.ListResourceVersions(type));
  auto next = cached.begin();
  for (const auto& v : versions) {
    auto it = next != cached.end() && next->first == v.id ? next : cached.find(v.id);
    if (it == cached.end() || it->second.res.version != v.version) {
      ASSIGN_OR_RETURN(store::Resource r, tx.GetResource(v.account_id, v.region, v.id));
      if (it == cached.end()) it = cached.emplace(v.id, View{}).first;
      it->second.res = std::move(r);
      it->second.Derive();
    }
    it->second.seen = round;
    next = std::next(it);
  }
  std::erase_if(cached, [&](const auto& e) { return e.second.seen != round; });
  return absl::OkStatus();
}

}  // namespace

struct MarketBook {
  uint64_t round = 0;
  bool primed = false;
  int64_t seq = 0;  // the store's change feed, read up to here
  std::map<std::string, InstanceView> instances;
  std::map<std::string, RequestView> requests;
  std::map<std::string, PoolView> pools;
  std::unordered_map<std::string, int> book_ids;

  // Follows the store's change feed; lists everything on the first round and whenever the feed
  // was pruned past where this book stopped.
  absl::Status Refresh(store::Tx& tx) {
    ASSIGN_OR_RETURN(store::ChangeFeed feed, tx.ListChangesSince(primed ? seq : -1));
    if (!feed.complete) {
      ++round;
      RETURN_IF_ERROR(services::Refresh(tx, kInstanceType, round, instances));
      RETURN_IF_ERROR(services::Refresh(tx, kSpotRequestType, round, requests));
      RETURN_IF_ERROR(services::Refresh(tx, kSpotPoolType, round, pools));
    } else {
      for (const auto& c : feed.changes) {
        if (c.type == kInstanceType) {
          RETURN_IF_ERROR(Apply(tx, c, instances));
        } else if (c.type == kSpotRequestType) {
          RETURN_IF_ERROR(Apply(tx, c, requests));
        } else if (c.type == kSpotPoolType) {
          RETURN_IF_ERROR(Apply(tx, c, pools));
        }
      }
    }
    seq = feed.last_seq;
    primed = true;
    return absl::OkStatus();
  }
  // Books are numbered so that a round groups its bidders without hashing pool names.
  template <typename View>
  int BookId(View& v) {
    if (v.book_id < 0) v.book_id = book_ids.try_emplace(v.book, int(book_ids.size())).first->second;
    return v.book_id;
  }
  // The host's capacity less what on-demand instances hold (spot::RoomForSpot on the views).
  spot::Room RoomForSpot(const InstanceEnv& env) const {
    spot::Room room{int64_t(env.host_cpus * env.cpu_ratio),
                    int64_t(double(env.host_memory_mib) * env.ram_ratio), int64_t(env.gpus.size())};
    for (const auto& [id, iv] : instances) {
      if (iv.holds && !iv.spot) iv.TakeFrom(room);
    }
    return room;
  }
  RequestView* Request(const std::string& id) {
    auto it = requests.find(id);
    return it == requests.end() ? nullptr : &it->second;
  }
  InstanceView* Instance(const std::string& id) {
    auto it = instances.find(id);
    return it == instances.end() ? nullptr : &it->second;
  }

 private:
  // One change; the row is read as it is now, so of several changes to a row the first re-reads
  // it and the rest (versions it already has, like the round's own saves) cost nothing.
  template <typename View>
  static absl::Status Apply(store::Tx& tx, const store::ResourceChange& c,
                            std::map<std::string, View>& cached) {
    auto it = cached.find(c.id);
    if (c.version == 0) {
      if (it != cached.end()) cached.erase(it);
      return absl::OkStatus();
    }
    if (it != cached.end() && it->second.res.version >= c.version) return absl::OkStatus();
    auto r = tx.GetResource(c.account_id, c.region, c.id);
    if (r.status().code() == absl::StatusCode::kNotFound) return absl::OkStatus();  // deleted later
    RETURN_IF_ERROR(r.status());
    if (it == cached.end()) it = cached.emplace(c.id, View{}).first;
    it->second.res = std::move(*r);
    it->second.Derive();
    return absl::OkStatus();
  }
};

MarketCache::MarketCache() = default;
MarketCache::~MarketCache() = default;
MarketCache::MarketCache(MarketCache&&) noexcept = default;
MarketCache& MarketCache::operator=(MarketCache&&) noexcept = default;
bool MarketCache::HoldsRequest(const std::string& id) const {
  return book && book->requests.count(id) > 0;
}

namespace {

// Who bids in each pool: its running spot instances and its open requests, and the stopped
// instances the market may restart; `room` is what the host has left for them.
std::vector<Book> Gather(MarketBook& mb, int64_t now_ms, spot::Room& room) {
  std::vector<Book> books;
  auto book = [&](auto& view) -> Book& {
    size_t id = size_t(mb.BookId(view));
    if (id >= books.size()) books.resize(id + 1);
    return books[id];
  };
  for (auto& [id, iv] : mb.instances) {
    if (!iv.spot || !iv.holds) continue;
    // Instances on their way out (in their notice, stopping, shutting down) are not counted:
    // their room is already given back, or a reclaimed slot would evict a second bidder.
    if ((iv.state != "pending" && iv.state != "running") || iv.in_notice) continue;
    RequestView* rv = mb.Request(iv.spot_request_id);
    if (!rv || rv->instance_id != id) {
      iv.TakeFrom(room);  // a request we cannot see any more: it keeps its room, bidding nothing
      ++book(iv).held;
      continue;
    }
    book(iv).Add({Bidder::kInstance, {id, iv.max, rv->res.created_ms}, &iv, rv});
  }
  for (auto& [id, rv] : mb.requests) {
    if (rv.state == "open" && rv.valid_from_ms <= now_ms) {
      book(rv).Add({Bidder::kRequest, {id, rv.max, rv.res.created_ms}, nullptr, &rv});
    } else if (rv.state == "disabled" && rv.market_restart) {
      InstanceView* iv = mb.Instance(rv.instance_id);
      if (iv && iv->state == "stopped") {
        book(rv).Add({Bidder::kRestart, {id, rv.max, rv.res.created_ms}, iv, &rv});
      }
    }
  }
  for (auto& [id, pv] : mb.pools) book(pv);  // every pool has a book, if an empty one
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
  RETURN_IF_ERROR(Save(tx, inst, now_ms));
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
  return Save(tx, *req, now_ms);
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
    return Save(tx, req, now_ms);
  }
  req.data["instance_id"] = (*launched)["Instances"].at(0).value("InstanceId", "");
  req.data["launched_az"] = req.data["az"];
  spot::SetStatus(req, "active", "fulfilled", now_ms);
  ++result->fulfilled;
  result->instances_changed = true;
  return Save(tx, req, now_ms);
}

absl::Status Restart(store::Tx& tx, const InstanceEnv& env, store::Resource& inst,
                     store::Resource& req, int64_t now_ms, RoundResult* result) {
  Caller caller{req.account_id, req.region, "spot-" + req.id, FromUnixMillis(now_ms)};
  RETURN_IF_ERROR(
      StartInstances(tx, caller, env, {{"InstanceIds", {inst.id}}, {"_Market", true}}).status());
  req.data["market_restart"] = false;
  spot::SetStatus(req, "active", "fulfilled", now_ms);
  result->instances_changed = true;
  return Save(tx, req, now_ms);
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

}  // namespace

absl::StatusOr<RoundResult> RunMarketRound(store::Tx& tx, IdGenerator& ids, const InstanceEnv& env,
                                           TimePoint now, MarketCache* cache) {
  int64_t now_ms = UnixMillis(now);
  RoundResult result;
  auto due = [&](int64_t t) {
    if (t > now_ms && (result.next_due_ms == 0 || t < result.next_due_ms)) result.next_due_ms = t;
  };
  MarketCache local;
  if (!cache) cache = &local;
  if (!cache->book) cache->book = std::make_unique<MarketBook>();
  MarketBook& mb = *cache->book;
  RETURN_IF_ERROR(mb.Refresh(tx));

  // Notices that have run out.
  for (auto& [id, iv] : mb.instances) {
    if (!iv.in_notice) continue;
    if (iv.action_ms > now_ms) {
      due(iv.action_ms);
      continue;
    }
    RequestView* rv = mb.Request(iv.spot_request_id);
    RETURN_IF_ERROR(
        Execute(tx, iv.res, rv ? &rv->res : nullptr, now_ms, &result.instances_changed));
    iv.Derive();
    if (rv) rv->Derive();
  }

  // Requests' schedules, and forgetting closed ones after 4 hours (EC2's rule).
  for (auto it = mb.requests.begin(); it != mb.requests.end();) {
    RequestView& r = it->second;
    bool expired = r.valid_until_ms != 0 && r.valid_until_ms <= now_ms;
    if (r.state == "open" && expired) {
      spot::SetStatus(r.res, "cancelled", "schedule-expired", now_ms);
      RETURN_IF_ERROR(SaveView(tx, r, now_ms));
    } else if (r.state == "open" && r.valid_from_ms > now_ms) {
      due(r.valid_from_ms);
      if (r.status_code != "not-scheduled-yet") {
        spot::SetStatus(r.res, "open", "not-scheduled-yet", now_ms);
        RETURN_IF_ERROR(SaveView(tx, r, now_ms));
      }
    } else if (r.state == "active" && expired && r.type == "persistent") {
      spot::SetStatus(r.res, "cancelled", "request-canceled-and-instance-running", now_ms);
      RETURN_IF_ERROR(SaveView(tx, r, now_ms));
    } else if (r.state == "disabled" && expired) {
      // An expired disabled request is cancelled, and its stopped instance terminated (T28/29).
      r.res.data["state"] = "cancelled";
      RETURN_IF_ERROR(SaveView(tx, r, now_ms));
      InstanceView* iv = mb.Instance(r.instance_id);
      if (iv && iv->desired != "terminated") {
        iv->res.data["state"] = "shutting-down";
        iv->res.data["desired"] = "terminated";
        RETURN_IF_ERROR(SaveView(tx, *iv, now_ms));
        result.instances_changed = true;
      }
    } else if (r.Closed() && r.status_ms + kForgetClosedMs <= now_ms) {
      InstanceView* iv = mb.Instance(r.instance_id);
      if (!iv || iv->state == "terminated") {
        RETURN_IF_ERROR(tx.DeleteResource(r.res.account_id, r.res.region, r.res.id));
        it = mb.requests.erase(it);
        continue;
      }
    } else if (r.state == "open" && r.valid_until_ms) {
      due(r.valid_until_ms);
    }
    if (r.Closed()) due(r.status_ms + kForgetClosedMs);
    ++it;
  }

  std::map<std::string, std::string> modes;
  ASSIGN_OR_RETURN(auto configs, tx.ListAllResources(kSpotConfigType));
  for (const auto& cfg : configs) modes[cfg.region] = cfg.data.value("mode", "auction");

  spot::Room room = mb.RoomForSpot(env);
  // What is physically free now: instances in their notice still run. The market decides on
  // `room` (they are not counted: their slots are promised); new launches also wait for
  // `physical`, so a spot winner never runs beside the instance it displaced. Only on-demand
  // launches overlap a notice (README: how the 2 minutes are paid for).
  spot::Room physical = room;
  for (const auto& [id, iv] : mb.instances) {
    if (iv.spot && iv.holds) iv.TakeFrom(physical);
  }
  std::vector<Book> books = Gather(mb, now_ms, room);
  // Pools with the highest bids clear first: they have the first claim on the host's room.
  std::vector<std::pair<Micros, PoolView*>> order;
  for (auto& [id, pv] : mb.pools) order.emplace_back(books[size_t(mb.BookId(pv))].best, &pv);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (auto& [best, pv] : order) {
    const InstanceType* type = env.catalog->Find(pv->instance_type);
    if (!type) continue;
    Book& book = books[size_t(mb.BookId(*pv))];
    int64_t supply = spot::PoolSupply(pv->res, *type, room, book.held);
    std::vector<market::Bid> bids;
    bids.reserve(book.bidders.size());
    for (const auto& b : book.bidders) bids.push_back(b.bid);
    auto mode = modes.find(pv->res.region);
    ASSIGN_OR_RETURN(market::Clearing c,
                     ClearPool(tx, pv->res, mode == modes.end() ? "auction" : mode->second,
                               std::move(bids), supply, now_ms, due));
    room.Take(*type, int64_t(c.winners.size()));
    std::unordered_set<std::string> winners(c.winners.begin(), c.winners.end());
    for (auto& b : book.bidders) {
      bool won = winners.count(b.bid.request_id) > 0;
      RequestView& rv = *b.req;
      if (b.kind == Bidder::kInstance && !won) {
        std::string reason = b.bid.max_price < c.price ? "price" : "capacity";
        RETURN_IF_ERROR(spot::Interrupt(tx, b.inst->res, rv.res, reason, now_ms));
        b.inst->Derive();
        rv.Derive();
        ++result.interrupted;
        due(b.inst->action_ms);
      } else if ((b.kind == Bidder::kRequest || b.kind == Bidder::kRestart) && won &&
                 physical.Fits(*type) < 1) {
        if (rv.status_code != "pending-fulfillment" && b.kind == Bidder::kRequest) {
          spot::SetStatus(rv.res, "open", "pending-fulfillment", now_ms);
          RETURN_IF_ERROR(SaveView(tx, rv, now_ms));
        }
        // The next rounds (every 2 s) launch it once the displaced instance is gone.
      } else if (b.kind == Bidder::kRequest && won) {
        physical.Take(*type);
        RETURN_IF_ERROR(Fulfil(tx, ids, env, rv.res, now_ms, &result));
        rv.Derive();
      } else if (b.kind == Bidder::kRequest) {
        std::string code = b.bid.max_price < c.price ? "price-too-low" : "capacity-not-available";
        // Most of a crowded market waits round after round: its status is already right.
        if (rv.status_code == code && rv.message_price == c.price) continue;
        std::string message = spot::StatusMessage(code, rv.res, c.price);
        if (rv.status_code != code || rv.status_message != message) {
          spot::SetStatus(rv.res, "open", code, now_ms, message);
          RETURN_IF_ERROR(SaveView(tx, rv, now_ms));
        }
        rv.message_price = c.price;
      } else if (b.kind == Bidder::kRestart && won) {
        physical.Take(*type);
        RETURN_IF_ERROR(Restart(tx, env, b.inst->res, rv.res, now_ms, &result));
        rv.Derive();
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
  MarketBook mb;
  RETURN_IF_ERROR(mb.Refresh(tx));
  spot::Room room = mb.RoomForSpot(env);
  auto books = Gather(mb, UnixMillis(now), room);
  auto id = mb.book_ids.find(BookKey(key.region, key.az, key.instance_type));
  Book none;
  Book& book = id == mb.book_ids.end() ? none : books[size_t(id->second)];
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
                    {"account", b.req ? b.req->res.account_id : ""},
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

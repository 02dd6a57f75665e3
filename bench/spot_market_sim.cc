// A 30-day run of the spot market with the real services (RunMarketRound, RequestSpotInstances,
// RunInstances, TerminateInstances on an in-memory store) and a synthetic GPU workload, for
// docs/spot-market-30d.png (bench/plot_spot_market.py draws it):
//   - one pool, p2.xlarge in <region>a, on 10 hosts of 8 GPUs (80 slots);
//   - on-demand GPU demand with a diurnal cycle (20 ± 15 instances, peak at 14:00) and bursts
//     (on average every 3 days, +35 instances for 6 hours);
//   - spot jobs arriving with a diurnal rate (8 ± 4 an hour), each wanting one
//     GPU for Exp(6 h), bidding uniformly between the reserve and 1.5 × On-Demand; an interrupted
//     job is resubmitted for the time it had left; a job whose request lapsed unfulfilled (after
//     its 7 days) is given up.
// Host transitions the reconciler would make (pending → running, shutting-down → terminated) are
// applied after each 5-minute round. Prints one CSV row per hour.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "common/ids.h"
#include "services/images.h"
#include "services/instance_types.h"
#include "services/instances.h"
#include "services/regions.h"
#include "services/spot.h"
#include "services/vpcs.h"
#include "store/sqlite_store.h"

namespace {

using namespace kumo;
using nlohmann::json;

constexpr int64_t kMinute = 60 * 1000, kHour = 60 * kMinute;

struct Job {
  std::string request_id, account;
  int64_t remaining_ms = 0, started_ms = 0;
  std::string price;
  std::string instance_id;
};

int Fail(const absl::Status& st, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, std::string(st.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int days = argc > 1 ? std::atoi(argv[1]) : 30;
  std::string tmp = std::filesystem::temp_directory_path() / "kumo-spot-sim";
  std::filesystem::create_directories(tmp + "/images/tiny/rootfs");
  std::ofstream(tmp + "/images/tiny/image.json") << R"({"name": "tiny"})";

  auto store = std::move(*store::OpenSqliteStore(":memory:"));
  auto catalog = std::move(
      *services::InstanceTypeCatalog::FromJson(services::InstanceTypeCatalog::EmbeddedJson()));
  services::ImageStore images(tmp + "/images");
  services::InstanceEnv env;
  env.catalog = catalog.get();
  env.images = &images;
  env.public_cidr = "100.64.0.0/16";
  env.host_cpus = 10 * 64;
  env.host_memory_mib = int64_t(10) * 1024 * 1024;
  for (int i = 0; i < 80; ++i) {
    env.gpus.push_back(
        {i, fmt::format("GPU-sim-{}", i), "K80", 12288, "", "/dev/nvidia" + std::to_string(i)});
  }
  env.vcpu_quota = 100000;
  env.spot_vcpu_quota = 100000;
  services::Regions regions({"eu-west-1"}, "127.0.0.1:8787");
  SequentialIdGenerator ids;
  const std::string zone = "eu-west-1a", type = "p2.xlarge";
  const std::string image = services::ImageIdForName("tiny");
  const double od = 0.972;

  TimePoint start{std::chrono::seconds(1796428800)};  // 2026-12-05 00:00 UTC
  std::vector<std::string> accounts;
  for (int i = 0; i < 5; ++i) accounts.push_back(fmt::format("{:012d}", 200000000001 + i));
  services::DefaultNetwork network(*store, regions, ids);
  for (const auto& a : accounts) {
    if (auto st = network.Ensure({a, "eu-west-1", "sim", start}); !st.ok()) return Fail(st, "net");
  }
  if (auto st = store->Write(
          [&](store::Tx& tx) { return services::EnsureSpotPools(tx, env, regions, start); });
      !st.ok()) {
    return Fail(st, "pools");
  }

  std::mt19937_64 rng(20261205);
  std::exponential_distribution<double> job_hours(1.0 / 6.0);
  std::uniform_real_distribution<double> bid(0.30, 1.5), unit(0, 1);
  std::vector<Job> jobs;               // submitted, not finished
  std::vector<std::string> on_demand;  // running on-demand instance ids, oldest first
  int64_t burst_until = 0;
  int interruptions = 0, refused = 0, finished = 0;
  std::printf(
      "hour,price,spot_running,on_demand,capacity,interruptions,open_requests,"
      "od_refused,jobs_finished\n");

  auto caller = [&](const std::string& account, int64_t t) {
    return services::Caller{account, "eu-west-1", "sim", FromUnixMillis(t)};
  };
  for (int64_t t = UnixMillis(start); t < UnixMillis(start) + days * 24 * kHour; t += 5 * kMinute) {
    double hour_of_day = double((t / kMinute) % (24 * 60)) / 60.0;
    double diurnal = std::sin((hour_of_day - 8.0) / 24.0 * 2 * M_PI);  // peak at 14:00
    // Bursts: on average one every 3 days (5-minute steps).
    if (t >= burst_until && unit(rng) < 5.0 / (3 * 24 * 60)) burst_until = t + 6 * kHour;
    int od_target = int(std::lround(20 + 15 * diurnal)) + (t < burst_until ? 35 : 0);
    absl::Status st = store->Write([&](store::Tx& tx) -> absl::Status {
      // On-demand: launch or terminate toward the target.
      while (int(on_demand.size()) < od_target) {
        auto r = services::RunInstances(tx, caller(accounts[0], t), ids, env,
                                        {{"ImageId", image}, {"InstanceType", type}});
        if (!r.ok()) {
          ++refused;
          break;
        }
        on_demand.push_back((*r)["Instances"][0]["InstanceId"]);
      }
      while (int(on_demand.size()) > od_target) {
        auto r = services::TerminateInstances(tx, caller(accounts[0], t),
                                              {{"InstanceIds", {on_demand.front()}}});
        if (!r.ok()) return r.status();
        on_demand.erase(on_demand.begin());
      }
      // Spot jobs arrive (Poisson, diurnal rate 8 ± 4 an hour: 48 ± 24 GPUs wanted).
      double rate = (8 + 4 * diurnal) / 12.0;
      std::poisson_distribution<int> arrivals(rate);
      for (int n = arrivals(rng); n > 0; --n) {
        Job j;
        j.account = accounts[1 + size_t(rng() % 4)];
        j.remaining_ms = int64_t(job_hours(rng) * kHour) + 10 * kMinute;
        j.price = fmt::format("{:.4f}", bid(rng) * od);
        jobs.push_back(j);
      }
      // Submit what has no open request; finish jobs whose time is up.
      for (auto& j : jobs) {
        if (!j.request_id.empty()) continue;
        auto r = services::RequestSpotInstances(tx, caller(j.account, t), ids, env,
                                                {{"SpotPrice", j.price},
                                                 {"LaunchSpecification",
                                                  {{"ImageId", image},
                                                   {"InstanceType", type},
                                                   {"Placement", {{"AvailabilityZone", zone}}}}}});
        if (!r.ok()) return r.status();
        j.request_id = (*r)["SpotInstanceRequests"][0]["SpotInstanceRequestId"];
      }
      auto round = services::RunMarketRound(tx, ids, env, FromUnixMillis(t));
      if (!round.ok()) return round.status();
      // What the reconciler would do, and what users do with their jobs.
      auto all = tx.ListAllResources(services::kInstanceType);
      if (!all.ok()) return all.status();
      std::map<std::string, store::Resource*> by_id;
      for (auto& i : *all) by_id[i.id] = &i;
      auto reqs = tx.ListAllResources(services::kSpotRequestType);
      std::map<std::string, const store::Resource*> req_by_id;
      for (auto& r : *reqs) req_by_id[r.id] = &r;
      std::vector<Job> next;
      for (auto& j : jobs) {
        const store::Resource* r =
            req_by_id.count(j.request_id) ? req_by_id[j.request_id] : nullptr;
        std::string state = r ? r->data.value("state", "") : "gone";
        std::string inst = r ? r->data.value("instance_id", "") : "";
        if (state == "active" && j.instance_id != inst) {
          j.instance_id = inst;
          j.started_ms = t;
        }
        if (state == "active" && t - j.started_ms >= j.remaining_ms) {
          auto done = services::TerminateInstances(tx, caller(j.account, t),
                                                   {{"InstanceIds", {j.instance_id}}});
          if (!done.ok()) return done.status();
          ++finished;
          continue;
        }
        if (state == "cancelled" && j.instance_id.empty()) continue;  // lapsed: given up
        if (state == "closed" || state == "cancelled" || state == "failed" || state == "gone") {
          if (!j.instance_id.empty()) {
            ++interruptions;
            j.remaining_ms -= t - j.started_ms;  // resubmitted for what is left
            j.remaining_ms = std::max(j.remaining_ms, 10 * kMinute);
          }
          j.request_id.clear();
          j.instance_id.clear();
        }
        next.push_back(j);
      }
      jobs = std::move(next);
      for (auto& i : *all) {
        std::string s = i.data.value("state", "");
        if (s == "pending" || s == "shutting-down" || s == "stopping") {
          if (s == "shutting-down") {
            (void)services::ReleasePublicIp(tx, i);
            if (auto d = tx.DeleteResource(i.account_id, i.region, i.id); !d.ok()) return d;
            continue;
          }
          i.data["state"] = s == "pending" ? "running" : "stopped";
          if (auto u = tx.UpdateResource(i); !u.ok()) return u;
        }
      }
      return absl::OkStatus();
    });
    if (!st.ok()) return Fail(st, "round");
    if ((t - UnixMillis(start)) % kHour == 55 * kMinute) {
      int spot = 0, open = 0;
      std::string price;
      (void)store->Read([&](store::Tx& tx) -> absl::Status {
        auto all = tx.ListAllResources(services::kInstanceType);
        for (const auto& i : *all) {
          if (i.data.value("instance_lifecycle", "") == "spot" &&
              i.data.value("state", "") == "running") {
            ++spot;
          }
        }
        auto reqs = tx.ListAllResources(services::kSpotRequestType);
        for (const auto& r : *reqs) open += r.data.value("state", "") == "open";
        auto pool = tx.FindResourceByName(services::kOperatorOwnerId, "eu-west-1",
                                          services::kSpotPoolType, zone + "/" + type);
        price = services::FormatPrice((**pool).data.value("price_micros", int64_t(0)));
        return absl::OkStatus();
      });
      std::printf("%lld,%s,%d,%zu,80,%d,%d,%d,%d\n", (long long)((t - UnixMillis(start)) / kHour),
                  price.c_str(), spot, on_demand.size(), interruptions, open, refused, finished);
      std::fflush(stdout);
      interruptions = refused = finished = 0;
    }
  }
  std::filesystem::remove_all(tmp);
  return 0;
}

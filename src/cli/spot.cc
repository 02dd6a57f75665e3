// kumo spot …: a tenant's conveniences over the EC2 API (cancel with its instances, the price
// history in the terminal), and kumo admin …: the operator's hooks of the admin API (the spot
// market's pools, interruptions, the simulated clock).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "auth/sigv4.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "common/clock.h"
#include "daemon/data_dir.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

}  // namespace

json Admin(const Globals& g, const std::string& op, const json& body) {
  std::ifstream in(daemon::DataDir::OperatorCredentials(g.data_dir));
  json creds = json::parse(in, nullptr, false);
  if (!in || creds.is_discarded()) {
    Fail("Cannot read the operator credentials in " +
         daemon::DataDir::OperatorCredentials(g.data_dir) + " (operator rights are needed)");
  }
  std::ifstream rt(daemon::DataDir::RuntimeInfo(g.data_dir));
  json info = json::parse(rt, nullptr, false);
  if (info.is_discarded() || !info.is_object()) Fail("kumod is not running on " + g.data_dir);
  std::string endpoint = info.value("endpoint", "");
  std::string region = info.contains("regions") ? info["regions"][0].get<std::string>() : "";
  std::string host = endpoint.substr(endpoint.find("//") + 2);
  std::string target = "/kumo-admin/" + op, payload = body.dump();
  std::vector<std::pair<std::string_view, std::string_view>> hv = {
      {"Host", host}, {"Content-Type", "application/json"}};
  auth::HttpRequestView view{"POST", target, "", hv, payload};
  auth::Signer signer(creds.value("AccessKeyId", ""), creds.value("SecretAccessKey", ""), region,
                      "kumo");
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"}};
  for (auto& h : signer.Sign(view, SystemClock().Now())) headers.push_back(h);
  auto reply = HttpPost(endpoint, target, payload, headers);
  if (!reply.ok()) Fail(std::string(reply.status().message()));
  json out = json::parse(reply->body, nullptr, false);
  if (reply->status != 200 || out.is_discarded()) {
    std::string msg =
        out.is_object() && out.contains("Error")
            ? out["Error"].value("Code", "") + ": " + out["Error"].value("Message", "")
            : reply->body;
    Fail(msg);
  }
  out.erase("RequestId");
  return out;
}

namespace {

void Print(const json& j) { std::cout << j.dump(2) << std::endl; }

std::string Need(const absl::StatusOr<std::string>& r) {
  if (!r.ok()) Fail(std::string(r.status().message()));
  return *r;
}

// A step chart of one pool's price over the window, in the terminal.
void Plot(const std::vector<std::pair<int64_t, double>>& points, int64_t from, int64_t to) {
  const int width = 72, height = 14;
  double lo = 1e18, hi = -1e18;
  for (const auto& [t, p] : points) lo = std::min(lo, p), hi = std::max(hi, p);
  if (hi - lo < 1e-9) hi = lo + std::max(1e-6, lo * 0.01);
  std::vector<double> col(width, std::nan(""));
  for (int x = 0; x < width; ++x) {
    int64_t t = from + (to - from) * x / (width - 1);
    for (const auto& [pt, p] : points) {
      if (pt <= t) col[x] = p;  // points are oldest first: the price in effect at t
    }
  }
  for (int row = height - 1; row >= 0; --row) {
    double level = lo + (hi - lo) * row / (height - 1);
    std::string line;
    for (int x = 0; x < width; ++x) {
      if (std::isnan(col[x])) {
        line += ' ';
        continue;
      }
      int y = int(std::lround((col[x] - lo) / (hi - lo) * (height - 1)));
      line += y == row ? '*' : (y > row ? '.' : ' ');
    }
    std::printf("%10.6f |%s\n", level, line.c_str());
  }
  std::printf("%10s +%s\n", "", std::string(width, '-').c_str());
  std::printf("%11s %-36s%36s\n", "", FormatIso8601(FromUnixMillis(from)).substr(0, 16).c_str(),
              FormatIso8601(FromUnixMillis(to)).substr(0, 16).c_str());
}

}  // namespace

void AddSpotCommands(CLI::App& app, Globals& g) {
  auto* spot = app.add_subcommand("spot", "Spot requests and prices (an aws profile's account)");
  spot->require_subcommand(1);
  static std::string profile = "default";
  spot->add_option("--profile", profile, "The aws profile whose keys to use");

  auto* cancel =
      spot->add_subcommand("cancel",
                           "Cancel spot requests; their running instances keep running unless "
                           "--terminate-instances (EC2's rule)");
  static std::vector<std::string> ids;
  static bool terminate = false;
  cancel->add_option("ids", ids, "sir-… ids")->required();
  cancel->add_flag("--terminate-instances", terminate, "Terminate the requests' instances too");
  cancel->callback([&g] {
    auto creds = ProfileCredentials(profile, g.data_dir);
    if (!creds.ok()) Fail(std::string(creds.status().message()));
    std::vector<std::pair<std::string, std::string>> params;
    for (size_t i = 0; i < ids.size(); ++i) {
      params.emplace_back("SpotInstanceRequestId." + std::to_string(i + 1), ids[i]);
    }
    // Which instances the requests have, before cancelling (one call each: simple to read).
    std::vector<std::string> instances;
    for (const auto& id : ids) {
      std::string xml =
          Need(Ec2Call(*creds, "DescribeSpotInstanceRequests", {{"SpotInstanceRequestId.1", id}}));
      auto inst = XmlTexts(xml, "instanceId");
      auto state = XmlTexts(xml, "state");
      if (!inst.empty() && !state.empty() && state[0] == "active") instances.push_back(inst[0]);
    }
    Need(Ec2Call(*creds, "CancelSpotInstanceRequests", params));
    json out = {{"cancelled", ids}};
    if (terminate && !instances.empty()) {
      std::vector<std::pair<std::string, std::string>> tp;
      for (size_t i = 0; i < instances.size(); ++i) {
        tp.emplace_back("InstanceId." + std::to_string(i + 1), instances[i]);
      }
      Need(Ec2Call(*creds, "TerminateInstances", tp));
      out["terminated"] = instances;
    } else if (!instances.empty()) {
      out["still_running"] = instances;
      std::cerr << "kumo: warning: cancelling does not terminate instances; these keep running "
                   "(and billing):\n";
      // What each has cost so far, from the ledger (best effort: the warning matters more).
      json running = json::array();
      if (auto bill = JsonCall(*creds, "ce", "KumoBilling.GetBill", "{}"); bill.ok()) {
        json b = json::parse(*bill, nullptr, false);
        if (b.is_object() && b.contains("Running")) running = b["Running"];
      }
      for (const auto& i : instances) {
        std::cerr << "      " << i;
        for (const auto& r : running) {
          if (r.value("InstanceId", "") != i) continue;
          std::cerr << ": running " << r.value("AgeHours", "") << " h, $"
                    << r.value("CostSoFar", "") << " so far, $" << r.value("Hourly", "")
                    << " per hour";
        }
        std::cerr << "\n";
      }
      std::cerr << "      terminate them with: kumo spot cancel --terminate-instances …"
                << std::endl;
    }
    Print(out);
  });

  auto* history = spot->add_subcommand("history", "The spot price history of an instance type");
  static std::string type, zone;
  static double days = 1;
  static bool plot = false;
  history->add_option("--instance-type", type, "Instance type")->required();
  history->add_option("--availability-zone", zone, "Zone (default: the region's first)");
  history->add_option("--days", days, "How far back (at most 90)");
  history->add_flag("--plot", plot, "Draw it in the terminal");
  history->callback([&g] {
    auto creds = ProfileCredentials(profile, g.data_dir);
    if (!creds.ok()) Fail(std::string(creds.status().message()));
    if (zone.empty()) zone = creds->region + "a";
    int64_t now = UnixMillis(SystemClock().Now());
    // The daemon's clock may be simulated: ask it what time it is through the newest record.
    std::vector<std::pair<std::string, std::string>> params = {
        {"InstanceType.1", type}, {"AvailabilityZone", zone}, {"MaxResults", "1000"}};
    std::vector<std::pair<int64_t, double>> points;
    std::string token;
    do {
      auto p = params;
      if (!token.empty()) p.emplace_back("NextToken", token);
      std::string xml = Need(Ec2Call(*creds, "DescribeSpotPriceHistory", p));
      auto prices = XmlTexts(xml, "spotPrice"), stamps = XmlTexts(xml, "timestamp");
      for (size_t i = 0; i < prices.size() && i < stamps.size(); ++i) {
        TimePoint t;
        if (ParseIso8601(stamps[i], &t)) points.emplace_back(UnixMillis(t), std::stod(prices[i]));
      }
      auto next = XmlTexts(xml, "nextToken");
      token = next.empty() ? "" : next[0];
    } while (!token.empty());
    std::sort(points.begin(), points.end());
    if (points.empty()) Fail("No price history for " + type + " in " + zone, 3);
    int64_t to = std::max(now, points.back().first);
    int64_t from = to - int64_t(std::clamp(days, 0.01, 90.0) * 24 * 3600 * 1000);
    if (!plot) {
      for (const auto& [t, p] : points) {
        if (t >= from) std::printf("%s  %.6f\n", FormatIso8601(FromUnixMillis(t)).c_str(), p);
      }
      return;
    }
    std::printf("%s %s (Linux/UNIX), USD per hour\n", type.c_str(), zone.c_str());
    Plot(points, from, to);
  });
}

void AddAdminCommands(CLI::App& app, Globals& g) {
  auto* admin = app.add_subcommand("admin", "Operator hooks on the running kumod (admin API)");
  admin->require_subcommand(1);
  auto* clock =
      admin->add_subcommand("clock", "Show the daemon's clock, or advance a simulated one");
  static double advance = 0;
  clock->add_option("--advance", advance, "Seconds to move a simulated clock forward");
  clock->callback([&g] {
    Print(advance > 0 ? Admin(g, "clock/advance", {{"seconds", advance}})
                      : Admin(g, "clock", json::object()));
  });

  static bool hosts_json = false;
  auto* hosts =
      admin->add_subcommand("hosts", "The hosts: size, GPUs and the instance holding each");
  hosts->add_flag("--json", hosts_json, "The admin API's answer as JSON");
  hosts->callback([&g] {
    json out = Admin(g, "hosts", json::object());
    if (hosts_json) return Print(out);
    for (const auto& h : out.value("Hosts", json::array())) {
      fmt::print("{}  {} CPUs, {} MiB, GPUs: {}{}\n", h.value("Host", ""), h.value("Cpus", 0),
                 h.value("MemoryMiB", int64_t(0)), h.value("GpuSource", ""),
                 h.value("DriverVersion", "").empty()
                     ? ""
                     : " (driver " + h.value("DriverVersion", "") + ")");
      if (h.value("Gpus", json::array()).empty()) continue;
      fmt::print("  {:<6} {:<42} {:<38} {:>9}  {:<14} {}\n", "MINOR", "UUID", "MODEL", "MEMORY",
                 "PCI", "INSTANCE");
      for (const auto& gpu : h["Gpus"]) {
        std::string holder = gpu["InstanceId"].is_string()
                                 ? gpu["InstanceId"].get<std::string>() + " (account " +
                                       gpu.value("AccountId", "") + ")"
                                 : "free";
        fmt::print("  {:<6} {:<42} {:<38} {:>5} MiB  {:<14} {}\n", gpu.value("Minor", 0),
                   gpu.value("Uuid", ""), gpu.value("Name", ""), gpu.value("MemoryMiB", int64_t(0)),
                   gpu.value("PciBusId", ""), holder);
      }
    }
  });

  auto* spot = admin->add_subcommand("spot", "The spot market's pools and instances");
  spot->require_subcommand(1);
  static std::string region, zone, type, price, mode, instance, reason = "capacity";
  static std::string slots;
  auto pool_options = [](CLI::App* cmd) {
    cmd->add_option("--region", region, "Region (default: the daemon's home)");
    cmd->add_option("--availability-zone", zone, "Zone (default: <region>a)");
    cmd->add_option("--instance-type", type, "Instance type")->required();
  };
  auto pool = [] {
    json body = {{"instance_type", type}};
    if (!region.empty()) body["region"] = region;
    if (!zone.empty()) body["availability_zone"] = zone;
    return body;
  };
  auto* book = spot->add_subcommand("order-book", "A pool's bids, price, reserve and supply");
  pool_options(book);
  book->callback([&g, pool] { Print(Admin(g, "spot/order-book", pool())); });
  auto* set_price = spot->add_subcommand(
      "set-price", "Set a pool's reserve (floor) price; \"default\" restores 0.30 x On-Demand");
  pool_options(set_price);
  set_price->add_option("price", price, "USD per hour")->required();
  set_price->callback([&g, pool] {
    json body = pool();
    body["price"] = price;
    Print(Admin(g, "spot/set-price", body));
  });
  auto* set_cap = spot->add_subcommand(
      "set-capacity", "Cap the slots spot may use in a pool (\"none\" removes the cap)");
  pool_options(set_cap);
  set_cap->add_option("slots", slots, "Slots, or none")->required();
  set_cap->callback([&g, pool] {
    json body = pool();
    body["slots"] = slots == "none" ? json() : json(std::stoll(slots));
    Print(Admin(g, "spot/set-capacity", body));
  });
  auto* set_mode = spot->add_subcommand("set-mode", "A region's pricing mode");
  set_mode->add_option("--region", region, "Region (default: the daemon's home)");
  set_mode->add_option("mode", mode, "auction, smoothed or ar1")->required();
  set_mode->callback([&g] {
    json body = {{"mode", mode}};
    if (!region.empty()) body["region"] = region;
    Print(Admin(g, "spot/set-mode", body));
  });
  auto* interrupt =
      spot->add_subcommand("interrupt", "Interrupt a spot instance now, with its 2-minute notice");
  interrupt->add_option("instance", instance, "i-…")->required();
  interrupt->add_option("--reason", reason, "capacity, price or experiment");
  interrupt->callback([&g] {
    Print(Admin(g, "spot/interrupt", {{"instance_id", instance}, {"reason", reason}}));
  });
  auto* rebalance = spot->add_subcommand("rebalance", "Send a rebalance recommendation");
  rebalance->add_option("instance", instance, "i-…")->required();
  rebalance->callback([&g] { Print(Admin(g, "spot/rebalance", {{"instance_id", instance}})); });
}

}  // namespace kumo::cli

// kumo bill and kumo ls: a tenant's money in the terminal, from KumoBilling.GetBill (the ledger
// at the time of the call) and DescribeInstances.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.h"
#include "cli/http_client.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

json GetBill(const Credentials& creds, const json& input) {
  auto r = JsonCall(creds, "ce", "KumoBilling.GetBill", input.dump());
  if (!r.ok()) Fail(std::string(r.status().message()));
  json out = json::parse(*r, nullptr, false);
  if (out.is_discarded()) Fail("kumod answered something that is not JSON");
  return out;
}

std::string Label(const json& row) {
  std::string name = row.value("Name", "");
  return name.empty() ? row.value("InstanceId", "")
                      : row.value("InstanceId", "") + " (" + name + ")";
}

void PrintBill(const json& b) {
  fmt::print("Account {} · {} · as of {}\n", b.value("AccountId", ""), b.value("Month", ""),
             b.value("AsOf", ""));
  fmt::print("  {:<24}${}\n",
             b.value("Estimated", false) ? "Month to date:" : "Month total:", b.value("Total", ""));
  if (b.value("Estimated", false)) {
    fmt::print("  {:<24}${}  (if what runs now keeps running)\n",
               "Forecast for the month:", b.value("Forecast", ""));
  }
  if (b["FreeTier"].is_object()) {
    fmt::print("  {:<24}{} of {} hours used, {} left\n",
               "Free Tier:", b["FreeTier"].value("HoursUsed", ""),
               b["FreeTier"].value("HoursLimit", ""), b["FreeTier"].value("HoursLeft", ""));
  }
  auto table = [](const char* title, const json& rows, auto&& label) {
    if (rows.empty()) return;
    fmt::print("\n{}\n", title);
    for (const auto& r : rows) {
      fmt::print("  {:<48} {:>14} h {:>14}\n", label(r), r.value("Hours", ""),
                 "$" + r.value("Cost", ""));
    }
  };
  table("By instance", b["ByInstance"], [](const json& r) {
    return fmt::format("{} {} {}", Label(r), r.value("InstanceType", ""), r.value("Market", ""));
  });
  table("By instance type", b["ByType"],
        [](const json& r) { return r.value("InstanceType", std::string()); });
  table("By Name tag", b["ByName"], [](const json& r) {
    std::string n = r.value("Name", "");
    return n.empty() ? std::string("(no Name tag)") : n;
  });
  if (b.contains("Budget") && b["Budget"].is_object()) {
    const json& budget = b["Budget"];
    fmt::print("\nBudget: ${} a month, {}% spent; alerts at {}%, then {}\n",
               budget.value("MonthlyLimit", ""), budget.value("Percent", ""),
               budget["Alerts"].dump(), budget.value("Action", ""));
    for (const auto& a : budget["Actions"]) {
      fmt::print("  {} {}\n", a.value("At", ""), a.value("Message", ""));
    }
  }
  if (!b["Running"].empty()) {
    fmt::print("\nRunning now\n");
    for (const auto& r : b["Running"]) {
      fmt::print("  {:<48} {} for {} h at ${}/h: ${} so far\n", Label(r),
                 r.value("InstanceType", ""), r.value("AgeHours", ""), r.value("Hourly", ""),
                 r.value("CostSoFar", ""));
    }
  }
}

}  // namespace

void AddBillCommands(CLI::App& app, Globals& g) {
  static std::string profile = "default", month;
  static bool as_json = false, as_csv = false;
  auto* bill = app.add_subcommand("bill", "The month's bill of an aws profile's account");
  bill->add_option("--profile", profile, "The aws profile whose keys to use");
  bill->add_option("--month", month, "Which month (YYYY-MM; default: this one)");
  bill->add_flag("--json", as_json, "Print the bill as JSON");
  bill->add_flag("--csv", as_csv, "Print the usage lines as a Cost and Usage Report CSV");
  bill->callback([&g] {
    auto creds = ProfileCredentials(profile, g.data_dir);
    if (!creds.ok()) Fail(std::string(creds.status().message()));
    json input = json::object();
    if (!month.empty()) input["Month"] = month;
    if (as_csv) input["Format"] = "csv";
    json b = GetBill(*creds, input);
    if (as_csv) {
      std::cout << b.value("Csv", "");
    } else if (as_json) {
      std::cout << b.dump(2) << std::endl;
    } else {
      PrintBill(b);
    }
  });

  static std::string ls_profile = "default";
  auto* ls = app.add_subcommand("ls", "An aws profile's instances: state, age and cost so far");
  ls->add_option("--profile", ls_profile, "The aws profile whose keys to use");
  ls->callback([&g] {
    auto creds = ProfileCredentials(ls_profile, g.data_dir);
    if (!creds.ok()) Fail(std::string(creds.status().message()));
    json b = GetBill(*creds, json::object());
    std::map<std::string, json> running;
    for (const auto& r : b["Running"]) running[r.value("InstanceId", "")] = r;
    auto xml = Ec2Call(*creds, "DescribeInstances", {});
    if (!xml.ok()) Fail(std::string(xml.status().message()));
    auto ids = XmlTexts(*xml, "instanceId"), types = XmlTexts(*xml, "instanceType");
    auto states = XmlTexts(*xml, "name");  // instanceState/name, the only <name> in an item
    // The GPUs each holds: the elastic GPU associations inside each instance item (the
    // reservationSet/item/instancesSet/item level, two <item>s deep; the group items at that
    // depth hold no <instanceId>). The members are in name order, so an item's associations
    // come before its <instanceId>.
    std::vector<size_t> gpus;
    int depth = 0;
    size_t start = 0;
    for (size_t at = xml->find("<item"); at != std::string::npos; at = xml->find("<item", at + 1)) {
      if (xml->compare(at, 6, "<item>") != 0) continue;
      if (++depth == 2) start = at;
      size_t close = xml->find("</item>", at);
      // Closing tags between this <item> and the next one end the items they belong to.
      size_t next = xml->find("<item>", at + 1);
      while (close != std::string::npos && (next == std::string::npos || close < next)) {
        if (depth == 2) {
          std::string item = xml->substr(start, close - start);
          if (item.find("<instanceId>") != std::string::npos)
            gpus.push_back(XmlTexts(item, "elasticGpuId").size());
        }
        --depth;
        close = xml->find("</item>", close + 1);
      }
    }
    fmt::print("{:<21} {:<13} {:<12} {:>4} {:>10} {:>12} {:>14}\n", "INSTANCE", "TYPE", "STATE",
               "GPUS", "AGE (h)", "$/h", "COST SO FAR");
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = running.find(ids[i]);
      bool up = it != running.end();
      fmt::print("{:<21} {:<13} {:<12} {:>4} {:>10} {:>12} {:>14}\n", ids[i],
                 i < types.size() ? types[i] : "", i < states.size() ? states[i] : "",
                 i < gpus.size() && gpus[i] ? std::to_string(gpus[i]) : "-",
                 up ? it->second.value("AgeHours", "") : "-",
                 up ? it->second.value("Hourly", "") : "-",
                 up ? "$" + it->second.value("CostSoFar", "") : "-");
    }
  });
}

void AddBudgetCommands(CLI::App& app, Globals& g) {
  static std::string profile = "default", limit, action = "notify-only", webhook;
  static std::vector<std::string> alerts;
  auto* budget =
      app.add_subcommand("budget", "A monthly budget that acts (an aws profile's account)");
  budget->add_option("--profile", profile, "The aws profile whose keys to use");
  budget->require_subcommand(1);
  auto creds = [&g] {
    auto c = ProfileCredentials(profile, g.data_dir);
    if (!c.ok()) Fail(std::string(c.status().message()));
    return *c;
  };
  auto call = [](const Credentials& c, const std::string& op, const json& body) {
    auto r = JsonCall(c, "ce", "KumoBilling." + op, body.dump());
    if (!r.ok()) Fail(std::string(r.status().message()));
    std::cout << json::parse(*r, nullptr, false).dump(2) << std::endl;
  };
  auto* set = budget->add_subcommand(
      "set", "Set the budget: at each alert Kumo notifies (log, webhook) and takes the action");
  set->add_option("--monthly", limit, "USD per calendar month")->required();
  set->add_option("--alert", alerts, "A threshold in percent of the budget (repeatable; 100%)");
  set->add_option("--action", action, "stop-instances, terminate-spot or notify-only")
      ->check(CLI::IsMember({"stop-instances", "terminate-spot", "notify-only"}));
  set->add_option("--webhook", webhook, "An http:// URL that receives each notification (JSON)");
  set->callback([creds, call] {
    json percents = json::array();
    for (std::string a : alerts) {
      if (!a.empty() && a.back() == '%') a.pop_back();
      try {
        size_t used = 0;
        int p = std::stoi(a, &used);
        if (used != a.size()) throw std::invalid_argument(a);
        percents.push_back(p);
      } catch (const std::exception&) {
        Fail("--alert takes a percentage such as 80%, not " + a);
      }
    }
    if (percents.empty()) percents.push_back(100);
    call(creds(), "SetBudget",
         {{"MonthlyLimit", limit}, {"Alerts", percents}, {"Action", action}, {"Webhook", webhook}});
  });
  budget->add_subcommand("show", "The budget, this month's spend and actions")
      ->callback([creds, call] { call(creds(), "GetBudget", json::object()); });
  budget->add_subcommand("delete", "Remove the budget")->callback([creds, call] {
    call(creds(), "DeleteBudget", json::object());
  });
}

void AddIdleStopCommands(CLI::App& app, Globals& g) {
  static std::string profile = "default";
  static int64_t minutes = 30;
  static double cpu_below = 5;
  auto* idle = app.add_subcommand(
      "idle-stop", "Stop the account's instances that sit idle (no SSH session, little CPU)");
  idle->add_option("--profile", profile, "The aws profile whose keys to use");
  idle->require_subcommand(1);
  auto call = [&g](const std::string& op, const json& body) {
    auto c = ProfileCredentials(profile, g.data_dir);
    if (!c.ok()) Fail(std::string(c.status().message()));
    auto r = JsonCall(*c, "ce", "KumoBilling." + op, body.dump());
    if (!r.ok()) Fail(std::string(r.status().message()));
    std::cout << json::parse(*r, nullptr, false).dump(2) << std::endl;
  };
  auto* set = idle->add_subcommand(
      "set", "Every instance of the account (unless its kumo:idle-stop tag says otherwise)");
  set->add_option("--minutes", minutes, "Idle this long, then stopped")->required();
  set->add_option("--cpu-below", cpu_below, "Idle means CPU below this percentage (default 5)");
  set->callback([call] { call("SetIdlePolicy", {{"Minutes", minutes}, {"CpuBelow", cpu_below}}); });
  idle->add_subcommand("show", "The account's policy")->callback([call] {
    call("GetIdlePolicy", json::object());
  });
  idle->add_subcommand("delete", "No account-wide policy (tags still apply)")->callback([call] {
    call("DeleteIdlePolicy", json::object());
  });
}

void AddAdminBillingCommands(CLI::App& app, Globals& g) {
  CLI::App* admin = app.get_subcommand("admin");
  auto* billing =
      admin->add_subcommand("billing", "Prices, Free Tier terms and any account's bill");
  billing->require_subcommand(1);

  static std::string type, region, price;
  auto* set_price = billing->add_subcommand(
      "set-price",
      "Change an instance type's On-Demand price from now on (recorded in the ledger)");
  set_price->add_option("--instance-type", type, "Instance type")->required();
  set_price->add_option("--price", price, "USD per hour")->required();
  set_price->add_option("--region", region, "Region (default: the home region)");
  set_price->callback([&g] {
    json body = {{"instance_type", type}, {"price", price}};
    if (!region.empty()) body["region"] = region;
    std::cout << Admin(g, "billing/set-price", body).dump(2) << std::endl;
  });

  static std::string account;
  static std::optional<bool> enabled;
  static std::optional<int64_t> hours, months;
  auto* free_tier = billing->add_subcommand(
      "free-tier", "Change the Free Tier terms of every account, or of one (--account)");
  free_tier->add_option("--account", account, "Account id (default: every account)");
  free_tier->add_option("--enabled", enabled, "true or false");
  free_tier->add_option("--hours", hours, "Free hours per calendar month");
  free_tier->add_option("--months", months, "For how many months after the account's creation");
  free_tier->callback([&g] {
    json body = json::object();
    if (!account.empty()) body["account_id"] = account;
    if (enabled) body["enabled"] = *enabled;
    if (hours) body["hours_per_month"] = *hours;
    if (months) body["months"] = *months;
    std::cout << Admin(g, "billing/free-tier", body).dump(2) << std::endl;
  });

  static std::string invoice_account, invoice_month, invoice_out;
  auto* invoice = admin->add_subcommand("invoice", "An account's invoice for a month (HTML)");
  invoice->add_option("account", invoice_account, "Account id")->required();
  invoice->add_option("--month", invoice_month, "YYYY-MM (default: this month, to date)");
  invoice->add_option("--out", invoice_out, "Write the HTML here (default: stdout)");
  invoice->callback([&g] {
    json body = {{"account_id", invoice_account}};
    if (!invoice_month.empty()) body["month"] = invoice_month;
    json out = Admin(g, "billing/invoice", body);
    if (invoice_out.empty()) {
      std::cout << out.value("html", "");
      return;
    }
    std::ofstream file(invoice_out);
    file << out.value("html", "");
    if (!file.flush()) Fail("Cannot write " + invoice_out);
    std::cerr << "kumo: invoice written to " << invoice_out << " (total USD "
              << out.value("total", "") << ")" << std::endl;
  });

  static std::string bill_account, bill_month;
  auto* bill = billing->add_subcommand("bill", "An account's bill, as its owner sees it (JSON)");
  bill->add_option("account", bill_account, "Account id")->required();
  bill->add_option("--month", bill_month, "YYYY-MM (default: this month)");
  bill->callback([&g] {
    json body = {{"account_id", bill_account}};
    if (!bill_month.empty()) body["Month"] = bill_month;
    std::cout << Admin(g, "billing/bill", body).dump(2) << std::endl;
  });
}

}  // namespace kumo::cli

#include "services/invoice.h"

#include <fmt/format.h>

#include <map>

#include "absl/time/time.h"

namespace kumo::services {

namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Date(int64_t ms, const char* format = "%Y-%m-%d") {
  return absl::FormatTime(format, absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

std::string Hours(int64_t ms) {
  int64_t micro_hours = (ms * 10 + 18) / 36;
  return fmt::format("{}.{:06d}", micro_hours / 1'000'000, micro_hours % 1'000'000);
}

constexpr const char* kStyle = R"css(
body { font: 14px/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1d2730; margin: 40px; }
header { display: flex; justify-content: space-between; border-bottom: 3px solid #2c5d8a; }
h1 { font-size: 26px; margin: 0 0 8px; color: #2c5d8a; }
h2 { font-size: 16px; margin: 28px 0 8px; }
.meta td { padding: 1px 12px 1px 0; }
.meta td:first-child { color: #5a6772; }
table.lines { border-collapse: collapse; width: 100%; }
table.lines th { text-align: left; background: #eef3f7; padding: 6px 8px; font-weight: 600; }
table.lines td { padding: 5px 8px; border-bottom: 1px solid #e3e8ec; vertical-align: top; }
table.lines td.num, table.lines th.num { text-align: right; white-space: nowrap;
                                         font-variant-numeric: tabular-nums; }
tr.free td { color: #2d7a3a; }
td.id, td.when { white-space: nowrap; }
.total { margin-top: 18px; text-align: right; font-size: 20px; }
.total strong { color: #2c5d8a; }
.note { color: #5a6772; font-size: 12px; margin-top: 28px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 9px; background: #fff2cc;
         color: #7a5b00; font-size: 12px; margin-left: 8px; }
@media print { body { margin: 12mm; } }
)css";

}  // namespace

std::string InvoiceHtml(const billing::Bill& bill, const store::Account& account) {
  bool estimated = bill.as_of_ms < bill.month_end_ms;
  std::string month = Date(bill.month_start_ms, "%B %Y");
  std::string number = fmt::format("KUMO-{}-{}", account.id, Date(bill.month_start_ms, "%Y%m"));
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>Invoice {0}</title><style>{1}</style></head><body>\n"
      "<header><div><h1>Invoice{2}</h1><p>Kumo compute cloud</p></div>"
      "<table class=\"meta\"><tr><td>Invoice</td><td>{0}</td></tr>"
      "<tr><td>Period</td><td>{3} ({4} to {5}, UTC)</td></tr>"
      "<tr><td>Account</td><td>{6} ({7})</td></tr>"
      "<tr><td>Contact</td><td>{8}</td></tr>"
      "<tr><td>{9}</td><td>{10}</td></tr></table></header>\n",
      number, kStyle, estimated ? "<span class=\"badge\">month to date, estimated</span>" : "",
      month, Date(bill.month_start_ms), Date(bill.month_end_ms - 1), Escape(account.name),
      account.id, Escape(account.email.empty() ? "-" : account.email),
      estimated ? "As of" : "Issued", Date(bill.as_of_ms, "%Y-%m-%d %H:%M"));

  // Summary by usage type.
  struct Sum {
    double quantity = 0;  // hours, or GiB-months of storage
    bool volume = false;
    billing::ExactCost cost = 0;
  };
  std::map<std::string, Sum> by_type;
  for (const auto& l : bill.lines) {
    Sum& s = by_type[billing::AwsUsageType(l)];
    s.quantity += billing::UsageQuantity(l.usage);
    s.volume = billing::IsVolumeLine(l.usage);
    s.cost += l.usage.cost;
  }
  html +=
      "<h2>Summary</h2><table class=\"lines\"><tr><th>Amazon EC2 usage type</th>"
      "<th class=\"num\">Quantity</th><th class=\"num\">Amount (USD)</th></tr>\n";
  for (const auto& [type, s] : by_type) {
    html +=
        fmt::format("<tr{}><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                    s.cost == 0 ? " class=\"free\"" : "", Escape(type),
                    fmt::format("{:.6f} {}", s.quantity, s.volume ? "GB-Mo" : "h"),
                    billing::FormatUsd(billing::RoundToMicros(s.cost)));
  }
  html += "</table>\n";
  if (bill.free_tier_limit_ms > 0) {
    html += fmt::format(
        "<p>Free Tier: {} of {} hours of t1/t2/t3.micro and {:.6f} of {:.6f} GB-months of EBS "
        "storage used this month (shown at $0).</p>\n",
        Hours(bill.free_tier_used_ms), Hours(bill.free_tier_limit_ms),
        double(bill.volume_free_used) / double(bill.month_end_ms - bill.month_start_ms),
        double(bill.volume_free_limit) / double(bill.month_end_ms - bill.month_start_ms));
  }

  html +=
      "<h2>Usage lines</h2><table class=\"lines\"><tr><th>Instance</th><th>Usage</th>"
      "<th>From – to (UTC)</th><th class=\"num\">Hours</th>"
      "<th class=\"num\">Rate (USD)</th><th class=\"num\">Amount (USD)</th></tr>\n";
  for (const auto& l : bill.lines) {
    const auto& u = l.usage;
    auto name = l.tags.find("Name");
    std::string instance =
        Escape(u.instance_id) +
        (name == l.tags.end() ? "" : "<br><small>" + Escape(name->second) + "</small>");
    bool volume = billing::IsVolumeLine(u);
    std::string detail = volume ? fmt::format("{} GiB, rate per GB-month", u.gib) : "";
    if (!u.note.empty()) detail += (detail.empty() ? "" : "; ") + u.note;
    std::string usage = Escape(billing::AwsUsageType(l)) +
                        (detail.empty() ? "" : "<br><small>" + Escape(detail) + "</small>");
    html += fmt::format(
        "<tr{}><td class=\"id\">{}</td><td>{}</td><td class=\"when\">{} – {}</td>"
        "<td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
        u.cost == 0 ? " class=\"free\"" : "", instance, usage, Date(u.start_ms, "%m-%d %H:%M:%S"),
        Date(u.end_ms, "%m-%d %H:%M:%S"), Hours(u.billed_ms),
        billing::FormatUsd(u.cost == 0 ? 0 : u.hourly),
        billing::FormatUsd(billing::RoundToMicros(u.cost)));
  }
  if (bill.lines.empty()) html += "<tr><td colspan=\"6\">No usage this month.</td></tr>\n";
  html += "</table>\n";
  html += fmt::format("<p class=\"total\">{}: <strong>USD {}</strong></p>\n",
                      estimated ? "Month to date" : "Total due", billing::FormatUsd(bill.total));
  if (estimated) {
    html += fmt::format("<p class=\"total\">Forecast for the month: USD {}</p>\n",
                        billing::FormatUsd(bill.forecast));
  }
  html +=
      "<p class=\"note\">Every line is computed from Kumo's meter events: its amount is its billed "
      "time times its rate (On-Demand per second with a 60-second minimum per start; spot per "
      "instance-hour at the price when the hour began), kept exact and rounded half up to the "
      "micro-dollar. The total is rounded once from the exact sum.</p>\n</body></html>\n";
  return html;
}

}  // namespace kumo::services

// Billing: KumoBilling.GetBill for a month (the current one by default, live), its breakdowns as
// a bar chart and tables, the CSV export, and the account's budget (KumoBilling.SetBudget /
// DeleteBudget) with the actions it has taken this month.
// The data shapes and helpers are in billing_data.ts, the chart in billing_charts.tsx and the budget
// form in billing_budget.tsx, to keep each file short.
import { useMemo, useState } from "preact/hooks";
import type { PageProps } from "../main";
import { jsonCall } from "../api";
import { ErrorBox, PageHead, Table, age, download, usd, useNotice, usePoll, type Column } from "../ui";
import { color } from "../chart";
import {
  ACTIONS,
  MODES,
  dateOnly,
  dateTime,
  hours,
  items,
  monthName,
  num,
  recentMonths,
  tone,
  type Bill,
  type Budget,
  type ByVolume,
  type Item,
  type Line,
  type Mode,
  type Running,
} from "./billing_data";
import { Bar, BreakdownChart } from "./billing_charts";
import { BudgetEditor } from "./billing_budget";
import "./billing.css";

function MarketBadge({ market }: { market: string }) {
  return market === "spot" ? <span class="badge spot">spot</span> : <span class="badge">on-demand</span>;
}

export function Billing({ session }: PageProps) {
  const months = useMemo(() => recentMonths(12), []);
  const current = months[0];
  const [month, setMonth] = useState(current);
  const [mode, setMode] = useState<Mode>("instance");
  const [csvBusy, setCsvBusy] = useState(false);
  const { notice, ok, fail } = useNotice();

  const data = usePoll(
    async () => {
      // No Month for the current one: that is how GetBill includes the budget.
      const bill = await jsonCall<Bill>(session, "KumoBilling.GetBill", month === current ? {} : { Month: month });
      let budget = bill.Budget;
      if (budget === undefined) {
        const b = await jsonCall<{ Budget: Budget | null }>(session, "KumoBilling.GetBudget", {});
        budget = b.Budget ?? null;
      }
      return { bill, budget };
    },
    [session, month, current],
    10_000,
  );
  const bill = data.data?.bill;
  const budget = data.data?.budget;
  const isCurrent = month === current;
  const list = useMemo(() => items(bill, mode), [bill, mode]);

  const downloadCsv = async () => {
    const m = bill?.Month ?? month;
    setCsvBusy(true);
    try {
      const r = await jsonCall<{ Csv: string }>(session, "KumoBilling.GetBill", { Month: m, Format: "csv" });
      download(`kumo-bill-${m}.csv`, r.Csv ?? "", "text/csv");
    } catch (e) {
      fail(e);
    } finally {
      setCsvBusy(false);
    }
  };

  const free = bill?.FreeTier;
  const freePct = free && num(free.HoursLimit) > 0 ? (100 * num(free.HoursUsed)) / num(free.HoursLimit) : 0;
  const budgetPct = budget ? num(budget.Percent) : 0;

  const breakdownColumns: Column<Item>[] = [
    {
      key: "label",
      label: mode === "instance" ? "Instance" : mode === "type" ? "Instance type" : "Name tag",
      value: (i) => i.label,
      render: (i) =>
        mode === "instance" ? (
          i.name ? (
            <span>
              {i.name} <span class="mono muted">{i.key}</span>
            </span>
          ) : (
            <span class="mono">{i.key}</span>
          )
        ) : mode === "name" && i.key === "\u0000" ? (
          <span class="muted">(no Name tag)</span>
        ) : (
          i.label
        ),
    },
    ...(mode === "instance"
      ? [
          { key: "type", label: "Type", value: (i: Item) => i.detail ?? "" },
          {
            key: "market",
            label: "Market",
            value: (i: Item) => i.market ?? "",
            render: (i: Item) => <MarketBadge market={i.market ?? ""} />,
          },
        ]
      : mode === "name"
        ? [{ key: "detail", label: "Includes", value: (i: Item) => i.detail ?? "", render: (i: Item) => <span class="muted">{i.detail ?? ""}</span> }]
        : []),
    { key: "hours", label: "Hours", numeric: true, value: (i) => num(i.hours), render: (i) => hours(i.hours) },
    { key: "cost", label: "Cost", numeric: true, value: (i) => i.cost, render: (i) => usd(i.cost) },
  ];

  return (
    <div class="billing-page">
      <PageHead title="Billing">
        <label class="bill-month" for="billing-month">
          Month
          <select id="billing-month" value={month} onChange={(e) => setMonth((e.target as HTMLSelectElement).value)}>
            {months.map((m, i) => (
              <option value={m}>
                {monthName(m)}
                {i === 0 ? " (this month)" : ""}
              </option>
            ))}
          </select>
        </label>
        <button id="billing-csv" onClick={downloadCsv} disabled={csvBusy || !bill}>
          {csvBusy ? "Preparing…" : "Download CSV"}
        </button>
      </PageHead>
      {bill && (
        <p class="muted bill-period">
          Account <span class="mono">{bill.AccountId}</span> · {dateOnly(bill.Start)} – {dateOnly(new Date(new Date(bill.End).getTime() - 1).toISOString())}{" "}
          (UTC) · {bill.Estimated ? <>as of {dateTime(bill.AsOf)} · <span class="badge">estimated</span></> : <span class="badge free">final</span>}
        </p>
      )}
      {notice}
      <ErrorBox error={data.error} />

      <div class="cards bill-cards">
        <section class="card" aria-labelledby="bill-total-label">
          <div class="metric-label" id="bill-total-label">
            {isCurrent ? "Month to date" : "Total"}
          </div>
          <div class="metric" id="bill-total">
            {bill ? usd(bill.Total) : "…"}
          </div>
          <div class="muted bill-sub">
            {bill ? `${bill.ByInstance.length} instances · ${bill.ByVolume.length} volumes` : ""}
          </div>
        </section>
        <section class="card" aria-labelledby="bill-forecast-label">
          <div class="metric-label" id="bill-forecast-label">
            Forecast
          </div>
          <div class="metric" id="bill-forecast">
            {bill ? usd(bill.Forecast) : "…"}
          </div>
          <div class="muted bill-sub">
            {bill
              ? bill.Estimated
                ? `for ${monthName(bill.Month)} at the current rate`
                : "the month is over"
              : ""}
          </div>
        </section>
        <section class="card" aria-labelledby="bill-free-label">
          <div class="metric-label" id="bill-free-label">
            Free tier
          </div>
          {free ? (
            <>
              <div class="metric" id="bill-free">
                {hours(free.HoursUsed)} <span class="metric-unit">/ {hours(free.HoursLimit)} h</span>
              </div>
              <Bar percent={freePct} label="Free tier hours used" tone={freePct >= 100 ? "danger" : freePct >= 80 ? "warn" : "accent"} />
              <div class="muted bill-sub">
                {hours(free.HoursLeft)} hours {isCurrent ? "left this month" : "unused"}
              </div>
            </>
          ) : (
            <>
              <div class="metric muted">—</div>
              <div class="muted bill-sub">{bill ? "No free tier on this account" : ""}</div>
            </>
          )}
        </section>
        <section class={`card bill-budget-card ${budget && isCurrent ? `tone-${tone(budgetPct)}` : ""}`} aria-labelledby="bill-budget-label">
          <div class="metric-label" id="bill-budget-label">
            Budget
          </div>
          {budget ? (
            isCurrent ? (
              <>
                <div class="metric" id="bill-budget">
                  {usd(budget.Spent)} <span class="metric-unit">/ {usd(budget.MonthlyLimit)}</span>
                </div>
                <Bar percent={budgetPct} label="Budget used" tone={tone(budgetPct)} />
                <div class={`bill-sub bill-pct tone-text-${tone(budgetPct)}`}>
                  {budgetPct.toFixed(1)}% used
                  {budget.Actions?.length ? ` · ${budget.Actions.length} alert${budget.Actions.length > 1 ? "s" : ""} fired` : ""}
                </div>
              </>
            ) : (
              <>
                <div class="metric">{usd(budget.MonthlyLimit)}</div>
                <div class="muted bill-sub">a month; budgets apply to the current month</div>
              </>
            )
          ) : (
            <>
              <div class="metric muted">None</div>
              <button
                class="link bill-sub"
                onClick={() => {
                  const el = document.getElementById("budget-limit");
                  el?.scrollIntoView({ behavior: "smooth", block: "center" });
                  el?.focus({ preventScroll: true });
                }}
              >
                Set a budget
              </button>
            </>
          )}
        </section>
      </div>

      {budget && isCurrent && budgetPct >= 100 && (
        <div class="warning" role="status">
          This month's spending has reached {budgetPct.toFixed(0)}% of the {usd(budget.MonthlyLimit)} budget
          {budget.Action !== "notify-only" ? ` (action: ${ACTIONS.find((a) => a.value === budget.Action)?.label ?? budget.Action})` : ""}.
        </div>
      )}

      <section class="card" aria-labelledby="bill-breakdown-title">
        <div class="bill-section-head">
          <h2 id="bill-breakdown-title">Cost breakdown</h2>
          <div class="segmented" role="group" aria-label="Break down cost">
            {MODES.map((m) => (
              <button
                id={`billing-by-${m.value}`}
                aria-pressed={mode === m.value}
                class={mode === m.value ? "on" : ""}
                onClick={() => setMode(m.value)}
              >
                {m.label}
              </button>
            ))}
          </div>
        </div>
        {mode === "instance" && list.some((i) => i.market === "spot") && (
          <p class="bill-legend muted">
            <span class="swatch" style={{ background: color(0) }} /> on-demand <span class="swatch" style={{ background: color(1) }} /> spot
          </p>
        )}
        <BreakdownChart list={list} mode={mode} />
      </section>
      <Table<Item>
        label={`Cost ${MODES.find((m) => m.value === mode)!.label.toLowerCase()}`}
        columns={breakdownColumns}
        rows={bill ? list : undefined}
        rowKey={(i) => i.key}
        initialSort="cost"
        initialDir={-1}
        empty="No usage this month."
      />

      {(isCurrent || (bill?.Running.length ?? 0) > 0) && (
        <>
          <h2 class="bill-h2">Running now</h2>
          <Table<Running>
            label="Running instances"
            rows={bill?.Running}
            rowKey={(r) => r.InstanceId}
            initialSort="cost"
            initialDir={-1}
            empty="Nothing is running: nothing is accruing cost."
            columns={[
              {
                key: "id",
                label: "Instance",
                value: (r) => `${r.Name} ${r.InstanceId}`,
                render: (r) => (
                  <span>
                    {r.Name && <>{r.Name} </>}
                    <span class={r.Name ? "mono muted" : "mono"}>{r.InstanceId}</span>
                  </span>
                ),
              },
              { key: "type", label: "Type", value: (r) => r.InstanceType },
              { key: "market", label: "Market", value: (r) => r.Market, render: (r) => <MarketBadge market={r.Market} /> },
              {
                key: "since",
                label: "Running for",
                numeric: true,
                value: (r) => num(r.AgeHours),
                render: (r) => <span title={dateTime(r.Since)}>{age(r.Since)}</span>,
              },
              { key: "hourly", label: "Hourly", numeric: true, value: (r) => num(r.Hourly), render: (r) => `${usd(r.Hourly, 4)}/h` },
              {
                key: "cost",
                label: "Cost so far",
                numeric: true,
                value: (r) => num(r.CostSoFar),
                render: (r) => <strong>{usd(r.CostSoFar)}</strong>,
              },
            ]}
          />
        </>
      )}

      <h2 class="bill-h2">Volumes</h2>
      <Table<ByVolume>
        label="Volume costs"
        rows={bill?.ByVolume}
        rowKey={(v) => v.VolumeId}
        initialSort="cost"
        initialDir={-1}
        empty="No volume storage this month."
        columns={[
          {
            key: "id",
            label: "Volume",
            value: (v) => `${v.Name} ${v.VolumeId}`,
            render: (v) => (
              <span>
                {v.Name && <>{v.Name} </>}
                <span class={v.Name ? "mono muted" : "mono"}>{v.VolumeId}</span>
              </span>
            ),
          },
          { key: "type", label: "Type", value: (v) => v.VolumeType },
          {
            key: "gib",
            label: "GiB-months",
            numeric: true,
            value: (v) => num(v.GibMonths),
            render: (v) => num(v.GibMonths).toFixed(3),
          },
          { key: "cost", label: "Cost", numeric: true, value: (v) => num(v.Cost), render: (v) => usd(v.Cost) },
        ]}
      />

      {bill && bill.Lines.length > 0 && (
        <details class="card bill-lines">
          <summary>
            <strong>Usage lines</strong> <span class="muted">({bill.Lines.length})</span>
          </summary>
          <Table<Line>
            label="Usage lines"
            rows={bill.Lines}
            rowKey={(l) => `${l.InstanceId ?? l.VolumeId}/${l.UsageType}/${l.Start}`}
            initialSort="start"
            columns={[
              {
                key: "resource",
                label: "Resource",
                value: (l) => l.InstanceId ?? l.VolumeId ?? "",
                render: (l) => <span class="mono">{l.InstanceId ?? l.VolumeId}</span>,
              },
              { key: "usage", label: "Usage type", value: (l) => l.UsageType },
              { key: "start", label: "Start", value: (l) => l.Start, render: (l) => dateTime(l.Start) },
              { key: "end", label: "End", value: (l) => l.End, render: (l) => dateTime(l.End) },
              {
                key: "qty",
                label: "Quantity",
                numeric: true,
                value: (l) => num(l.Hours ?? l.GibMonths),
                render: (l) => (l.Hours !== undefined ? `${hours(l.Hours)} h` : `${num(l.GibMonths).toFixed(4)} GiB-mo`),
              },
              {
                key: "rate",
                label: "Rate",
                numeric: true,
                value: (l) => num(l.Rate),
                render: (l) => `${usd(l.Rate, 4)}/${l.RateUnit === "GB-Mo" ? "GB-mo" : "h"}`,
              },
              { key: "cost", label: "Cost", numeric: true, value: (l) => num(l.Cost), render: (l) => usd(l.Cost) },
              { key: "note", label: "Note", value: (l) => l.Note ?? "", render: (l) => <span class="muted">{l.Note}</span> },
            ]}
          />
        </details>
      )}

      <BudgetEditor
        budget={budget}
        session={session}
        loaded={data.data !== undefined}
        onChanged={(text) => {
          ok(text);
          data.reload();
        }}
      />
    </div>
  );
}

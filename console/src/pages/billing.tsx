// Billing: KumoBilling.GetBill for a month (the current one by default, live), its breakdowns as
// a bar chart and tables, the CSV export, and the account's budget (KumoBilling.SetBudget /
// DeleteBudget) with the actions it has taken this month.
import { useEffect, useMemo, useState } from "preact/hooks";
import type { PageProps } from "../main";
import { jsonCall } from "../api";
import { Confirm, ErrorBox, PageHead, Table, age, download, usd, useNotice, usePoll, type Column } from "../ui";
import { color, useChart } from "../chart";
import "./billing.css";

interface FreeTier {
  HoursUsed: string;
  HoursLimit: string;
  HoursLeft: string;
}
interface ByInstance {
  InstanceId: string;
  InstanceType: string;
  Name: string;
  Market: string;
  Hours: string;
  Cost: string;
}
interface ByType {
  InstanceType: string;
  Hours: string;
  Cost: string;
}
interface ByName {
  Name: string;
  Hours: string;
  Cost: string;
  VolumeGibMonths?: string;
}
interface ByVolume {
  VolumeId: string;
  VolumeType: string;
  Name: string;
  GibMonths: string;
  Cost: string;
}
interface Running {
  InstanceId: string;
  InstanceType: string;
  Name: string;
  Market: string;
  Since: string;
  AgeHours: string;
  Hourly: string;
  CostSoFar: string;
}
interface Line {
  InstanceId?: string;
  VolumeId?: string;
  InstanceType?: string;
  VolumeType?: string;
  UsageType: string;
  Start: string;
  End: string;
  Hours?: string;
  GibMonths?: string;
  Rate: string;
  RateUnit?: string;
  Cost: string;
  Note?: string;
}
interface BudgetAction {
  Percent: number;
  At: string;
  Spent: string;
  Action: string;
  Instances: string[];
  Message: string;
}
interface Budget {
  MonthlyLimit: string;
  Alerts: number[];
  Action: string;
  Webhook: string;
  Spent: string;
  Percent: string;
  Actions: BudgetAction[];
}
interface Bill {
  AccountId: string;
  Month: string;
  Start: string;
  End: string;
  AsOf: string;
  Currency: string;
  Total: string;
  Forecast: string;
  Estimated: boolean;
  FreeTier: FreeTier | null;
  ByInstance: ByInstance[];
  ByType: ByType[];
  ByName: ByName[];
  ByVolume: ByVolume[];
  Running: Running[];
  Lines: Line[];
  Budget?: Budget | null;
}

const ACTIONS: { value: string; label: string; help: string }[] = [
  { value: "notify-only", label: "Notify only", help: "Record the alert and call the webhook; nothing is stopped." },
  {
    value: "stop-instances",
    label: "Stop on-demand instances",
    help: "At each alert, stop the account's running on-demand instances (their volumes stay and bill).",
  },
  {
    value: "terminate-spot",
    label: "Terminate spot instances",
    help: "At each alert, terminate the account's running spot instances.",
  },
];

type Mode = "instance" | "type" | "name";
const MODES: { value: Mode; label: string }[] = [
  { value: "instance", label: "By instance" },
  { value: "type", label: "By type" },
  { value: "name", label: "By Name tag" },
];

// The months GetBill accepts, newest first, in UTC as Kumo counts them.
function recentMonths(n = 12): string[] {
  const now = new Date();
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
    out.push(d.toISOString().slice(0, 7));
  }
  return out;
}

function monthName(m: string): string {
  const [y, mo] = m.split("-").map(Number);
  return new Date(Date.UTC(y, mo - 1, 1)).toLocaleDateString(undefined, {
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  });
}

function hours(v: string | number | undefined): string {
  const n = Number(v ?? 0);
  if (!isFinite(n)) return String(v);
  return n.toLocaleString(undefined, { maximumFractionDigits: n < 10 ? 2 : 1 });
}

function num(v: string | undefined): number {
  const n = Number(v ?? 0);
  return isFinite(n) ? n : 0;
}

function dateTime(iso: string | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function dateOnly(iso: string | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d.getTime())
    ? iso
    : d.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
}

function Bar({ percent, label, tone }: { percent: number; label: string; tone: string }) {
  const p = Math.max(0, Math.min(100, percent));
  return (
    <div
      class={`bill-bar tone-${tone}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(p)}
    >
      <span style={{ width: `${p}%` }} />
    </div>
  );
}

function tone(percent: number): string {
  return percent >= 100 ? "danger" : percent >= 80 ? "warn" : "ok";
}

function MarketBadge({ market }: { market: string }) {
  return market === "spot" ? <span class="badge spot">spot</span> : <span class="badge">on-demand</span>;
}

interface Item {
  key: string;
  label: string;
  name?: string;
  detail?: string;
  market?: string;
  hours: string;
  cost: number;
}

function items(bill: Bill | undefined, mode: Mode): Item[] {
  if (!bill) return [];
  const list: Item[] =
    mode === "instance"
      ? bill.ByInstance.map((i) => ({
          key: i.InstanceId,
          label: i.Name ? `${i.Name} (${i.InstanceId})` : i.InstanceId,
          name: i.Name,
          detail: i.InstanceType,
          market: i.Market,
          hours: i.Hours,
          cost: num(i.Cost),
        }))
      : mode === "type"
        ? bill.ByType.map((t) => ({ key: t.InstanceType, label: t.InstanceType, hours: t.Hours, cost: num(t.Cost) }))
        : bill.ByName.map((n) => ({
            key: n.Name || "\u0000",
            label: n.Name || "(no Name tag)",
            detail: n.VolumeGibMonths ? `incl. ${Number(n.VolumeGibMonths).toFixed(3)} GiB-months of volumes` : undefined,
            hours: n.Hours,
            cost: num(n.Cost),
          }));
  return list.sort((a, b) => b.cost - a.cost || a.label.localeCompare(b.label));
}

const CHART_BARS = 12;

function BreakdownChart({ list, mode }: { list: Item[]; mode: Mode }) {
  const shown = list.slice(0, CHART_BARS);
  const rest = list.slice(CHART_BARS);
  if (rest.length) {
    shown.push({
      key: "other",
      label: `${rest.length} more`,
      hours: "0",
      cost: rest.reduce((s, i) => s + i.cost, 0),
    });
  }
  const modeLabel = MODES.find((m) => m.value === mode)!.label.toLowerCase();
  const canvas = useChart<"bar">(
    () => ({
      type: "bar",
      data: {
        labels: shown.map((i) => i.name || i.label),
        datasets: [
          {
            label: "Cost (USD)",
            data: shown.map((i) => i.cost),
            backgroundColor: shown.map((i) =>
              i.key === "other" ? "#aab4c0" : i.market === "spot" ? color(1) : color(0),
            ),
            borderRadius: 3,
            maxBarThickness: 26,
          },
        ],
      },
      options: {
        indexAxis: "y",
        scales: {
          x: { beginAtZero: true, ticks: { callback: (v) => usd(Number(v)) }, grid: { color: "#eef1f4" } },
          y: {
            grid: { display: false },
            ticks: {
              autoSkip: false,
              // Long names would squeeze the bars on a phone: cut them to fit, the tooltip has them whole.
              callback: function (v) {
                const l = String(this.getLabelForValue(Number(v)));
                const max = this.chart.width < 480 ? 14 : 30;
                return l.length > max ? `${l.slice(0, max - 1)}…` : l;
              },
            },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (it) => shown[it[0]?.dataIndex ?? 0]?.label ?? "",
              label: (it) => {
                const i = shown[it.dataIndex];
                return i.key === "other" ? usd(i.cost) : `${usd(i.cost)} · ${hours(i.hours)} h`;
              },
            },
          },
        },
      },
    }),
    [list],
  );
  const total = list.reduce((s, i) => s + i.cost, 0);
  const summary =
    list.length === 0
      ? "No usage this month."
      : `Cost ${modeLabel}, ${list.length} ${list.length === 1 ? "entry" : "entries"}, ${usd(total)} in all: ` +
        list
          .slice(0, 5)
          .map((i) => `${i.label} ${usd(i.cost)}`)
          .join(", ") +
        (list.length > 5 ? ", and more in the table below." : ".");
  const height = Math.max(140, shown.length * 30 + 50);
  return (
    <div class="chart bill-chart" style={{ height: `${height}px` }}>
      <canvas ref={canvas} role="img" aria-label="Cost breakdown chart" aria-describedby="bill-chart-summary">
        {summary}
      </canvas>
      {list.length === 0 && <div class="chart-empty muted">No usage to chart this month.</div>}
      <p id="bill-chart-summary" class="sr-only">
        {summary}
      </p>
    </div>
  );
}

function BudgetEditor({
  budget,
  session,
  onChanged,
  loaded,
}: {
  budget: Budget | null | undefined;
  session: PageProps["session"];
  onChanged: (text: string) => void;
  loaded: boolean;
}) {
  const [limit, setLimit] = useState("");
  const [alerts, setAlerts] = useState("50, 80, 100");
  const [action, setAction] = useState("notify-only");
  const [webhook, setWebhook] = useState("");
  const [dirty, setDirty] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);

  // The stored budget fills the form until the user edits it.
  useEffect(() => {
    if (dirty || !loaded) return;
    if (budget) {
      setLimit(String(Number(budget.MonthlyLimit)));
      setAlerts((budget.Alerts ?? []).join(", "));
      setAction(budget.Action || "notify-only");
      setWebhook(budget.Webhook ?? "");
    } else {
      setLimit("");
      setAlerts("50, 80, 100");
      setAction("notify-only");
      setWebhook("");
    }
  }, [budget?.MonthlyLimit, budget?.Alerts?.join(","), budget?.Action, budget?.Webhook, budget === null, dirty, loaded]);

  const edit = (set: (v: string) => void) => (e: Event) => {
    set((e.target as HTMLInputElement).value);
    setDirty(true);
  };

  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const parts = alerts
      .split(/[,\s]+/)
      .map((s) => s.replace(/%$/, "").trim())
      .filter(Boolean);
    const nums = parts.map(Number);
    if (!parts.length || nums.some((n) => !Number.isInteger(n) || n < 1 || n > 1000)) {
      setError({ Code: "InvalidParameterValue", message: "Alerts are whole percentages from 1 to 1000, e.g. 50, 80, 100" });
      return;
    }
    const l = limit.trim().replace(/^\$/, "");
    if (!/^\d+(\.\d+)?$/.test(l) || Number(l) <= 0) {
      setError({ Code: "InvalidParameterValue", message: "The monthly limit is a positive USD amount, e.g. 20" });
      return;
    }
    const body: Record<string, unknown> = { MonthlyLimit: l, Alerts: nums, Action: action };
    if (webhook.trim()) body.Webhook = webhook.trim();
    setBusy(true);
    try {
      await jsonCall(session, "KumoBilling.SetBudget", body);
      setDirty(false);
      onChanged(`Budget saved: $${l} a month, alerts at ${nums.join("%, ")}%.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setError(null);
    setBusy(true);
    try {
      await jsonCall(session, "KumoBilling.DeleteBudget", {});
      setDirty(false);
      onChanged("Budget deleted.");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const help = ACTIONS.find((a) => a.value === action)?.help;
  return (
    <section class="card bill-budget" aria-labelledby="budget-title">
      <h2 id="budget-title">Budget</h2>
      <p class="muted bill-budget-lead">
        A monthly spending limit for this account. Kumo checks it as costs accrue and, at each alert threshold, records
        the alert, calls the webhook and takes the action.
      </p>
      <form id="budget-form" class="bill-budget-form" onSubmit={save}>
        <label class="field" for="budget-limit">
          Monthly limit (USD)
          <span class="bill-input-prefix">
            <span aria-hidden="true">$</span>
            <input
              id="budget-limit"
              name="limit"
              inputMode="decimal"
              placeholder="20"
              required
              value={limit}
              onInput={edit(setLimit)}
            />
          </span>
        </label>
        <label class="field" for="budget-alerts">
          Alerts (% of the limit)
          <input
            id="budget-alerts"
            name="alerts"
            placeholder="50, 80, 100"
            value={alerts}
            onInput={edit(setAlerts)}
            aria-describedby="budget-alerts-help"
          />
          <span id="budget-alerts-help" class="bill-help">
            Comma-separated, e.g. 50, 80, 100
          </span>
        </label>
        <label class="field" for="budget-action">
          Action
          <select id="budget-action" name="action" value={action} onChange={edit(setAction)} aria-describedby="budget-action-help">
            {ACTIONS.map((a) => (
              <option value={a.value}>{a.label}</option>
            ))}
          </select>
          <span id="budget-action-help" class="bill-help">
            {help}
          </span>
        </label>
        <label class="field" for="budget-webhook">
          Webhook URL (optional)
          <input
            id="budget-webhook"
            name="webhook"
            type="url"
            placeholder="http://hooks.example/kumo"
            value={webhook}
            onInput={edit(setWebhook)}
            aria-describedby="budget-webhook-help"
          />
          <span id="budget-webhook-help" class="bill-help">
            Kumo POSTs each alert as JSON (http:// only).
          </span>
        </label>
        <div class="bill-budget-buttons">
          <button class="primary" type="submit" id="budget-save" disabled={busy}>
            {busy ? "Saving…" : budget ? "Save budget" : "Create budget"}
          </button>
          {budget && (
            <button type="button" class="bill-delete" id="budget-delete" disabled={busy} onClick={() => setConfirmDelete(true)}>
              Delete budget
            </button>
          )}
          {dirty && (
            <button type="button" class="link" onClick={() => setDirty(false)}>
              Discard changes
            </button>
          )}
        </div>
      </form>
      <ErrorBox error={error} onClose={() => setError(null)} />
      {budget && budget.Actions?.length > 0 && (
        <>
          <h3>Actions taken this month</h3>
          <Table<BudgetAction>
            label="Budget actions"
            filterable={false}
            rows={budget.Actions}
            rowKey={(a) => `${a.Percent}/${a.At}`}
            initialSort="at"
            columns={[
              { key: "at", label: "When", value: (a) => a.At, render: (a) => dateTime(a.At) },
              { key: "percent", label: "Alert", numeric: true, value: (a) => a.Percent, render: (a) => `${a.Percent}%` },
              { key: "spent", label: "Spent", numeric: true, value: (a) => num(a.Spent), render: (a) => usd(a.Spent) },
              { key: "action", label: "Action", value: (a) => a.Action },
              {
                key: "instances",
                label: "Instances",
                value: (a) => (a.Instances ?? []).join(" "),
                render: (a) =>
                  a.Instances?.length ? <span class="mono">{a.Instances.join(", ")}</span> : <span class="muted">none</span>,
              },
              {
                key: "message",
                label: "Message",
                value: (a) => a.Message,
                render: (a) => <span class="bill-wrap">{a.Message}</span>,
              },
            ]}
          />
        </>
      )}
      <Confirm
        title="Delete budget"
        open={confirmDelete}
        danger
        confirmLabel="Delete budget"
        onConfirm={remove}
        onClose={() => setConfirmDelete(false)}
      >
        Delete the ${budget ? String(Number(budget.MonthlyLimit)) : ""} monthly budget? No more alerts are sent and no
        instances are stopped for spending.
      </Confirm>
    </section>
  );
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
    { key: "cost", label: "Cost", numeric: true, value: (i) => -i.cost, render: (i) => usd(i.cost) },
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
                value: (r) => -num(r.CostSoFar),
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
          { key: "cost", label: "Cost", numeric: true, value: (v) => -num(v.Cost), render: (v) => usd(v.Cost) },
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

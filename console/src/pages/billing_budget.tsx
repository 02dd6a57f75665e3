// Billing's budget editor: the SetBudget/DeleteBudget form and this month's actions, a self-contained form apart from the bill.
import { useEffect, useState } from "preact/hooks";
import type { PageProps } from "../main";
import { jsonCall } from "../api";
import { Confirm, ErrorBox, Table, usd } from "../ui";
import { ACTIONS, dateTime, num, type Budget, type BudgetAction } from "./billing_data";

export function BudgetEditor({
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

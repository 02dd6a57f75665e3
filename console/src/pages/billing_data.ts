// Billing's data: the GetBill/GetBudget shapes, formatters and breakdown items, shared by the page, chart and budget files.

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
export interface ByVolume {
  VolumeId: string;
  VolumeType: string;
  Name: string;
  GibMonths: string;
  Cost: string;
}
export interface Running {
  InstanceId: string;
  InstanceType: string;
  Name: string;
  Market: string;
  Since: string;
  AgeHours: string;
  Hourly: string;
  CostSoFar: string;
}
export interface Line {
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
export interface BudgetAction {
  Percent: number;
  At: string;
  Spent: string;
  Action: string;
  Instances: string[];
  Message: string;
}
export interface Budget {
  MonthlyLimit: string;
  Alerts: number[];
  Action: string;
  Webhook: string;
  Spent: string;
  Percent: string;
  Actions: BudgetAction[];
}
export interface Bill {
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

export const ACTIONS: { value: string; label: string; help: string }[] = [
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

export type Mode = "instance" | "type" | "name";
export const MODES: { value: Mode; label: string }[] = [
  { value: "instance", label: "By instance" },
  { value: "type", label: "By type" },
  { value: "name", label: "By Name tag" },
];

// The months GetBill accepts, newest first, in UTC as Kumo counts them.
export function recentMonths(n = 12): string[] {
  const now = new Date();
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
    out.push(d.toISOString().slice(0, 7));
  }
  return out;
}

export function monthName(m: string): string {
  const [y, mo] = m.split("-").map(Number);
  return new Date(Date.UTC(y, mo - 1, 1)).toLocaleDateString(undefined, {
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  });
}

export function hours(v: string | number | undefined): string {
  const n = Number(v ?? 0);
  if (!isFinite(n)) return String(v);
  return n.toLocaleString(undefined, { maximumFractionDigits: n < 10 ? 2 : 1 });
}

export function num(v: string | undefined): number {
  const n = Number(v ?? 0);
  return isFinite(n) ? n : 0;
}

export function dateTime(iso: string | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function dateOnly(iso: string | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d.getTime())
    ? iso
    : d.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
}

export function tone(percent: number): string {
  return percent >= 100 ? "danger" : percent >= 80 ? "warn" : "ok";
}

export interface Item {
  key: string;
  label: string;
  name?: string;
  detail?: string;
  market?: string;
  hours: string;
  cost: number;
}

export function items(bill: Bill | undefined, mode: Mode): Item[] {
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

// Spot requests: the account's DescribeSpotInstanceRequests, live, with cancel (and, on request,
// terminate the instance that cancelling would leave running), and the market's price history
// per instance type and zone as a stepped line chart.
import { useMemo, useState } from "preact/hooks";
import {
  CancelSpotInstanceRequestsCommand,
  DescribeAvailabilityZonesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeSpotInstanceRequestsCommand,
  DescribeSpotPriceHistoryCommand,
  TerminateInstancesCommand,
  type _InstanceType,
  type EC2Client,
  type SpotInstanceRequest,
  type SpotPrice,
} from "@aws-sdk/client-ec2";
import type { PageProps } from "../main";
import { ec2 } from "../api";
import { ErrorBox, Modal, PageHead, State, Table, age, usd, useNotice, usePoll, type Column } from "../ui";
import { color, timeTick, timeTicks, useChart } from "../chart";
import "./spot.css";

const CANCELLABLE = new Set(["open", "active", "disabled"]);
const LIVE = new Set(["pending", "running"]);

const RANGES: { value: string; label: string; ms: number }[] = [
  { value: "1d", label: "Last day", ms: 86400_000 },
  { value: "7d", label: "Last 7 days", ms: 7 * 86400_000 },
  { value: "30d", label: "Last 30 days", ms: 30 * 86400_000 },
];

const MAX_HISTORY_PAGES = 20; // × 1000 records: far more than a chart can show

async function allSpotRequests(client: EC2Client): Promise<SpotInstanceRequest[]> {
  const out: SpotInstanceRequest[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await client.send(new DescribeSpotInstanceRequestsCommand({ NextToken: token, MaxResults: 1000 }));
    out.push(...(r.SpotInstanceRequests ?? []));
    token = r.NextToken || undefined;
  } while (token && ++pages < 10);
  return out;
}

// The state of every spot instance of the account, by id.
async function spotInstanceStates(client: EC2Client): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await client.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: "instance-lifecycle", Values: ["spot"] }],
        NextToken: token,
      }),
    );
    for (const res of r.Reservations ?? [])
      for (const i of res.Instances ?? []) if (i.InstanceId) states.set(i.InstanceId, i.State?.Name ?? "unknown");
    token = r.NextToken || undefined;
  } while (token && ++pages < 10);
  return states;
}

async function instanceTypes(client: EC2Client): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await client.send(new DescribeInstanceTypesCommand({ NextToken: token }));
    for (const t of r.InstanceTypes ?? []) if (t.InstanceType) out.push(t.InstanceType);
    token = r.NextToken || undefined;
  } while (token && ++pages < 20);
  return out.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
}

interface History {
  start: number;
  end: number;
  prices: SpotPrice[];
  truncated: boolean;
}

async function priceHistory(client: EC2Client, type: string, az: string, rangeMs: number): Promise<History> {
  const end = Date.now();
  const start = end - rangeMs;
  const prices: SpotPrice[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await client.send(
      new DescribeSpotPriceHistoryCommand({
        InstanceTypes: [type as _InstanceType],
        ProductDescriptions: ["Linux/UNIX"],
        AvailabilityZone: az || undefined,
        StartTime: new Date(start),
        EndTime: new Date(end),
        MaxResults: 1000,
        NextToken: token,
      }),
    );
    prices.push(...(r.SpotPriceHistory ?? []));
    token = r.NextToken || undefined;
  } while (token && ++pages < MAX_HISTORY_PAGES);
  return { start, end, prices, truncated: !!token };
}

interface Series {
  az: string;
  points: { x: number; y: number }[]; // oldest first, clamped to the window, ending at "now"
  latest: number;
  latestAt: number;
  min: number;
  max: number;
}

function toSeries(h: History): Series[] {
  const byAz = new Map<string, { t: number; p: number }[]>();
  for (const s of h.prices) {
    const az = s.AvailabilityZone ?? "?";
    const t = s.Timestamp ? new Date(s.Timestamp).getTime() : NaN;
    const p = Number(s.SpotPrice);
    if (!isFinite(t) || !isFinite(p)) continue;
    if (!byAz.has(az)) byAz.set(az, []);
    byAz.get(az)!.push({ t, p });
  }
  const out: Series[] = [];
  for (const [az, list] of byAz) {
    list.sort((a, b) => a.t - b.t);
    // The record before the window holds the price in effect when it opens: start the line there.
    const points = list.map((r) => ({ x: Math.max(r.t, h.start), y: r.p }));
    const last = list[list.length - 1];
    points.push({ x: h.end, y: last.p }); // the price still holds now
    const inWindow = list.filter((r) => r.t >= h.start).map((r) => r.p);
    const span = inWindow.length ? [...inWindow, points[0].y] : [last.p];
    out.push({
      az,
      points,
      latest: last.p,
      latestAt: last.t,
      min: Math.min(...span),
      max: Math.max(...span),
    });
  }
  return out.sort((a, b) => a.az.localeCompare(b.az));
}

function price(n: number): string {
  return `$${n.toFixed(4)}`;
}

function PriceHistory({ client, types, zones, defaultType }: {
  client: EC2Client;
  types: string[] | undefined;
  zones: string[] | undefined;
  defaultType: string;
}) {
  const [typeChoice, setType] = useState("");
  const [az, setAz] = useState("");
  const [range, setRange] = useState("7d");
  const type = typeChoice || defaultType;
  const rangeMs = (RANGES.find((r) => r.value === range) ?? RANGES[1]).ms;
  const history = usePoll(
    () => (type ? priceHistory(client, type, az, rangeMs) : Promise.resolve(undefined)),
    [client, type, az, rangeMs],
    60_000,
  );
  const series = useMemo(() => (history.data ? toSeries(history.data) : []), [history.data]);
  // A zone keeps its colour whichever zones are shown.
  const zoneColor = (az: string, i: number) => {
    const at = zones?.indexOf(az) ?? -1;
    return color(at >= 0 ? at : i);
  };
  const h = history.data;
  const span = h ? h.end - h.start : rangeMs;

  const canvas = useChart<"line">(
    () => ({
      type: "line",
      data: {
        datasets: series.map((s, i) => ({
          label: s.az,
          data: s.points,
          stepped: true,
          borderColor: zoneColor(s.az, i),
          backgroundColor: zoneColor(s.az, i),
          borderWidth: 2,
          // A pool that has had one price so far is a dot, not an invisible zero-length line.
          pointRadius: s.points.length <= 2 ? 3 : 0,
          pointHoverRadius: 4,
          pointHitRadius: 6,
        })),
      },
      options: {
        parsing: false,
        normalized: true,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: {
            type: "linear",
            min: h?.start,
            max: h?.end,
            afterBuildTicks: (scale) => {
              scale.ticks = timeTicks(scale.min, scale.max, scale.chart.width < 500 ? 4 : 7).map((value) => ({ value }));
            },
            ticks: { maxRotation: 0, autoSkip: false, callback: (v) => timeTick(Number(v), span) },
            grid: { display: false },
          },
          y: {
            type: "linear",
            grace: "10%",
            ticks: { callback: (v) => price(Number(v)), maxTicksLimit: 6 },
            title: { display: true, text: "USD per hour" },
          },
        },
        plugins: {
          legend: { display: series.length > 1, position: "bottom", labels: { boxWidth: 12, boxHeight: 2 } },
          tooltip: {
            callbacks: {
              title: (items) => (items[0] ? new Date(items[0].parsed.x ?? 0).toLocaleString() : ""),
              label: (item) => `${item.dataset.label}: ${price(item.parsed.y ?? 0)}/h`,
            },
          },
        },
      },
    }),
    [series, h?.start, h?.end, zones],
  );

  const rangeLabel = (RANGES.find((r) => r.value === range) ?? RANGES[1]).label.toLowerCase();
  const summary = !type
    ? "No instance type chosen."
    : series.length === 0
      ? `No Linux/UNIX spot prices for ${type} ${az ? `in ${az} ` : ""}in the ${rangeLabel}.`
      : `${type} Linux/UNIX spot price, ${rangeLabel}: ` +
        series
          .map(
            (s) =>
              `${s.az} now ${price(s.latest)} per hour` +
              (s.min !== s.max ? `, ranging from ${price(s.min)} to ${price(s.max)}` : ", unchanged"),
          )
          .join("; ") +
        ".";

  return (
    <section class="card spot-history" aria-labelledby="spot-history-title">
      <div class="spot-history-head">
        <div>
          <h2 id="spot-history-title">Price history</h2>
          <p class="muted spot-history-sub">Linux/UNIX spot price per hour, as the market set it</p>
        </div>
        <div class="spot-history-controls">
          <label class="field" for="spot-history-type">
            Instance type
            <select
              id="spot-history-type"
              value={type}
              onChange={(e) => setType((e.target as HTMLSelectElement).value)}
            >
              {!types && type && <option value={type}>{type}</option>}
              {(types ?? []).map((t) => (
                <option value={t}>{t}</option>
              ))}
            </select>
          </label>
          <label class="field" for="spot-history-az">
            Zone
            <select id="spot-history-az" value={az} onChange={(e) => setAz((e.target as HTMLSelectElement).value)}>
              <option value="">All zones</option>
              {(zones ?? []).map((z) => (
                <option value={z}>{z}</option>
              ))}
            </select>
          </label>
          <label class="field" for="spot-history-range">
            Range
            <select
              id="spot-history-range"
              value={range}
              onChange={(e) => setRange((e.target as HTMLSelectElement).value)}
            >
              {RANGES.map((r) => (
                <option value={r.value}>{r.label}</option>
              ))}
            </select>
          </label>
        </div>
      </div>
      <ErrorBox error={history.error} />
      <div class="spot-history-body">
        <div class="chart spot-chart">
          <canvas ref={canvas} role="img" aria-label="Spot price history" aria-describedby="spot-history-summary">
            {summary}
          </canvas>
          {!history.loading && series.length === 0 && !history.error && (
            <div class="chart-empty muted">No price changes recorded for {type || "this type"} in this range.</div>
          )}
          {history.loading && !h && <div class="chart-empty muted">Loading prices…</div>}
        </div>
        <aside class="spot-latest" aria-label="Latest spot prices">
          <div class="metric-label">Latest price · {type}</div>
          {series.length === 0 ? (
            <p class="muted">—</p>
          ) : (
            <ul>
              {series.map((s, i) => (
                <li data-az={s.az}>
                  <span class="swatch" style={{ background: zoneColor(s.az, i) }} aria-hidden="true" />
                  <span class="spot-latest-az">{s.az}</span>
                  <strong class="spot-latest-price num">{price(s.latest)}</strong>
                  <span class="muted spot-latest-unit">/h</span>
                  <span class="muted spot-latest-meta">
                    <span title={new Date(s.latestAt).toLocaleString()}>since {age(new Date(s.latestAt))} ago</span>
                    {s.min !== s.max && (
                      <span>
                        range {price(s.min)}–{price(s.max)}
                      </span>
                    )}
                  </span>
                </li>
              ))}
            </ul>
          )}
          {h?.truncated && <p class="muted small">Showing the newest {h.prices.length} changes.</p>}
        </aside>
      </div>
      <p id="spot-history-summary" class="sr-only" aria-live="polite">
        {summary}
      </p>
    </section>
  );
}

export function SpotRequests({ session }: PageProps) {
  const client = ec2(session);
  const { notice, ok } = useNotice();
  const requests = usePoll(
    async () => {
      const [reqs, states] = await Promise.all([allSpotRequests(client), spotInstanceStates(client)]);
      return { reqs, states };
    },
    [client],
  );
  const types = usePoll(() => instanceTypes(client), [client], 300_000);
  const zones = usePoll(
    async () => {
      const r = await client.send(new DescribeAvailabilityZonesCommand({}));
      return (r.AvailabilityZones ?? [])
        .map((z) => z.ZoneName ?? "")
        .filter(Boolean)
        .sort();
    },
    [client],
    300_000,
  );

  const [selected, setSelected] = useState<string | null>(null);
  const [target, setTarget] = useState<SpotInstanceRequest | null>(null);
  const [liveInstance, setLiveInstance] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  const [alsoTerminate, setAlsoTerminate] = useState(false);
  const [busy, setBusy] = useState(false);
  const [dialogError, setDialogError] = useState<unknown>(null);
  const [kept, setKept] = useState<{ request: string; instance: string } | null>(null);

  const states = requests.data?.states;
  const reqs = requests.data?.reqs;

  const openCancel = async (r: SpotInstanceRequest) => {
    setTarget(r);
    setAlsoTerminate(false);
    setDialogError(null);
    const id = r.InstanceId;
    setLiveInstance(id && LIVE.has(states?.get(id) ?? "") ? id : null);
    if (!id) return;
    // The poll may be seconds old: ask again before promising anything about the instance.
    setChecking(true);
    try {
      const d = await client.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      const st = d.Reservations?.[0]?.Instances?.[0]?.State?.Name ?? "";
      setLiveInstance(LIVE.has(st) ? id : null);
    } catch {
      // Gone (InvalidInstanceID.NotFound): nothing to warn about.
      setLiveInstance(null);
    } finally {
      setChecking(false);
    }
  };

  const closeDialog = () => {
    if (!busy) setTarget(null);
  };

  const confirmCancel = async () => {
    if (!target?.SpotInstanceRequestId) return;
    const id = target.SpotInstanceRequestId;
    setBusy(true);
    setDialogError(null);
    try {
      await client.send(new CancelSpotInstanceRequestsCommand({ SpotInstanceRequestIds: [id] }));
      if (liveInstance && alsoTerminate) {
        await client.send(new TerminateInstancesCommand({ InstanceIds: [liveInstance] }));
        setKept(null);
        ok(`Cancelled ${id} and terminating ${liveInstance}.`);
      } else if (liveInstance) {
        setKept({ request: id, instance: liveInstance });
      } else {
        setKept(null);
        ok(`Cancelled ${id}.`);
      }
      setTarget(null);
      requests.reload();
    } catch (e) {
      setDialogError(e);
    } finally {
      setBusy(false);
    }
  };

  const now = Date.now();
  const columns: Column<SpotInstanceRequest>[] = [
    {
      key: "id",
      label: "Request ID",
      value: (r) => r.SpotInstanceRequestId,
      render: (r) => <span class="mono">{r.SpotInstanceRequestId}</span>,
    },
    { key: "state", label: "State", value: (r) => r.State, render: (r) => <State state={r.State} /> },
    {
      key: "status",
      label: "Status",
      value: (r) => `${r.Status?.Code ?? ""} ${r.Status?.Message ?? ""}`,
      render: (r) => (
        <div class="spot-status">
          <code class="spot-status-code">{r.Status?.Code ?? "—"}</code>
          {r.Status?.Message && <div class="muted spot-status-msg">{r.Status.Message}</div>}
        </div>
      ),
    },
    { key: "type", label: "Type", value: (r) => r.LaunchSpecification?.InstanceType },
    {
      key: "max",
      label: "Max price",
      numeric: true,
      value: (r) => Number(r.SpotPrice ?? 0),
      render: (r) => (r.SpotPrice ? `${usd(r.SpotPrice, 4)}/h` : "—"),
    },
    {
      key: "az",
      label: "Zone",
      value: (r) => r.LaunchedAvailabilityZone ?? r.LaunchSpecification?.Placement?.AvailabilityZone ?? "",
      render: (r) =>
        r.LaunchedAvailabilityZone ?? <span class="muted">{r.LaunchSpecification?.Placement?.AvailabilityZone ?? "—"}</span>,
    },
    {
      key: "instance",
      label: "Instance",
      value: (r) => r.InstanceId ?? "",
      render: (r) =>
        r.InstanceId ? (
          <span class="spot-instance">
            <span class="mono">{r.InstanceId}</span>
            {states?.get(r.InstanceId) && <State state={states.get(r.InstanceId)} />}
          </span>
        ) : (
          <span class="muted">—</span>
        ),
    },
    {
      key: "age",
      label: "Created",
      numeric: true,
      value: (r) => (r.CreateTime ? new Date(r.CreateTime).getTime() : now),
      render: (r) => (
        <span title={r.CreateTime ? new Date(r.CreateTime).toLocaleString() : ""}>{age(r.CreateTime, now)} ago</span>
      ),
    },
    {
      key: "actions",
      label: "Actions",
      value: () => "",
      render: (r) =>
        CANCELLABLE.has(r.State ?? "") ? (
          <button
            class="spot-cancel"
            data-request={r.SpotInstanceRequestId}
            onClick={(e) => {
              e.stopPropagation();
              openCancel(r);
            }}
          >
            Cancel request
          </button>
        ) : null,
    },
  ];

  // The type most of the account's requests use is the most likely question for the chart.
  const defaultType = useMemo(() => {
    const counts = new Map<string, number>();
    for (const r of reqs ?? []) {
      const t = r.LaunchSpecification?.InstanceType;
      if (t) counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    const top = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
    const list = types.data ?? [];
    return top ?? (list.includes("t3.micro") ? "t3.micro" : list[0] ?? "");
  }, [reqs, types.data]);

  const open = (reqs ?? []).filter((r) => r.State === "open").length;
  const active = (reqs ?? []).filter((r) => r.State === "active").length;

  return (
    <div class="spot-page">
      <PageHead title="Spot requests">
        <a class="button-link" href="#/launch">
          Request spot instances
        </a>
        <button onClick={() => requests.reload()} aria-label="Refresh spot requests">
          ↻ Refresh
        </button>
      </PageHead>
      {reqs && (
        <p class="muted spot-counts">
          {active} active · {open} open · {reqs.length} in all
        </p>
      )}
      {notice}
      {kept && (
        <div class="warning spot-kept" role="status">
          <span>
            <strong>{kept.request} is cancelled, but {kept.instance} keeps running and billing.</strong> Terminate it on
            the <a href="#/instances">Instances</a> page when you no longer need it.
          </span>
          <button class="link" onClick={() => setKept(null)} aria-label="Dismiss warning">
            ✕
          </button>
        </div>
      )}
      <ErrorBox error={requests.error} />
      <Table
        label="Spot instance requests"
        columns={columns}
        rows={reqs}
        rowKey={(r) => r.SpotInstanceRequestId ?? ""}
        selected={selected}
        onSelect={setSelected}
        initialSort="age"
        initialDir={-1}
        empty={
          <span>
            No spot requests in {session.region}. Launch one from <a href="#/launch">Launch instance</a> with the spot
            option.
          </span>
        }
      />

      <PriceHistory client={client} types={types.data} zones={zones.data} defaultType={defaultType} />

      <Modal title="Cancel spot request" open={target !== null} onClose={closeDialog}>
        {target && (
          <>
            <div class="dialog-body">
              <p>
                Cancel <strong class="mono">{target.SpotInstanceRequestId}</strong>? The request stops asking for
                capacity and cannot be reopened.
              </p>
              {checking && !liveInstance && <p class="muted">Checking {target.InstanceId}…</p>}
              {liveInstance && (
                <>
                  <p class="warning" id="spot-cancel-warning">
                    Cancelling does not terminate {liveInstance}: it keeps running and billing.
                  </p>
                  <label class="checkbox" for="spot-cancel-terminate">
                    <input
                      id="spot-cancel-terminate"
                      type="checkbox"
                      checked={alsoTerminate}
                      onChange={(e) => setAlsoTerminate((e.target as HTMLInputElement).checked)}
                    />
                    Also terminate {liveInstance}
                  </label>
                </>
              )}
              <ErrorBox error={dialogError} />
            </div>
            <footer class="dialog-foot">
              <button onClick={closeDialog} disabled={busy}>
                Keep request
              </button>
              <button class="danger" id="spot-cancel-confirm" onClick={confirmCancel} disabled={busy || checking}>
                {busy ? "Cancelling…" : alsoTerminate && liveInstance ? "Cancel request and terminate" : "Cancel request"}
              </button>
            </footer>
          </>
        )}
      </Modal>
    </div>
  );
}

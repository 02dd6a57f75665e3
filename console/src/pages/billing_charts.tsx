// Billing's charts: the cost breakdown bar chart and the cards' progress bars, keeping the Chart.js set-up out of the page.
import { usd } from "../ui";
import { color, useChart } from "../chart";
import { MODES, hours, type Item, type Mode } from "./billing_data";

export function Bar({ percent, label, tone }: { percent: number; label: string; tone: string }) {
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

const CHART_BARS = 12;

export function BreakdownChart({ list, mode }: { list: Item[]; mode: Mode }) {
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

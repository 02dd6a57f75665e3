// chart.js for the console: only the pieces the pages use, registered once, and a hook that
// owns one chart per canvas (created on mount, updated in place when its data changes,
// destroyed on unmount) so that polling does not re-create charts or replay animations.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type ChartType,
} from "chart.js";
import { useEffect, useRef } from "preact/hooks";

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  Legend,
);
Chart.defaults.font.family = '"DejaVu Sans", system-ui, -apple-system, "Segoe UI", sans-serif';
Chart.defaults.font.size = 12;
Chart.defaults.color = "#5f6b7a";
Chart.defaults.borderColor = "#e3e8ee";
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.responsive = true;

// Distinct, colour-blind-friendly hues (Okabe–Ito, reordered for contrast on white).
export const PALETTE = ["#0b6bcb", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#7a5195", "#5f6b7a"];

export function color(i: number): string {
  return PALETTE[i % PALETTE.length];
}

function reducedMotion(): boolean {
  return typeof matchMedia === "function" && matchMedia("(prefers-reduced-motion: reduce)").matches;
}

// Returns the ref for a <canvas>; `config` is rebuilt by the caller whenever deps change.
export function useChart<T extends ChartType>(config: () => ChartConfiguration<T>, deps: unknown[]) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<T> | null>(null);
  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    const c = config();
    if (reducedMotion()) c.options = { ...(c.options ?? {}), animation: false } as typeof c.options;
    const existing = chart.current;
    if (existing && (existing.config as { type?: string }).type === c.type) {
      existing.data = c.data;
      if (c.options) existing.options = c.options;
      existing.update("none");
      return;
    }
    existing?.destroy();
    chart.current = new Chart(el, c);
  }, deps);
  useEffect(
    () => () => {
      chart.current?.destroy();
      chart.current = null;
    },
    [],
  );
  return canvas;
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

// Tick positions for an epoch-ms axis at round local times: whole hours for spans up to a day
// and a half, midnights beyond, at most about `max` of them.
export function timeTicks(min: number, max: number, most = 7): number[] {
  const span = max - min;
  if (!(span > 0)) return [];
  const steps = span <= 36 * HOUR ? [1, 2, 3, 4, 6, 12].map((h) => h * HOUR) : [1, 2, 3, 5, 7, 14, 30].map((d) => d * DAY);
  const step = steps.find((s) => span / s <= most) ?? steps[steps.length - 1];
  const first = new Date(min);
  if (step >= DAY) first.setHours(0, 0, 0, 0);
  else first.setMinutes(0, 0, 0);
  const out: number[] = [];
  for (let t = first.getTime(); t <= max; ) {
    if (t >= min) out.push(t);
    const d = new Date(t);
    if (step >= DAY) d.setDate(d.getDate() + step / DAY); // calendar days, across DST changes
    else d.setTime(t + step);
    t = d.getTime();
  }
  return out;
}

// The label for a tick timeTicks made: "14:00" under a day and a half, "12 Jun" beyond.
export function timeTick(ms: number, spanMs: number): string {
  const d = new Date(ms);
  if (spanMs <= 36 * HOUR) return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

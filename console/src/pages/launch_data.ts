// The launch wizard's data and formatting: the image, instance type and price loaders, and the text helpers the steps share.
import {
  DescribeImagesCommand,
  DescribeInstanceTypesCommand,
  type Image,
  type InstanceTypeInfo,
  type SpotPrice,
} from "@aws-sdk/client-ec2";
import { ec2, jsonCall, type Session } from "../api";

// ---------------------------------------------------------------------------------------------
// Data

export async function listImages(session: Session): Promise<Image[]> {
  const out = await ec2(session).send(new DescribeImagesCommand({ Owners: ["self", "amazon"] }));
  return out.Images ?? [];
}

export async function listInstanceTypes(session: Session): Promise<InstanceTypeInfo[]> {
  const out: InstanceTypeInfo[] = [];
  let token: string | undefined;
  do {
    const page = await ec2(session).send(new DescribeInstanceTypesCommand({ NextToken: token }));
    out.push(...(page.InstanceTypes ?? []));
    token = page.NextToken;
  } while (token);
  // By family, then by size: t3.nano, t3.micro … rather than t3.2xlarge before t3.large.
  const fam = (t: InstanceTypeInfo) => (t.InstanceType ?? "").split(".")[0];
  return out.sort(
    (a, b) =>
      fam(a).localeCompare(fam(b)) ||
      (a.VCpuInfo?.DefaultVCpus ?? 0) - (b.VCpuInfo?.DefaultVCpus ?? 0) ||
      (a.MemoryInfo?.SizeInMiB ?? 0) - (b.MemoryInfo?.SizeInMiB ?? 0) ||
      (a.InstanceType ?? "").localeCompare(b.InstanceType ?? ""),
  );
}

export interface Prices {
  byType: Map<string, { hourly?: number; free: boolean }>;
  gbMonth: Map<string, number>; // volume type → USD per GiB-month
}

// KumoBilling.GetPrices; null when Kumo cannot say (prices then show as "—").
export async function loadPrices(session: Session): Promise<Prices | null> {
  try {
    const out = await jsonCall<{
      Prices?: { InstanceType?: string; OnDemandHourly?: string; FreeTierEligible?: boolean }[];
      VolumePrices?: { VolumeType?: string; PerGibMonth?: string }[];
    }>(session, "KumoBilling.GetPrices", {});
    const byType = new Map<string, { hourly?: number; free: boolean }>();
    for (const p of out.Prices ?? []) {
      if (!p.InstanceType) continue;
      const n = Number(p.OnDemandHourly);
      byType.set(p.InstanceType, { hourly: p.OnDemandHourly && isFinite(n) ? n : undefined, free: !!p.FreeTierEligible });
    }
    const gbMonth = new Map<string, number>();
    for (const v of out.VolumePrices ?? []) {
      const n = Number(v.PerGibMonth);
      if (v.VolumeType && isFinite(n)) gbMonth.set(v.VolumeType, n);
    }
    return { byType, gbMonth };
  } catch {
    return null;
  }
}

export interface ZonePrice {
  az: string;
  price: number;
}

// The newest price per zone, cheapest zone first.
export function newestPerZone(history: SpotPrice[]): ZonePrice[] {
  const best = new Map<string, { price: number; ts: number }>();
  for (const h of history) {
    const az = h.AvailabilityZone ?? "";
    const price = Number(h.SpotPrice);
    const ts = h.Timestamp ? new Date(h.Timestamp).getTime() : 0;
    if (!isFinite(price)) continue;
    const cur = best.get(az);
    if (!cur || ts > cur.ts) best.set(az, { price, ts });
  }
  return [...best.entries()].map(([az, v]) => ({ az, price: v.price })).sort((a, b) => a.price - b.price);
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function perHour(n: number | undefined): string {
  if (n === undefined || !isFinite(n)) return "—";
  let s = n.toFixed(n < 1 ? 4 : 3);
  while (/\.\d{2,}0$/.test(s)) s = s.slice(0, -1);
  return `$${s}`;
}

export function hourly(n: number | undefined): string {
  return n === undefined || !isFinite(n) ? "—" : `${perHour(n)}/h`;
}

export function monthly(n: number | undefined): string {
  if (n === undefined || !isFinite(n)) return "—";
  return `$${(n * 730).toFixed(2)}`;
}

export function gib(mib?: number): string {
  if (mib === undefined) return "—";
  const g = mib / 1024;
  return `${Number.isInteger(g) ? g : +g.toFixed(2)} GiB`;
}

export function gpuText(t?: InstanceTypeInfo): string {
  const gpus = t?.GpuInfo?.Gpus ?? [];
  const count = gpus.reduce((s, g) => s + (g.Count ?? 0), 0);
  if (!count) return "—";
  const names = [...new Set(gpus.map((g) => {
    const name = g.Name ?? "";
    const maker = g.Manufacturer ?? "";
    return maker && !name.toLowerCase().startsWith(maker.toLowerCase()) ? `${maker} ${name}` : name;
  }))].filter(Boolean);
  return `${count} × ${names.join(", ") || "GPU"}`;
}

export function imageLabel(i?: Image): string {
  return i ? i.Name || i.ImageId || "" : "";
}

export function rootSize(i?: Image): number {
  const maps = i?.BlockDeviceMappings ?? [];
  const root = maps.find((m) => m.DeviceName === i?.RootDeviceName) ?? maps.find((m) => m.Ebs);
  return root?.Ebs?.VolumeSize ?? 8;
}

export function isDebian(i: Image): boolean {
  return /debian/i.test(`${i.Name ?? ""} ${i.Description ?? ""} ${i.PlatformDetails ?? ""}`);
}

export function token(): string {
  return `console-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export const STEPS = ["Image", "Instance type", "Purchase option", "Storage", "Tags", "Security group", "Key pair", "Review"];

export interface TagRow {
  key: string;
  value: string;
}

// The launch wizard: image, instance type, purchase option (On-Demand or spot), storage, tags,
// security group, key pair, review. Every choice lives here, above the steps, so that moving
// between steps (or a failed launch) keeps it.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import {
  DescribeImagesCommand,
  DescribeInstanceTypesCommand,
  DescribeSpotPriceHistoryCommand,
  RunInstancesCommand,
  type _InstanceType,
  type Image,
  type InstanceTypeInfo,
  type RunInstancesCommandInput,
  type SecurityGroup,
  type SpotPrice,
  type Tag,
} from "@aws-sdk/client-ec2";
import type { PageProps } from "../main";
import { ec2, jsonCall, type Session } from "../api";
import { ErrorBox, PageHead, usePoll } from "../ui";
import { CreateKeyPairForm, listKeyPairs } from "./keypairs";
import { cidrOk, createGroupWithSsh, listSecurityGroups, myIpCidr, nextLaunchWizardName, useMyIp } from "./security_groups";
import "./launch.css";

// ---------------------------------------------------------------------------------------------
// Data

async function listImages(session: Session): Promise<Image[]> {
  const out = await ec2(session).send(new DescribeImagesCommand({ Owners: ["self", "amazon"] }));
  return out.Images ?? [];
}

async function listInstanceTypes(session: Session): Promise<InstanceTypeInfo[]> {
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

interface Prices {
  byType: Map<string, { hourly?: number; free: boolean }>;
  gbMonth: Map<string, number>; // volume type → USD per GiB-month
}

// KumoBilling.GetPrices; null when Kumo cannot say (prices then show as "—").
async function loadPrices(session: Session): Promise<Prices | null> {
  try {
    const out = await jsonCall<{
      Prices?: { InstanceType?: string; OnDemandHourly?: string; FreeTierEligible?: boolean }[];
      Volumes?: { VolumeType?: string; PerGibMonth?: string }[];
    }>(session, "KumoBilling.GetPrices", {});
    const byType = new Map<string, { hourly?: number; free: boolean }>();
    for (const p of out.Prices ?? []) {
      if (!p.InstanceType) continue;
      const n = Number(p.OnDemandHourly);
      byType.set(p.InstanceType, { hourly: p.OnDemandHourly && isFinite(n) ? n : undefined, free: !!p.FreeTierEligible });
    }
    const gbMonth = new Map<string, number>();
    for (const v of out.Volumes ?? []) {
      const n = Number(v.PerGibMonth);
      if (v.VolumeType && isFinite(n)) gbMonth.set(v.VolumeType, n);
    }
    return { byType, gbMonth };
  } catch {
    return null;
  }
}

interface ZonePrice {
  az: string;
  price: number;
}

// The newest price per zone, cheapest zone first.
function newestPerZone(history: SpotPrice[]): ZonePrice[] {
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

function hourly(n: number | undefined): string {
  return n === undefined || !isFinite(n) ? "—" : `${perHour(n)}/h`;
}

function monthly(n: number | undefined): string {
  if (n === undefined || !isFinite(n)) return "—";
  return `$${(n * 730).toFixed(2)}`;
}

function gib(mib?: number): string {
  if (mib === undefined) return "—";
  const g = mib / 1024;
  return `${Number.isInteger(g) ? g : +g.toFixed(2)} GiB`;
}

function gpuText(t?: InstanceTypeInfo): string {
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

function imageLabel(i?: Image): string {
  return i ? i.Name || i.ImageId || "" : "";
}

function rootSize(i?: Image): number {
  const maps = i?.BlockDeviceMappings ?? [];
  const root = maps.find((m) => m.DeviceName === i?.RootDeviceName) ?? maps.find((m) => m.Ebs);
  return root?.Ebs?.VolumeSize ?? 8;
}

function isDebian(i: Image): boolean {
  return /debian/i.test(`${i.Name ?? ""} ${i.Description ?? ""} ${i.PlatformDetails ?? ""}`);
}

function token(): string {
  return `console-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

// ---------------------------------------------------------------------------------------------
// Small pieces

function Option(props: {
  type: "radio" | "checkbox";
  name: string;
  value: string;
  checked: boolean;
  disabled?: boolean;
  onChange: () => void;
  children: ComponentChildren;
  class?: string;
}) {
  return (
    <label class={`lw-option ${props.checked ? "on" : ""} ${props.disabled ? "off" : ""} ${props.class ?? ""}`}>
      <input
        type={props.type}
        name={props.name}
        value={props.value}
        checked={props.checked}
        disabled={props.disabled}
        onChange={props.onChange}
      />
      <span class="lw-option-body">{props.children}</span>
    </label>
  );
}

function Loading({ what }: { what: string }) {
  return <p class="muted lw-loading">Loading {what}…</p>;
}

const STEPS = ["Image", "Instance type", "Purchase option", "Storage", "Tags", "Security group", "Key pair", "Review"];

interface TagRow {
  key: string;
  value: string;
}

// ---------------------------------------------------------------------------------------------
// The wizard

export function Launch({ session }: PageProps) {
  const images = usePoll(() => listImages(session), [session], 300000);
  const types = usePoll(() => listInstanceTypes(session), [session], 300000);
  const prices = usePoll(() => loadPrices(session), [session], 300000);
  const groups = usePoll(() => listSecurityGroups(session), [session], 60000);
  const keys = usePoll(() => listKeyPairs(session), [session], 60000);
  const ip = useMyIp();
  const mine = myIpCidr(ip);
  const myIpLoading = ip === undefined;

  const [step, setStep] = useState(0);
  const [visited, setVisited] = useState(0);
  const [problem, setProblem] = useState<string | null>(null);

  // (1) image
  const [imageId, setImageId] = useState("");
  const [imageFilter, setImageFilter] = useState("");
  // (2) type
  const [type, setType] = useState("");
  const [typeFilter, setTypeFilter] = useState("");
  const [freeOnly, setFreeOnly] = useState(false);
  const [gpuOnly, setGpuOnly] = useState(false);
  // (3) purchase
  const [market, setMarket] = useState<"on-demand" | "spot">("on-demand");
  const [maxPrice, setMaxPrice] = useState("");
  const [spot, setSpot] = useState<{ type: string; zones?: ZonePrice[]; error?: unknown } | null>(null);
  // (4) storage
  const [size, setSize] = useState("");
  const [sizeTouched, setSizeTouched] = useState(false);
  // (5) tags
  const [tags, setTags] = useState<TagRow[]>([{ key: "Name", value: "" }]);
  // (6) security group
  const [sgMode, setSgMode] = useState<"new" | "existing">("new");
  const [sgIds, setSgIds] = useState<string[]>([]);
  const [sgName, setSgName] = useState("");
  const [sgNameTouched, setSgNameTouched] = useState(false);
  const [sgDesc, setSgDesc] = useState(`launch-wizard created ${new Date().toISOString().slice(0, 16).replace("T", " ")}`);
  const [sshFrom, setSshFrom] = useState<"myip" | "anywhere" | "custom">("myip");
  const [sshCidr, setSshCidr] = useState("");
  const [createdGroup, setCreatedGroup] = useState<{ name: string; id: string } | null>(null);
  // (7) key pair
  const [kpMode, setKpMode] = useState<"existing" | "create" | "none" | "">("");
  const [keyName, setKeyName] = useState("");
  const [justCreated, setJustCreated] = useState<string | null>(null);
  // launch
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<{ ids: string[]; spot: boolean; key?: string } | null>(null);

  const image = images.data?.find((i) => i.ImageId === imageId);
  const typeInfo = types.data?.find((t) => t.InstanceType === type);
  const price = (t?: string) => (t ? prices.data?.byType.get(t) : undefined);
  const free = (t?: InstanceTypeInfo) => !!t && (!!t.FreeTierEligible || !!price(t.InstanceType)?.free);
  const od = price(type)?.hourly;
  const minSize = rootSize(image);
  const zones = spot && spot.type === type ? spot.zones : undefined;
  const spotNow = zones?.[0];

  // Preselections, once the lists arrive.
  useEffect(() => {
    if (imageId || !images.data) return;
    const ok = images.data.filter((i) => !i.State || i.State === "available");
    const pick = ok.find(isDebian) ?? ok[0];
    if (pick?.ImageId) setImageId(pick.ImageId);
  }, [images.data]);
  useEffect(() => {
    if (type || !types.data?.length) return;
    const pick =
      types.data.find((t) => t.InstanceType === "t3.micro") ?? types.data.find((t) => free(t)) ?? types.data[0];
    if (pick.InstanceType) setType(pick.InstanceType);
  }, [types.data, prices.data]);
  useEffect(() => {
    if (!sizeTouched) setSize(String(minSize));
    else if (Number(size) < minSize) setSize(String(minSize));
  }, [imageId, images.data]);
  useEffect(() => {
    // Not once the launch created the group: a retry must find it under the same name.
    if (!sgNameTouched && !createdGroup && groups.data) setSgName(nextLaunchWizardName(groups.data));
  }, [groups.data]);
  useEffect(() => {
    if (kpMode || !keys.data) return;
    if (keys.data.length) {
      setKpMode("existing");
      setKeyName(keys.data[0].KeyName ?? "");
    } else setKpMode("create");
  }, [keys.data]);
  useEffect(() => {
    // Kumo could not tell this browser's address: My IP cannot be the SSH source.
    if (!myIpLoading && !mine && sshFrom === "myip") setSshFrom("custom");
  }, [mine, myIpLoading]);

  // The current spot price of the chosen type, per zone (looked up on the purchase step or for spot).
  const onPurchase = step === 2;
  useEffect(() => {
    if (!type || (market !== "spot" && !onPurchase)) return;
    if (spot?.type === type && spot.zones) return;
    let live = true;
    const t = type;
    ec2(session)
      .send(
        new DescribeSpotPriceHistoryCommand({
          InstanceTypes: [t as _InstanceType],
          ProductDescriptions: ["Linux/UNIX"],
          StartTime: new Date(),
        }),
      )
      .then((out) => live && setSpot({ type: t, zones: newestPerZone(out.SpotPriceHistory ?? []) }))
      .catch((e) => live && setSpot({ type: t, error: e }));
    return () => {
      live = false;
    };
  }, [session, type, market, onPurchase]);

  // Focus the step's heading when the step changes (not on first show: the shell focuses main).
  const headRef = useRef<HTMLHeadingElement>(null);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    headRef.current?.focus();
  }, [step, result]);

  const sshSource = sshFrom === "anywhere" ? "0.0.0.0/0" : sshFrom === "myip" ? mine ?? "" : sshCidr.trim();
  const maxPriceNum = maxPrice.trim() ? Number(maxPrice.trim()) : undefined;
  const cap = maxPriceNum ?? od;
  const tagList: Tag[] = tags
    .map((t) => ({ Key: t.key.trim(), Value: t.value.trim() }))
    .filter((t, i) => (i === 0 ? t.Value !== "" : t.Key !== "" || t.Value !== ""));

  // What stops step i from being done, in words; null when it is fine.
  const problemOf = (i: number): string | null => {
    switch (i) {
      case 0:
        if (!images.data) return "The images are still loading.";
        if (!image) return "Choose an image.";
        return null;
      case 1:
        if (!types.data) return "The instance types are still loading.";
        if (!typeInfo) return "Choose an instance type.";
        return null;
      case 2:
        if (market === "spot" && maxPrice.trim()) {
          if (!/^\d*\.?\d+$/.test(maxPrice.trim()) || !isFinite(maxPriceNum!))
            return "Enter the max price as a number of US dollars per hour, such as 0.05, or leave it empty.";
          if (maxPriceNum! < 0.001) return "The lowest max price Kumo accepts is $0.001 per hour.";
        }
        return null;
      case 3: {
        const n = Number(size);
        if (!/^\d+$/.test(size.trim())) return "Enter the root volume size as a whole number of GiB.";
        if (n < minSize) return `The image needs a root volume of at least ${minSize} GiB.`;
        if (n > 16384) return "The root volume can be at most 16384 GiB.";
        return null;
      }
      case 4: {
        const seen = new Set<string>();
        for (const [j, t] of tagList.entries()) {
          if (!t.Key) return `Tag ${j + 1} has a value but no key.`;
          if (t.Key.length > 128) return `The tag key ${t.Key.slice(0, 20)}… is longer than 128 characters.`;
          if ((t.Value ?? "").length > 256) return `The value of tag ${t.Key} is longer than 256 characters.`;
          if (t.Key.toLowerCase().startsWith("aws:")) return "Tag keys cannot start with aws:.";
          if (seen.has(t.Key)) return `The tag key ${t.Key} is used twice.`;
          seen.add(t.Key);
        }
        return null;
      }
      case 5:
        if (sgMode === "existing") return null;
        if (!sgName.trim()) return "Enter a name for the new security group.";
        if (/^sg-/i.test(sgName.trim())) return "Security group names cannot start with sg-.";
        if (groups.data?.some((g) => g.GroupName === sgName.trim()) && createdGroup?.name !== sgName.trim())
          return `There is already a security group named ${sgName.trim()}; choose another name or select it as an existing group.`;
        if (!sgDesc.trim()) return "Enter a description for the new security group.";
        if (sshFrom === "myip" && !mine)
          return myIpLoading ? "Still finding your IP address; try again in a moment." : "Kumo could not tell your IP address.";
        if (sshFrom === "custom" && !cidrOk(sshSource)) return "Enter the SSH source as an IPv4 CIDR block, such as 203.0.113.7/32.";
        return null;
      case 6:
        if (kpMode === "existing" && !keyName) return "Choose a key pair.";
        if (kpMode === "create") return "Create the key pair first (the button under its name), or choose another option.";
        if (!kpMode) return "The key pairs are still loading.";
        return null;
      default:
        return null;
    }
  };

  const go = (i: number) => {
    setProblem(null);
    setStep(i);
    setVisited((v) => Math.max(v, i));
  };
  const next = () => {
    const p = problemOf(step);
    setProblem(p);
    if (!p) go(step + 1);
  };

  const launch = async () => {
    for (let i = 0; i < STEPS.length - 1; i++) {
      const p = problemOf(i);
      if (p) {
        go(i);
        setProblem(p);
        return;
      }
    }
    setError(null);
    try {
      let groupIds = sgMode === "existing" ? sgIds : [];
      if (sgMode === "new") {
        const name = sgName.trim();
        let id = createdGroup?.name === name ? createdGroup.id : "";
        if (!id) {
          setBusy("Creating security group…");
          id = await createGroupWithSsh(session, name, sgDesc.trim(), sshSource);
          setCreatedGroup({ name, id });
          groups.reload();
        }
        groupIds = [id];
      }
      setBusy("Starting the instance…");
      const input: RunInstancesCommandInput = {
        ImageId: imageId,
        InstanceType: type as _InstanceType,
        MinCount: 1,
        MaxCount: 1,
        ClientToken: token(),
        BlockDeviceMappings: [
          {
            DeviceName: image?.RootDeviceName ?? "/dev/xvda",
            Ebs: { VolumeSize: Number(size), VolumeType: "gp3", DeleteOnTermination: true },
          },
        ],
      };
      if (kpMode === "existing" && keyName) input.KeyName = keyName;
      if (groupIds.length) input.SecurityGroupIds = groupIds;
      if (tagList.length) input.TagSpecifications = [{ ResourceType: "instance", Tags: tagList }];
      if (market === "spot") {
        input.InstanceMarketOptions = {
          MarketType: "spot",
          SpotOptions: { SpotInstanceType: "one-time", ...(maxPrice.trim() ? { MaxPrice: maxPrice.trim() } : {}) },
        };
      }
      const out = await ec2(session).send(new RunInstancesCommand(input));
      setResult({
        ids: (out.Instances ?? []).map((i) => i.InstanceId ?? "").filter(Boolean),
        spot: market === "spot",
        key: input.KeyName,
      });
      // A second launch should not try to create the same group again.
      if (sgMode === "new") {
        setSgMode("existing");
        setSgIds(groupIds);
        setSgNameTouched(false);
        setCreatedGroup(null);
      }
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  // ------------------------------------------------------------------ steps

  const imageStep = () => {
    const f = imageFilter.trim().toLowerCase();
    const list = (images.data ?? []).filter(
      (i) => !f || `${i.Name} ${i.ImageId} ${i.Description} ${i.Architecture}`.toLowerCase().includes(f),
    );
    return (
      <>
        <p class="lw-lead">The operating system and software the instance starts from.</p>
        <ErrorBox error={images.error} />
        {!images.data ? (
          <Loading what="images" />
        ) : (
          <>
            {images.data.length > 5 && (
              <input
                class="lw-search"
                type="search"
                aria-label="Search images"
                placeholder="Search images"
                value={imageFilter}
                onInput={(e) => setImageFilter((e.target as HTMLInputElement).value)}
              />
            )}
            <fieldset class="lw-options">
              <legend class="sr-only">Image</legend>
              {list.length === 0 && <p class="muted">No image matches.</p>}
              {list.map((i) => {
                const avail = !i.State || i.State === "available";
                return (
                  <Option
                    type="radio"
                    name="lw-image"
                    value={i.ImageId ?? ""}
                    checked={i.ImageId === imageId}
                    disabled={!avail}
                    onChange={() => setImageId(i.ImageId ?? "")}
                  >
                    <span class="lw-option-title">
                      {imageLabel(i)}
                      {i.ImageOwnerAlias === "amazon" ? (
                        <span class="badge">Kumo</span>
                      ) : (
                        <span class="badge lw-badge-own">Mine</span>
                      )}
                      {!avail && <span class="badge spot">{i.State}</span>}
                    </span>
                    <span class="lw-option-sub mono">
                      {i.ImageId} · {i.Architecture ?? "—"}
                      {i.RootDeviceName ? ` · root ${rootSize(i)} GiB` : ""}
                    </span>
                    {i.Description && <span class="lw-option-desc">{i.Description}</span>}
                  </Option>
                );
              })}
            </fieldset>
          </>
        )}
      </>
    );
  };

  const typeStep = () => {
    const f = typeFilter.trim().toLowerCase();
    const list = (types.data ?? []).filter(
      (t) =>
        (!f || (t.InstanceType ?? "").includes(f) || gpuText(t).toLowerCase().includes(f)) &&
        (!freeOnly || free(t)) &&
        (!gpuOnly || (t.GpuInfo?.Gpus?.length ?? 0) > 0),
    );
    const anyGpu = types.data?.some((t) => (t.GpuInfo?.Gpus?.length ?? 0) > 0);
    return (
      <>
        <p class="lw-lead">How much CPU, memory and GPU the instance gets, and what it costs per hour.</p>
        <ErrorBox error={types.error} />
        {prices.data === null && (
          <p class="muted lw-note">Kumo did not say its prices just now, so they show as —.</p>
        )}
        {!types.data ? (
          <Loading what="instance types" />
        ) : (
          <>
            <div class="lw-filters">
              <input
                class="lw-search"
                type="search"
                aria-label="Search instance types"
                placeholder="Search instance types"
                value={typeFilter}
                onInput={(e) => setTypeFilter((e.target as HTMLInputElement).value)}
              />
              <label class="lw-check">
                <input type="checkbox" checked={freeOnly} onChange={(e) => setFreeOnly((e.target as HTMLInputElement).checked)} />
                Free tier only
              </label>
              {anyGpu && (
                <label class="lw-check">
                  <input type="checkbox" checked={gpuOnly} onChange={(e) => setGpuOnly((e.target as HTMLInputElement).checked)} />
                  GPU instances only
                </label>
              )}
            </div>
            <fieldset class="lw-types" aria-describedby="lw-types-cols">
              <legend class="sr-only">Instance type</legend>
              <div class="lw-type-head" id="lw-types-cols" aria-hidden="true">
                <span />
                <span>Type</span>
                <span class="num">vCPU</span>
                <span class="num">Memory</span>
                <span>GPUs</span>
                <span class="num">On-Demand</span>
              </div>
              {list.length === 0 && <p class="muted">No instance type matches.</p>}
              {list.map((t) => {
                const name = t.InstanceType ?? "";
                const p = price(name)?.hourly;
                const on = name === type;
                return (
                  <label class={`lw-type ${on ? "on" : ""}`}>
                    <input type="radio" name="lw-type" value={name} checked={on} onChange={() => setType(name)} />
                    <span class="lw-type-name">
                      {name}
                      {free(t) && <span class="badge free">Free tier</span>}
                    </span>
                    <span class="num lw-vcpu">
                      {t.VCpuInfo?.DefaultVCpus ?? "—"}
                      <span class="lw-vunit"> vCPU</span>
                    </span>
                    <span class="num lw-mem">
                      {gib(t.MemoryInfo?.SizeInMiB)}
                      <span class="sr-only"> memory</span>
                    </span>
                    <span class={`lw-gpu ${gpuText(t) === "—" ? "muted" : ""}`}>
                      {gpuText(t) === "—" ? <span aria-label="no GPU">—</span> : gpuText(t)}
                    </span>
                    <span class="num lw-price">
                      {perHour(p)}
                      {p !== undefined && <span class="lw-unit">/h</span>}
                    </span>
                  </label>
                );
              })}
            </fieldset>
          </>
        )}
      </>
    );
  };

  const purchaseStep = () => {
    const below = maxPriceNum !== undefined && zones?.length ? zones.filter((z) => maxPriceNum < z.price) : [];
    return (
      <>
        <p class="lw-lead">
          Pay the On-Demand price, or bid for spare capacity at the spot price and accept that Kumo may reclaim it.
        </p>
        <fieldset class="lw-options lw-two">
          <legend class="sr-only">Purchase option</legend>
          <Option type="radio" name="lw-market" value="on-demand" checked={market === "on-demand"} onChange={() => setMarket("on-demand")}>
            <span class="lw-option-title">On-Demand</span>
            <span class="lw-option-desc">Pay by the hour at a fixed price; runs until you stop it.</span>
            <span class="lw-option-price">{hourly(od)}</span>
          </Option>
          <Option type="radio" name="lw-market" value="spot" checked={market === "spot"} onChange={() => setMarket("spot")}>
            <span class="lw-option-title">
              Spot <span class="badge spot">save</span>
            </span>
            <span class="lw-option-desc">Spare capacity at a lower, changing price. Kumo interrupts it when it needs the room back.</span>
            <span class="lw-option-price">
              {spotNow
                ? `now ${perHour(spotNow.price)}/h`
                : zones || (spot?.type === type && spot.error)
                  ? "price not available"
                  : "…"}
            </span>
          </Option>
        </fieldset>
        {market === "spot" && (
          <div class="lw-spot">
            <div class="lw-spot-input">
              <label class="field" for="lw-max-price">
                Max price (USD per hour)
                <span class="lw-money">
                  <span aria-hidden="true">$</span>
                  <input
                    id="lw-max-price"
                    inputMode="decimal"
                    autocomplete="off"
                    placeholder={od !== undefined ? `${od} (On-Demand)` : "On-Demand price"}
                    value={maxPrice}
                    aria-describedby="lw-max-price-hint lw-spot-now"
                    onInput={(e) => setMaxPrice((e.target as HTMLInputElement).value)}
                  />
                </span>
              </label>
              <p class="hint" id="lw-max-price-hint">
                Leave empty to pay at most the On-Demand price{od !== undefined ? ` (${perHour(od)}/h)` : ""}, as on EC2.
                You pay the spot price, never more than this.
              </p>
            </div>
            <div class="lw-spot-now" id="lw-spot-now" aria-live="polite">
              {spot?.type === type && spot.error ? (
                <span class="muted">The current spot price is not available.</span>
              ) : !zones ? (
                <span class="muted">Looking up the current spot price…</span>
              ) : zones.length === 0 ? (
                <span class="muted">No spot price for {type} in this region.</span>
              ) : (
                <>
                  <div>
                    current spot price <strong>{perHour(zones[0].price)}/h</strong> in {zones[0].az}
                  </div>
                  {od !== undefined && od > 0 && zones[0].price < od && (
                    <div class="lw-save">{Math.round((1 - zones[0].price / od) * 100)}% below On-Demand</div>
                  )}
                  {zones.length > 1 && (
                    <ul class="lw-zones">
                      {zones.slice(1).map((z) => (
                        <li>
                          {z.az}: {perHour(z.price)}/h
                        </li>
                      ))}
                    </ul>
                  )}
                </>
              )}
            </div>
            {below.length > 0 && (
              <div class="warning lw-wide">
                {below.length === zones!.length
                  ? `Your max price is below the current spot price in every zone: Kumo will refuse the launch (SpotMaxPriceTooLow).`
                  : `Your max price is below the current spot price in ${below.map((z) => z.az).join(", ")}.`}
              </div>
            )}
            {maxPriceNum !== undefined && od !== undefined && maxPriceNum > od && (
              <div class="warning lw-wide">That is more than the On-Demand price ({perHour(od)}/h).</div>
            )}
          </div>
        )}
      </>
    );
  };

  const storageStep = () => {
    const gb = prices.data?.gbMonth.get("gp3");
    const n = Number(size);
    return (
      <>
        <p class="lw-lead">The root volume holds the operating system. It is an EBS volume deleted with the instance.</p>
        <div class="lw-storage">
          <label class="field" for="lw-root-size">
            Root volume size (GiB)
            <input
              id="lw-root-size"
              type="number"
              min={minSize}
              max={16384}
              step={1}
              inputMode="numeric"
              value={size}
              aria-describedby="lw-root-size-hint"
              onInput={(e) => {
                setSize((e.target as HTMLInputElement).value);
                setSizeTouched(true);
              }}
            />
          </label>
          <p class="hint" id="lw-root-size-hint">
            At least {minSize} GiB, the size of the image.
            {gb !== undefined && isFinite(n) && n > 0 ? ` About $${(gb * n).toFixed(2)} a month (${perHour(gb)}/GiB-month).` : ""}
          </p>
          <dl class="lw-facts">
            <div>
              <dt>Device</dt>
              <dd class="mono">{image?.RootDeviceName ?? "/dev/xvda"}</dd>
            </div>
            <div>
              <dt>Volume type</dt>
              <dd>General Purpose SSD (gp3)</dd>
            </div>
            <div>
              <dt>Delete on termination</dt>
              <dd>Yes</dd>
            </div>
          </dl>
        </div>
      </>
    );
  };

  const tagsStep = () => {
    const set = (i: number, patch: Partial<TagRow>) => setTags(tags.map((t, j) => (j === i ? { ...t, ...patch } : t)));
    return (
      <>
        <p class="lw-lead">Tags are labels for finding and grouping instances. The Name tag is what the console shows.</p>
        <div class="lw-tags">
          <label class="field lw-tag-name" for="lw-tag-name">
            Name
            <input
              id="lw-tag-name"
              placeholder="web-1"
              maxLength={256}
              value={tags[0].value}
              onInput={(e) => set(0, { value: (e.target as HTMLInputElement).value })}
            />
          </label>
          {tags.length > 1 && (
            <div class="lw-tag-cols" aria-hidden="true">
              <span>Key</span>
              <span>Value</span>
              <span />
            </div>
          )}
          {tags.slice(1).map((t, k) => {
            const i = k + 1;
            return (
              <div class="lw-tag-row" key={i}>
                <input
                  aria-label={`Tag ${i + 1} key`}
                  placeholder="Key"
                  maxLength={128}
                  value={t.key}
                  onInput={(e) => set(i, { key: (e.target as HTMLInputElement).value })}
                />
                <input
                  aria-label={`Tag ${i + 1} value`}
                  placeholder="Value"
                  maxLength={256}
                  value={t.value}
                  onInput={(e) => set(i, { value: (e.target as HTMLInputElement).value })}
                />
                <button
                  type="button"
                  class="link lw-remove"
                  aria-label={`Remove tag ${i + 1}`}
                  onClick={() => setTags(tags.filter((_, j) => j !== i))}
                >
                  Remove
                </button>
              </div>
            );
          })}
          <div>
            <button
              type="button"
              disabled={tags.length >= 50}
              onClick={() => {
                setTags([...tags, { key: "", value: "" }]);
                setTimeout(() => (document.querySelector(`[aria-label="Tag ${tags.length + 1} key"]`) as HTMLElement | null)?.focus(), 0);
              }}
            >
              + Add tag
            </button>
          </div>
        </div>
      </>
    );
  };

  const groupStep = () => (
    <>
      <p class="lw-lead">A security group is the instance's firewall: it decides who may connect to it.</p>
      <fieldset class="lw-options lw-two">
        <legend class="sr-only">Security group</legend>
        <Option type="radio" name="lw-sg-mode" value="new" checked={sgMode === "new"} onChange={() => setSgMode("new")}>
          <span class="lw-option-title">Create a new security group</span>
          <span class="lw-option-desc">With one rule: SSH (port 22) from the address you choose.</span>
        </Option>
        <Option type="radio" name="lw-sg-mode" value="existing" checked={sgMode === "existing"} onChange={() => setSgMode("existing")}>
          <span class="lw-option-title">Select existing security groups</span>
          <span class="lw-option-desc">Use groups you already have.</span>
        </Option>
      </fieldset>
      {sgMode === "new" ? (
        <div class="lw-sub">
          <div class="lw-grid2">
            <label class="field" for="lw-sg-name">
              Security group name
              <input
                id="lw-sg-name"
                value={sgName}
                maxLength={255}
                spellcheck={false}
                onInput={(e) => {
                  setSgName((e.target as HTMLInputElement).value);
                  setSgNameTouched(true);
                }}
              />
            </label>
            <label class="field" for="lw-sg-desc">
              Description
              <input id="lw-sg-desc" value={sgDesc} maxLength={255} onInput={(e) => setSgDesc((e.target as HTMLInputElement).value)} />
            </label>
          </div>
          <fieldset class="lw-options lw-compact">
            <legend>Allow SSH from</legend>
            <Option
              type="radio"
              name="lw-ssh"
              value="myip"
              checked={sshFrom === "myip"}
              disabled={!mine}
              onChange={() => setSshFrom("myip")}
            >
              <span class="lw-option-title">
                My IP <span class="mono lw-ip">{mine ?? (myIpLoading ? "looking up…" : "unknown")}</span>
              </span>
            </Option>
            <Option type="radio" name="lw-ssh" value="anywhere" checked={sshFrom === "anywhere"} onChange={() => setSshFrom("anywhere")}>
              <span class="lw-option-title">
                Anywhere <span class="mono lw-ip">0.0.0.0/0</span>
              </span>
            </Option>
            {!myIpLoading && !mine && (
              <Option type="radio" name="lw-ssh" value="custom" checked={sshFrom === "custom"} onChange={() => setSshFrom("custom")}>
                <span class="lw-option-title">Custom address range</span>
              </Option>
            )}
          </fieldset>
          {sshFrom === "custom" && (
            <label class="field lw-narrow" for="lw-ssh-cidr">
              SSH source CIDR
              <input
                id="lw-ssh-cidr"
                placeholder="203.0.113.7/32"
                spellcheck={false}
                value={sshCidr}
                onInput={(e) => setSshCidr((e.target as HTMLInputElement).value)}
              />
            </label>
          )}
          {!myIpLoading && !mine && (
            <p class="muted lw-note">Kumo could not tell this browser's address, so My IP is not available.</p>
          )}
          {sshFrom === "anywhere" && (
            <div class="warning" role="note">
              <strong>Anyone on the internet can try to log in.</strong> Rules that allow 0.0.0.0/0 let every address reach
              port 22. Choose My IP unless you need to connect from many places.
            </div>
          )}
        </div>
      ) : (
        <div class="lw-sub">
          <ErrorBox error={groups.error} />
          {!groups.data ? (
            <Loading what="security groups" />
          ) : (
            <fieldset class="lw-options lw-compact">
              <legend>Security groups</legend>
              {groups.data.length === 0 && <p class="muted">You have no security groups yet.</p>}
              {groups.data.map((g: SecurityGroup) => {
                const id = g.GroupId ?? "";
                const on = sgIds.includes(id);
                return (
                  <Option
                    type="checkbox"
                    name="lw-sg"
                    value={id}
                    checked={on}
                    onChange={() => setSgIds(on ? sgIds.filter((x) => x !== id) : [...sgIds, id])}
                  >
                    <span class="lw-option-title">
                      {g.GroupName} <span class="mono lw-ip">{id}</span>
                    </span>
                    {g.Description && <span class="lw-option-desc">{g.Description}</span>}
                  </Option>
                );
              })}
            </fieldset>
          )}
          {sgIds.length === 0 && groups.data && groups.data.length > 0 && (
            <p class="muted lw-note">None chosen: the instance gets its VPC's default security group.</p>
          )}
        </div>
      )}
    </>
  );

  const keyStep = () => (
    <>
      <p class="lw-lead">The key pair's public key is put on the instance so that you can log in with SSH.</p>
      <ErrorBox error={keys.error} />
      {justCreated && kpMode === "existing" && keyName === justCreated && (
        <div class="lw-created" role="status">
          <strong>✓ Key pair {justCreated} created</strong> and <code>{justCreated}.pem</code> downloaded. Protect it before
          using it: <code>chmod 400 {justCreated}.pem</code>
        </div>
      )}
      <fieldset class="lw-options">
        <legend class="sr-only">Key pair</legend>
        <Option
          type="radio"
          name="lw-kp"
          value="existing"
          checked={kpMode === "existing"}
          disabled={!keys.data?.length}
          onChange={() => setKpMode("existing")}
        >
          <span class="lw-option-title">Use an existing key pair</span>
          {!keys.data?.length && <span class="lw-option-desc">You have none yet.</span>}
        </Option>
        {kpMode === "existing" && !!keys.data?.length && (
          <label class="field lw-narrow lw-indent" for="lw-key-name">
            Existing key pair
            <select id="lw-key-name" value={keyName} onChange={(e) => setKeyName((e.target as HTMLSelectElement).value)}>
              {keys.data.map((k) => (
                <option value={k.KeyName}>
                  {k.KeyName} ({k.KeyType ?? "key"})
                </option>
              ))}
            </select>
          </label>
        )}
        <Option type="radio" name="lw-kp" value="create" checked={kpMode === "create"} onChange={() => setKpMode("create")}>
          <span class="lw-option-title">Create a new key pair</span>
          <span class="lw-option-desc">Its private key downloads at once as a .pem file.</span>
        </Option>
        {kpMode === "create" && (
          <div class="lw-indent lw-kp-create">
            <CreateKeyPairForm
              session={session}
              idPrefix="lw-kp"
              onCreated={(n) => {
                setJustCreated(n);
                setKeyName(n);
                setKpMode("existing");
                keys.reload();
              }}
            />
          </div>
        )}
        <Option type="radio" name="lw-kp" value="none" checked={kpMode === "none"} onChange={() => setKpMode("none")}>
          <span class="lw-option-title">Proceed without a key pair</span>
          <span class="lw-option-desc">Not recommended.</span>
        </Option>
      </fieldset>
      {kpMode === "none" && (
        <div class="warning" role="note">
          <strong>You will not be able to log in with SSH</strong> unless the image has another way in. A key pair cannot
          be added to an instance after launch.
        </div>
      )}
    </>
  );

  const priceSummary = (): string => {
    if (market === "spot") {
      const now = spotNow ? `, now ${perHour(spotNow.price)}/h` : "";
      return cap === undefined ? `On-Demand price cap${now}` : `up to ${perHour(cap)}/h${now}`;
    }
    return hourly(od);
  };

  const reviewStep = () => {
    const Row = (p: { label: string; edit: number; children: ComponentChildren }) => (
      <div class="lw-review-row">
        <dt>{p.label}</dt>
        <dd>{p.children}</dd>
        <dd class="lw-review-edit">
          <button type="button" class="link" aria-label={`Edit ${p.label.toLowerCase()}`} onClick={() => go(p.edit)}>
            Edit
          </button>
        </dd>
      </div>
    );
    return (
      <>
        <p class="lw-lead">Check the instance, then launch it.</p>
        <dl class="lw-review">
          <Row label="Image" edit={0}>
            <strong>{imageLabel(image)}</strong> <span class="mono muted">{imageId}</span>
          </Row>
          <Row label="Instance type" edit={1}>
            <strong>{type}</strong>{" "}
            <span class="muted">
              {typeInfo?.VCpuInfo?.DefaultVCpus ?? "—"} vCPU · {gib(typeInfo?.MemoryInfo?.SizeInMiB)}
              {gpuText(typeInfo) !== "—" ? ` · ${gpuText(typeInfo)}` : ""}
            </span>{" "}
            {free(typeInfo) && <span class="badge free">Free tier</span>}
          </Row>
          <Row label="Purchase option" edit={2}>
            {market === "spot" ? (
              <>
                <span class="badge spot">Spot</span> max price{" "}
                {maxPrice.trim()
                  ? `${perHour(maxPriceNum)}/h`
                  : `the On-Demand price${od !== undefined ? ` (${perHour(od)}/h)` : ""}`}
              </>
            ) : (
              "On-Demand"
            )}
          </Row>
          <Row label="Storage" edit={3}>
            {size} GiB gp3 root volume <span class="mono muted">{image?.RootDeviceName ?? "/dev/xvda"}</span>, deleted on termination
          </Row>
          <Row label="Tags" edit={4}>
            {tagList.length ? (
              <span class="lw-tag-list">
                {tagList.map((t) => (
                  <span class="lw-chip">
                    {t.Key}
                    {t.Value ? ` = ${t.Value}` : ""}
                  </span>
                ))}
              </span>
            ) : (
              <span class="muted">None</span>
            )}
          </Row>
          <Row label="Security group" edit={5}>
            {sgMode === "new" ? (
              <>
                New group <strong>{sgName}</strong>: SSH from <span class="mono">{sshSource || "—"}</span>
                {sshFrom === "anywhere" && <span class="badge spot lw-ml">open to the internet</span>}
              </>
            ) : sgIds.length ? (
              sgIds
                .map((id) => {
                  const g = groups.data?.find((x) => x.GroupId === id);
                  return g ? `${g.GroupName} (${id})` : id;
                })
                .join(", ")
            ) : (
              <span class="muted">The VPC's default group</span>
            )}
          </Row>
          <Row label="Key pair" edit={6}>
            {kpMode === "existing" ? (
              <strong>{keyName}</strong>
            ) : (
              <span class="lw-warn-text">None: SSH login will not be possible</span>
            )}
          </Row>
        </dl>
        <div class="lw-cost">
          <div>
            <div class="metric-label">{market === "spot" ? "Spot price" : "On-Demand price"}</div>
            <div class="lw-cost-value" data-testid="launch-price">
              {priceSummary()}
            </div>
            {market === "on-demand" && od !== undefined && <div class="muted">≈ {monthly(od)} a month if left running</div>}
            {market === "spot" && <div class="muted">You pay the spot price of the hour, never more than the max.</div>}
          </div>
          {free(typeInfo) && market === "on-demand" && (
            <div class="lw-free">
              <span class="badge free">Free tier</span> {type} hours are covered by the free tier while it lasts.
            </div>
          )}
        </div>
      </>
    );
  };

  const bodies = [imageStep, typeStep, purchaseStep, storageStep, tagsStep, groupStep, keyStep, reviewStep];

  // ------------------------------------------------------------------ layout

  if (result) {
    return (
      <div class="lw-page">
        <PageHead title="Launch instance" />
        <section class="card lw-success" aria-labelledby="lw-success-title">
          <h2 id="lw-success-title" tabIndex={-1} ref={headRef}>
            ✓ {result.ids.length === 1 ? "Instance launched" : "Instances launched"}
          </h2>
          <p>
            {result.ids.map((id) => (
              <code class="lw-id">{id}</code>
            ))}{" "}
            {result.ids.length === 1 ? "is" : "are"} starting. {result.spot ? "It runs as a spot instance." : ""}
          </p>
          {result.key && (
            <p class="muted">
              Once it is running, log in with <code>ssh -i {result.key}.pem admin@&lt;public IP&gt;</code> (the user name
              depends on the image).
            </p>
          )}
          <div class="actions">
            <a class="lw-button primary" href="#/instances">
              View instances
            </a>
            {result.spot && (
              <a class="lw-button" href="#/spot">
                View spot requests
              </a>
            )}
            <button
              type="button"
              onClick={() => {
                setResult(null);
                go(STEPS.length - 1);
              }}
            >
              Launch another
            </button>
          </div>
        </section>
      </div>
    );
  }

  const last = step === STEPS.length - 1;
  return (
    <div class="lw-page">
      <PageHead title="Launch instance" />
      <div class="lw-steps" role="navigation" aria-label="Launch steps">
        <div class="lw-steps-mobile" aria-hidden="true">
          Step {step + 1} of {STEPS.length}
          <div class="lw-bar">
            <span style={{ width: `${((step + 1) / STEPS.length) * 100}%` }} />
          </div>
        </div>
        <ol>
          {STEPS.map((s, i) => {
            const done = i !== step && i <= Math.max(visited, step) && !problemOf(i);
            return (
              <li class={`${i === step ? "current" : ""} ${done ? "done" : ""}`}>
                <button type="button" aria-current={i === step ? "step" : undefined} onClick={() => go(i)}>
                  <span class="lw-num" aria-hidden="true">
                    {done && i !== step ? "✓" : i + 1}
                  </span>
                  <span class="sr-only">Step {i + 1}: </span>
                  <span class="lw-step-label">{s}</span>
                </button>
              </li>
            );
          })}
        </ol>
      </div>
      <div class={`lw-body ${last ? "lw-solo" : ""}`}>
        <section class="card lw-panel" aria-labelledby="lw-step-title">
          <h2 id="lw-step-title" tabIndex={-1} ref={headRef}>
            <span class="lw-step-no">{step + 1}.</span> {STEPS[step]}
          </h2>
          {bodies[step]()}
          {problem && (
            <div class="lw-problem" role="alert">
              {problem}
            </div>
          )}
          {last && <ErrorBox error={error} onClose={() => setError(null)} />}
          <div class="lw-nav">
            <button type="button" onClick={() => go(step - 1)} disabled={step === 0 || !!busy}>
              Back
            </button>
            <span class="lw-nav-gap" />
            {!last && step < STEPS.length - 2 && (
              <button type="button" class="link lw-skip" onClick={() => go(STEPS.length - 1)}>
                Skip to review
              </button>
            )}
            {last ? (
              <button type="button" class="primary lw-launch" onClick={launch} disabled={!!busy}>
                {busy ? busy : "Launch instance"}
              </button>
            ) : (
              <button type="button" class="primary" onClick={next}>
                Next
              </button>
            )}
          </div>
        </section>
        {!last && (
          <aside class="card lw-summary" aria-label="Summary">
            <h2>Summary</h2>
            <dl>
              <dt>Image</dt>
              <dd>{imageLabel(image) || "—"}</dd>
              <dt>Instance type</dt>
              <dd>
                {type || "—"} {free(typeInfo) && <span class="badge free">Free tier</span>}
              </dd>
              <dt>Purchase</dt>
              <dd>{market === "spot" ? "Spot" : "On-Demand"}</dd>
              <dt>Storage</dt>
              <dd>{size || "—"} GiB gp3</dd>
              <dt>Security group</dt>
              <dd>{sgMode === "new" ? `new: ${sgName}` : sgIds.length ? `${sgIds.length} selected` : "default"}</dd>
              <dt>Key pair</dt>
              <dd>{kpMode === "existing" ? keyName : kpMode === "create" ? "to create" : kpMode === "none" ? "none" : "—"}</dd>
            </dl>
            <div class="lw-summary-price">
              <span class="metric-label">Price</span>
              <strong>{priceSummary()}</strong>
            </div>
          </aside>
        )}
      </div>
    </div>
  );
}

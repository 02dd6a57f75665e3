// The launch wizard's state: every choice, their checks (problemOf) and the launch itself, as a hook, apart from the markup.
import { useEffect, useState } from "preact/hooks";
import {
  DescribeSpotPriceHistoryCommand,
  RunInstancesCommand,
  type _InstanceType,
  type InstanceTypeInfo,
  type RunInstancesCommandInput,
  type Tag,
} from "@aws-sdk/client-ec2";
import { ec2, type Session } from "../api";
import { usePoll } from "../ui";
import { listKeyPairs } from "./keypairs";
import { cidrOk, createGroupWithSsh, listSecurityGroups, myIpCidr, nextLaunchWizardName, useMyIp } from "./security_groups";
import {
  STEPS,
  hourly,
  isDebian,
  listImages,
  listInstanceTypes,
  loadPrices,
  newestPerZone,
  perHour,
  rootSize,
  token,
  type TagRow,
  type ZonePrice,
} from "./launch_data";

export type Wizard = ReturnType<typeof useLaunchWizard>;

export function useLaunchWizard(session: Session) {
  const images = usePoll(() => listImages(session), [session], 300000);
  const types = usePoll(() => listInstanceTypes(session), [session], 300000);
  const prices = usePoll(() => loadPrices(session), [session], 300000);
  const groups = usePoll(() => listSecurityGroups(session), [session], 60000);
  const keys = usePoll(() => listKeyPairs(session), [session], 60000);
  const ip = useMyIp();
  // Only an IPv4 address can be an SSH source here (the groups' rules are IPv4).
  const mine = ((c) => (c && cidrOk(c) ? c : null))(myIpCidr(ip));
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
  // One token per intended launch: a retry after a lost reply must not start a second instance, and
  // a changed request needs a new token (EC2 answers IdempotentParameterMismatch otherwise).
  const [clientToken, setClientToken] = useState(token);

  const image = images.data?.find((i) => i.ImageId === imageId);
  const typeInfo = types.data?.find((t) => t.InstanceType === type);
  const price = (t?: string) => (t ? prices.data?.byType.get(t) : undefined);
  // Once Kumo's prices are in, they decide (the free tier may have ended); the catalog's flag until then.
  const free = (t?: InstanceTypeInfo) =>
    !!t && (prices.data ? !!price(t.InstanceType)?.free : !!t.FreeTierEligible);
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

  const sshSource = sshFrom === "anywhere" ? "0.0.0.0/0" : sshFrom === "myip" ? mine ?? "" : sshCidr.trim();
  const maxPriceNum = maxPrice.trim() ? Number(maxPrice.trim()) : undefined;
  const cap = maxPriceNum ?? od;
  const tagList: Tag[] = tags
    .map((t) => ({ Key: t.key.trim(), Value: t.value.trim() }))
    .filter((t, i) => (i === 0 ? t.Value !== "" : t.Key !== "" || t.Value !== ""));

  useEffect(() => {
    setClientToken(token());
  }, [imageId, type, market, maxPrice, size, JSON.stringify(tagList), sgMode, sgIds.join(), sgName, sshSource, kpMode, keyName]);

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
        ClientToken: clientToken,
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
      setClientToken(token());
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

  const priceSummary = (): string => {
    if (market === "spot") {
      const now = spotNow ? `, now ${perHour(spotNow.price)}/h` : "";
      return cap === undefined ? `On-Demand price cap${now}` : `up to ${perHour(cap)}/h${now}`;
    }
    return hourly(od);
  };

  return {
    images, types, prices, groups, keys, mine, myIpLoading, step, visited, problem, imageId, setImageId,
    imageFilter, setImageFilter, type, setType, typeFilter, setTypeFilter, freeOnly, setFreeOnly, gpuOnly,
    setGpuOnly, market, setMarket, maxPrice, setMaxPrice, spot, size, setSize, setSizeTouched, tags, setTags,
    sgMode, setSgMode, sgIds, setSgIds, sgName, setSgName, setSgNameTouched, sgDesc, setSgDesc, sshFrom,
    setSshFrom, sshCidr, setSshCidr, kpMode, setKpMode, keyName, setKeyName, justCreated, setJustCreated,
    busy, error, setError, result, setResult, image, typeInfo, price, free, od, minSize, zones, spotNow,
    sshSource, maxPriceNum, tagList, problemOf, go, next, launch, priceSummary, session,
  };
}

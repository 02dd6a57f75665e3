// Volumes: DescribeVolumes, live; create, attach (to a running or stopped instance in the same
// zone), detach, grow (ModifyVolume) and delete.
import { useMemo, useState } from "preact/hooks";
import {
  AttachVolumeCommand,
  CreateVolumeCommand,
  DeleteVolumeCommand,
  DescribeAvailabilityZonesCommand,
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  ModifyVolumeCommand,
  type EC2Client,
  type Volume,
  type VolumeType,
} from "@aws-sdk/client-ec2";
import type { PageProps } from "../main";
import { ec2 } from "../api";
import { Confirm, ErrorBox, Modal, PageHead, State, Table, age, tagValue, useNotice, usePoll, type Column } from "../ui";
import "./volumes.css";

const TYPES: { value: string; label: string }[] = [
  { value: "gp3", label: "gp3 · General purpose SSD" },
  { value: "gp2", label: "gp2 · General purpose SSD (previous)" },
  { value: "io1", label: "io1 · Provisioned IOPS SSD" },
  { value: "io2", label: "io2 · Provisioned IOPS SSD" },
  { value: "st1", label: "st1 · Throughput optimized HDD" },
  { value: "sc1", label: "sc1 · Cold HDD" },
  { value: "standard", label: "standard · Magnetic" },
];

interface Inst {
  id: string;
  name: string;
  az: string;
  state: string;
  devices: Set<string>;
}

async function allVolumes(client: EC2Client): Promise<Volume[]> {
  const out: Volume[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await client.send(new DescribeVolumesCommand({ NextToken: token }));
    out.push(...(r.Volumes ?? []));
    token = r.NextToken || undefined;
  } while (token && ++pages < 20);
  return out;
}

async function instances(client: EC2Client): Promise<Map<string, Inst>> {
  const out = new Map<string, Inst>();
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await client.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] }],
        NextToken: token,
      }),
    );
    for (const res of r.Reservations ?? [])
      for (const i of res.Instances ?? []) {
        if (!i.InstanceId) continue;
        out.set(i.InstanceId, {
          id: i.InstanceId,
          name: tagValue(i.Tags, "Name"),
          az: i.Placement?.AvailabilityZone ?? "",
          state: i.State?.Name ?? "",
          devices: new Set((i.BlockDeviceMappings ?? []).map((b) => b.DeviceName ?? "")),
        });
      }
    token = r.NextToken || undefined;
  } while (token && ++pages < 20);
  return out;
}

// The first of /dev/sdf … /dev/sdp the instance does not use (EC2's suggested data devices).
function freeDevice(inst: Inst | undefined): string {
  for (const c of "fghijklmnop") {
    const d = `/dev/sd${c}`;
    if (!inst || (!inst.devices.has(d) && !inst.devices.has(`/dev/xvd${c}`))) return d;
  }
  return "/dev/sdf";
}

function attachment(v: Volume) {
  return v.Attachments?.[0];
}

function CreateVolume({
  client,
  zones,
  onDone,
  onCancel,
}: {
  client: EC2Client;
  zones: string[];
  onDone: (v: Volume) => void;
  onCancel: () => void;
}) {
  const [size, setSize] = useState("8");
  const [type, setType] = useState("gp3");
  const [iops, setIops] = useState("3000");
  const [az, setAz] = useState(zones[0] ?? "");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const provisioned = type === "io1" || type === "io2";
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const v = await client.send(
        new CreateVolumeCommand({
          Size: Number(size),
          VolumeType: type as VolumeType,
          AvailabilityZone: az || zones[0],
          Iops: provisioned && iops ? Number(iops) : undefined,
          TagSpecifications: name.trim()
            ? [{ ResourceType: "volume", Tags: [{ Key: "Name", Value: name.trim() }] }]
            : undefined,
        }),
      );
      onDone(v);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form id="volume-create-form" onSubmit={submit}>
      <div class="dialog-body vol-form">
        <label class="field" for="volume-name">
          Name tag (optional)
          <input id="volume-name" value={name} placeholder="data" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <div class="vol-form-row">
          <label class="field" for="volume-size">
            Size (GiB)
            <input
              id="volume-size"
              type="number"
              min={1}
              max={16384}
              required
              value={size}
              onInput={(e) => setSize((e.target as HTMLInputElement).value)}
            />
          </label>
          <label class="field" for="volume-az">
            Availability zone
            <select id="volume-az" value={az} onChange={(e) => setAz((e.target as HTMLSelectElement).value)}>
              {zones.map((z) => (
                <option value={z}>{z}</option>
              ))}
            </select>
          </label>
        </div>
        <label class="field" for="volume-type">
          Volume type
          <select id="volume-type" value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
            {TYPES.map((t) => (
              <option value={t.value}>{t.label}</option>
            ))}
          </select>
        </label>
        {provisioned && (
          <label class="field" for="volume-iops">
            IOPS
            <input
              id="volume-iops"
              type="number"
              min={100}
              value={iops}
              onInput={(e) => setIops((e.target as HTMLInputElement).value)}
            />
          </label>
        )}
        <p class="muted vol-hint">A volume can only be attached to instances in its own availability zone.</p>
        <ErrorBox error={error} />
      </div>
      <footer class="dialog-foot">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" id="volume-create-submit" disabled={busy || !az}>
          {busy ? "Creating…" : "Create volume"}
        </button>
      </footer>
    </form>
  );
}

function AttachVolume({
  client,
  volume,
  insts,
  onDone,
  onCancel,
}: {
  client: EC2Client;
  volume: Volume;
  insts: Inst[];
  onDone: (instance: string, device: string) => void;
  onCancel: () => void;
}) {
  const candidates = insts
    .filter((i) => i.az === volume.AvailabilityZone && (i.state === "running" || i.state === "stopped"))
    .sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id));
  const [instance, setInstance] = useState(candidates[0]?.id ?? "");
  const [device, setDevice] = useState(freeDevice(candidates[0]));
  const [deviceEdited, setDeviceEdited] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await client.send(new AttachVolumeCommand({ VolumeId: volume.VolumeId, InstanceId: instance, Device: device.trim() }));
      onDone(instance, device.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form id="volume-attach-form" onSubmit={submit}>
      <div class="dialog-body vol-form">
        <p>
          Attach <strong class="mono">{volume.VolumeId}</strong> ({volume.Size} GiB, {volume.AvailabilityZone}) to:
        </p>
        {candidates.length === 0 ? (
          <p class="warning">
            No running or stopped instance in {volume.AvailabilityZone}. A volume can only be attached in its own zone.
          </p>
        ) : (
          <>
            <label class="field" for="attach-instance">
              Instance
              <select
                id="attach-instance"
                value={instance}
                onChange={(e) => {
                  const id = (e.target as HTMLSelectElement).value;
                  setInstance(id);
                  if (!deviceEdited) setDevice(freeDevice(candidates.find((c) => c.id === id)));
                }}
              >
                {candidates.map((c) => (
                  <option value={c.id}>
                    {c.name ? `${c.name} (${c.id})` : c.id} · {c.state}
                  </option>
                ))}
              </select>
            </label>
            <label class="field" for="attach-device">
              Device name
              <input
                id="attach-device"
                value={device}
                required
                pattern="/dev/(sd|xvd)[b-z][1-9]?"
                spellcheck={false}
                onInput={(e) => {
                  setDevice((e.target as HTMLInputElement).value);
                  setDeviceEdited(true);
                }}
              />
              <span class="vol-help">/dev/sdf to /dev/sdp are the usual names for data volumes.</span>
            </label>
          </>
        )}
        <ErrorBox error={error} />
      </div>
      <footer class="dialog-foot">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" id="volume-attach-submit" disabled={busy || !instance}>
          {busy ? "Attaching…" : "Attach"}
        </button>
      </footer>
    </form>
  );
}

function ModifySize({
  client,
  volume,
  onDone,
  onCancel,
}: {
  client: EC2Client;
  volume: Volume;
  onDone: (size: number) => void;
  onCancel: () => void;
}) {
  const current = volume.Size ?? 1;
  const [size, setSize] = useState(String(current * 2));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await client.send(new ModifyVolumeCommand({ VolumeId: volume.VolumeId, Size: Number(size) }));
      onDone(Number(size));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form id="volume-modify-form" onSubmit={submit}>
      <div class="dialog-body vol-form">
        <label class="field" for="modify-size">
          New size (GiB)
          <input
            id="modify-size"
            type="number"
            min={current + 1}
            max={16384}
            required
            value={size}
            onInput={(e) => setSize((e.target as HTMLInputElement).value)}
          />
          <span class="vol-help">Now {current} GiB. Volumes can grow, not shrink.</span>
        </label>
        {attachment(volume) && (
          <p class="muted vol-hint">
            After the change, grow the partition and file system inside {attachment(volume)?.InstanceId} (for example{" "}
            <code>sudo growpart</code> and <code>sudo resize2fs</code>).
          </p>
        )}
        <ErrorBox error={error} />
      </div>
      <footer class="dialog-foot">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" id="volume-modify-submit" disabled={busy}>
          {busy ? "Modifying…" : "Modify"}
        </button>
      </footer>
    </form>
  );
}

export function Volumes({ session }: PageProps) {
  const client = ec2(session);
  const { notice, ok, fail } = useNotice();
  const data = usePoll(
    async () => {
      const [vols, insts] = await Promise.all([allVolumes(client), instances(client)]);
      return { vols, insts };
    },
    [client],
  );
  const zones = usePoll(
    async () => {
      const r = await client.send(new DescribeAvailabilityZonesCommand({}));
      return (r.AvailabilityZones ?? [])
        .filter((z) => !z.State || z.State === "available")
        .map((z) => z.ZoneName ?? "")
        .filter(Boolean)
        .sort();
    },
    [client],
    300_000,
  );
  const [selected, setSelected] = useState<string | null>(null);
  const [dialog, setDialog] = useState<null | "create" | "attach" | "modify" | "detach" | "delete">(null);

  const vols = data.data?.vols;
  const insts = data.data?.insts;
  const vol = vols?.find((v) => v.VolumeId === selected) ?? null;
  const att = vol ? attachment(vol) : undefined;
  const instList = useMemo(() => [...(insts?.values() ?? [])], [insts]);

  const instLabel = (id?: string) => {
    if (!id) return "";
    const n = insts?.get(id)?.name;
    return n ? `${n} (${id})` : id;
  };

  const act = async (what: () => Promise<unknown>, text: string) => {
    try {
      await what();
      ok(text);
      data.reload();
    } catch (e) {
      fail(e);
    }
  };

  const now = Date.now();
  const columns: Column<Volume>[] = [
    {
      key: "id",
      label: "Volume ID",
      value: (v) => v.VolumeId,
      render: (v) => <span class="mono">{v.VolumeId}</span>,
    },
    { key: "name", label: "Name", value: (v) => tagValue(v.Tags, "Name"), render: (v) => tagValue(v.Tags, "Name") || <span class="muted">—</span> },
    { key: "size", label: "Size", numeric: true, value: (v) => v.Size, render: (v) => `${v.Size} GiB` },
    {
      key: "type",
      label: "Type",
      value: (v) => v.VolumeType,
      render: (v) => (
        <span>
          {v.VolumeType}
          {v.Iops && (v.VolumeType === "io1" || v.VolumeType === "io2") ? <span class="muted"> · {v.Iops} IOPS</span> : ""}
        </span>
      ),
    },
    { key: "state", label: "State", value: (v) => v.State, render: (v) => <State state={v.State} /> },
    { key: "az", label: "Zone", value: (v) => v.AvailabilityZone },
    {
      key: "attached",
      label: "Attached to",
      value: (v) => `${attachment(v)?.InstanceId ?? ""} ${attachment(v)?.Device ?? ""}`,
      render: (v) => {
        const a = attachment(v);
        if (!a) return <span class="muted">—</span>;
        const n = insts?.get(a.InstanceId ?? "")?.name;
        return (
          <span class="vol-att">
            <span>
              {n && <>{n} </>}
              <span class={n ? "mono muted" : "mono"}>{a.InstanceId}</span>
            </span>
            <span class="muted">
              <span class="mono">{a.Device}</span>
              {a.State && a.State !== "attached" ? ` · ${a.State}` : ""}
            </span>
          </span>
        );
      },
    },
    {
      key: "created",
      label: "Created",
      numeric: true,
      value: (v) => (v.CreateTime ? new Date(v.CreateTime).getTime() : now),
      render: (v) => <span title={v.CreateTime ? new Date(v.CreateTime).toLocaleString() : ""}>{age(v.CreateTime, now)} ago</span>,
    },
  ];

  const total = (vols ?? []).reduce((s, v) => s + (v.Size ?? 0), 0);
  const inUse = (vols ?? []).filter((v) => v.State === "in-use").length;

  return (
    <div class="volumes-page">
      <PageHead title="Volumes">
        <button onClick={() => data.reload()} aria-label="Refresh volumes">
          ↻ Refresh
        </button>
        <button class="primary" id="volume-create" onClick={() => setDialog("create")} disabled={!zones.data?.length}>
          Create volume
        </button>
      </PageHead>
      {vols && (
        <p class="muted vol-counts">
          {vols.length} volume{vols.length === 1 ? "" : "s"} · {total} GiB · {inUse} in use
        </p>
      )}
      {notice}
      <ErrorBox error={data.error} />
      <ErrorBox error={zones.error} />
      <div class="vol-toolbar" role="toolbar" aria-label="Volume actions">
        <span class="vol-selected" aria-live="polite">
          {vol ? (
            <>
              Selected: <strong class="mono">{vol.VolumeId}</strong>
              {tagValue(vol.Tags, "Name") && <> ({tagValue(vol.Tags, "Name")})</>}
            </>
          ) : (
            <span class="muted">Select a volume for its actions.</span>
          )}
        </span>
        <div class="actions">
          <button id="volume-attach" disabled={!vol || vol.State !== "available"} onClick={() => setDialog("attach")}>
            Attach
          </button>
          <button id="volume-detach" disabled={!vol || !att || att.State !== "attached"} onClick={() => setDialog("detach")}>
            Detach
          </button>
          <button
            id="volume-modify"
            disabled={!vol || (vol.State !== "available" && vol.State !== "in-use")}
            onClick={() => setDialog("modify")}
          >
            Modify size
          </button>
          <button
            id="volume-delete"
            class="vol-delete"
            disabled={!vol || vol.State !== "available" || !!att}
            onClick={() => setDialog("delete")}
          >
            Delete
          </button>
        </div>
      </div>
      <Table
        label="Volumes"
        columns={columns}
        rows={vols}
        rowKey={(v) => v.VolumeId ?? ""}
        selected={selected}
        onSelect={setSelected}
        initialSort="created"
        initialDir={-1}
        empty={`No volumes in ${session.region}. Instances' root volumes show here once launched; create a data volume with "Create volume".`}
      />

      <Modal title="Create volume" open={dialog === "create"} onClose={() => setDialog(null)}>
        <CreateVolume
          client={client}
          zones={zones.data ?? []}
          onCancel={() => setDialog(null)}
          onDone={(v) => {
            setDialog(null);
            setSelected(v.VolumeId ?? null);
            ok(`Creating ${v.VolumeId} (${v.Size} GiB ${v.VolumeType} in ${v.AvailabilityZone}).`);
            data.reload();
          }}
        />
      </Modal>
      <Modal title="Attach volume" open={dialog === "attach" && !!vol} onClose={() => setDialog(null)}>
        {vol && (
          <AttachVolume
            client={client}
            volume={vol}
            insts={instList}
            onCancel={() => setDialog(null)}
            onDone={(i, d) => {
              setDialog(null);
              ok(`Attaching ${vol.VolumeId} to ${instLabel(i)} as ${d}.`);
              data.reload();
            }}
          />
        )}
      </Modal>
      <Modal title="Modify volume size" open={dialog === "modify" && !!vol} onClose={() => setDialog(null)}>
        {vol && (
          <ModifySize
            client={client}
            volume={vol}
            onCancel={() => setDialog(null)}
            onDone={(s) => {
              setDialog(null);
              ok(`Growing ${vol.VolumeId} to ${s} GiB.`);
              data.reload();
            }}
          />
        )}
      </Modal>
      <Confirm
        title="Detach volume"
        open={dialog === "detach" && !!vol}
        confirmLabel="Detach"
        onConfirm={() =>
          vol &&
          act(
            () => client.send(new DetachVolumeCommand({ VolumeId: vol.VolumeId })),
            `Detaching ${vol.VolumeId} from ${instLabel(att?.InstanceId)}.`,
          )
        }
        onClose={() => setDialog(null)}
      >
        <p>
          Detach <strong class="mono">{vol?.VolumeId}</strong> from {instLabel(att?.InstanceId)} ({att?.Device})?
        </p>
        <p class="muted">Unmount it inside the instance first, or writes in flight may be lost.</p>
      </Confirm>
      <Confirm
        title="Delete volume"
        open={dialog === "delete" && !!vol}
        danger
        confirmLabel="Delete"
        onConfirm={() =>
          vol &&
          act(() => client.send(new DeleteVolumeCommand({ VolumeId: vol.VolumeId })), `Deleting ${vol.VolumeId}.`).then(
            () => setSelected(null),
          )
        }
        onClose={() => setDialog(null)}
      >
        <p>
          Delete <strong class="mono">{vol?.VolumeId}</strong>
          {vol && tagValue(vol.Tags, "Name") ? ` (${tagValue(vol.Tags, "Name")})` : ""}, {vol?.Size} GiB?
        </p>
        <p class="muted">Its data is gone for good. Take a snapshot first if you may need it.</p>
      </Confirm>
    </div>
  );
}

// Images: the region's public images (owner alias "amazon") and the account's own, with a launch
// link for each and deregister for the account's.
import { useState } from "preact/hooks";
import { DeregisterImageCommand, DescribeImagesCommand, type EC2Client, type Image } from "@aws-sdk/client-ec2";
import type { PageProps } from "../main";
import { ec2 } from "../api";
import { Confirm, ErrorBox, PageHead, State, Table, age, useNotice, usePoll, type Column } from "../ui";
import "./images.css";

async function images(client: EC2Client, owners: string[]): Promise<Image[]> {
  const out: Image[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await client.send(new DescribeImagesCommand({ Owners: owners, NextToken: token }));
    out.push(...(r.Images ?? []));
    token = r.NextToken || undefined;
  } while (token && ++pages < 10);
  return out;
}

type Row = Image & { own: boolean };

function rootSize(i: Image): number | undefined {
  const root = i.BlockDeviceMappings?.find((b) => b.DeviceName === i.RootDeviceName) ?? i.BlockDeviceMappings?.[0];
  return root?.Ebs?.VolumeSize;
}

export function Images({ session }: PageProps) {
  const client = ec2(session);
  const { notice, ok, fail } = useNotice();
  const [selected, setSelected] = useState<string | null>(null);
  const [target, setTarget] = useState<Row | null>(null);
  const [show, setShow] = useState<"all" | "self" | "amazon">("all");

  const data = usePoll(
    async () => {
      // The account's own images (Owners self) tell which ones it may deregister.
      const [all, mine] = await Promise.all([images(client, ["self", "amazon"]), images(client, ["self"])]);
      const own = new Set(mine.map((i) => i.ImageId));
      return all.map((i): Row => ({ ...i, own: own.has(i.ImageId) }));
    },
    [client],
    15_000,
  );

  const rows = data.data?.filter((r) => show === "all" || (show === "self" ? r.own : !r.own));
  const ownCount = data.data?.filter((r) => r.own).length ?? 0;

  const deregister = async (r: Row) => {
    try {
      await client.send(new DeregisterImageCommand({ ImageId: r.ImageId }));
      ok(`Deregistered ${r.ImageId}${r.Name ? ` (${r.Name})` : ""}. Its snapshots stay until you delete them.`);
      data.reload();
    } catch (e) {
      fail(e);
    }
  };

  const now = Date.now();
  const columns: Column<Row>[] = [
    {
      key: "name",
      label: "Name",
      // The description goes under the name: a column of its own would push the actions off screen.
      value: (r) => `${r.Name ?? ""} ${r.Description ?? ""}`,
      render: (r) => (
        <span class="img-name">
          <span class="img-title">
            <strong>{r.Name || <span class="muted">(no name)</span>}</strong>
            {r.FreeTierEligible && <span class="badge free">free tier</span>}
          </span>
          {r.Description && <span class="img-desc">{r.Description}</span>}
        </span>
      ),
    },
    {
      key: "id",
      label: "Image ID",
      value: (r) => r.ImageId,
      render: (r) => (
        <span class="mono">{r.ImageId}</span>
      ),
    },
    {
      key: "owner",
      label: "Owner",
      value: (r) => (r.own ? "me" : r.ImageOwnerAlias ?? r.OwnerId),
      render: (r) =>
        r.own ? (
          <span class="badge">this account</span>
        ) : (
          <span title={r.OwnerId}>{r.ImageOwnerAlias ?? <span class="mono">{r.OwnerId}</span>}</span>
        ),
    },
    { key: "state", label: "State", value: (r) => r.State, render: (r) => <State state={r.State} /> },
    { key: "arch", label: "Architecture", value: (r) => r.Architecture },
    {
      key: "root",
      label: "Root device",
      value: (r) => `${r.RootDeviceType ?? ""} ${r.RootDeviceName ?? ""}`,
      render: (r) => (
        <span class="img-root">
          <span>
            {r.RootDeviceType ?? "—"}
            {rootSize(r) ? ` · ${rootSize(r)} GiB` : ""}
          </span>
          <span class="muted mono">{r.RootDeviceName}</span>
        </span>
      ),
    },
    {
      key: "created",
      label: "Created",
      value: (r) => r.CreationDate ?? "",
      render: (r) =>
        r.CreationDate ? (
          <span title={new Date(r.CreationDate).toLocaleString()}>{age(r.CreationDate, now)} ago</span>
        ) : (
          "—"
        ),
    },
    {
      key: "actions",
      label: "Actions",
      value: () => "",
      render: (r) => (
        <span class="img-actions">
          {r.State === "available" && (
            <a class="img-launch" href={`#/launch?image=${encodeURIComponent(r.ImageId ?? "")}`} onClick={(e) => e.stopPropagation()}>
              Launch
            </a>
          )}
          {r.own && (
            <button
              class="img-deregister"
              onClick={(e) => {
                e.stopPropagation();
                setTarget(r);
              }}
            >
              Deregister
            </button>
          )}
        </span>
      ),
    },
  ];

  return (
    <div class="images-page">
      <PageHead title="Images">
        <div class="segmented img-show" role="group" aria-label="Show images">
          {(
            [
              ["all", "All"],
              ["amazon", "Public"],
              ["self", `Mine (${ownCount})`],
            ] as const
          ).map(([v, label]) => (
            <button id={`images-show-${v}`} aria-pressed={show === v} class={show === v ? "on" : ""} onClick={() => setShow(v)}>
              {label}
            </button>
          ))}
        </div>
        <button onClick={() => data.reload()} aria-label="Refresh images">
          ↻ Refresh
        </button>
      </PageHead>
      <p class="muted img-lead">
        Machine images to launch instances from: Kumo's public images and the ones this account created with{" "}
        <code>CreateImage</code>.
      </p>
      {notice}
      <ErrorBox error={data.error} />
      <Table
        label="Images"
        columns={columns}
        rows={rows}
        rowKey={(r) => r.ImageId ?? ""}
        selected={selected}
        onSelect={setSelected}
        empty={show === "self" ? "This account has no images of its own yet." : "No images in this region."}
      />
      <Confirm
        title="Deregister image"
        open={target !== null}
        danger
        confirmLabel="Deregister"
        onConfirm={() => target && deregister(target)}
        onClose={() => setTarget(null)}
      >
        <p>
          Deregister <strong>{target?.Name || target?.ImageId}</strong> (<span class="mono">{target?.ImageId}</span>)?
        </p>
        <p class="muted">
          No new instances can be launched from it. Instances already running from it keep running, and its snapshots
          stay (and bill) until you delete them.
        </p>
      </Confirm>
    </div>
  );
}

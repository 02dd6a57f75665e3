// Instances: the table, the actions (stop/start/reboot/terminate with confirmation), Connect with
// the exact ssh command, console output and the tags editor. Right-click a row for its menu.
import { useEffect, useState } from "preact/hooks";
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  GetConsoleOutputCommand,
  RebootInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
} from "@aws-sdk/client-ec2";
import type { PageProps } from "../main";
import { ec2, jsonCall, type Session } from "../api";
import { age, CodeBlock, Confirm, ErrorBox, Modal, PageHead, State, Table, tagValue, usd, useNotice, usePoll, type Column } from "../ui";

// The default image's login user (Debian's cloud images use "admin", as on EC2).
export const LOGIN_USER = "admin";

export async function listInstances(s: Session): Promise<Instance[]> {
  const out: Instance[] = [];
  let NextToken: string | undefined;
  do {
    const r = await ec2(s).send(new DescribeInstancesCommand({ NextToken }));
    for (const res of r.Reservations ?? []) out.push(...(res.Instances ?? []));
    NextToken = r.NextToken;
  } while (NextToken);
  return out;
}

// Month-to-date cost per instance from the bill; the page still works if billing is unavailable.
export async function costsByInstance(s: Session): Promise<Record<string, string>> {
  try {
    const bill = await jsonCall(s, "KumoBilling.GetBill", {});
    const m: Record<string, string> = {};
    for (const b of bill.ByInstance ?? []) m[b.InstanceId] = b.Cost;
    return m;
  } catch {
    return {};
  }
}

export function sshCommand(i: Instance): string {
  const host = i.PublicDnsName || i.PublicIpAddress || i.PrivateIpAddress || "<no address>";
  const key = i.KeyName ? `~/.ssh/${i.KeyName}.pem` : "<your key>.pem";
  return `ssh -i ${key} ${LOGIN_USER}@${host}`;
}

export function sshConfig(i: Instance): string {
  const alias = tagValue(i.Tags, "Name") || i.InstanceId;
  return [
    `Host ${alias?.replace(/\s+/g, "-")}`,
    `    HostName ${i.PublicDnsName || i.PublicIpAddress}`,
    `    User ${LOGIN_USER}`,
    `    IdentityFile ~/.ssh/${i.KeyName ?? "<your key>"}.pem`,
    `    IdentitiesOnly yes`,
  ].join("\n");
}

type Action = "stop" | "start" | "reboot" | "terminate";
const ACTION_TEXT: Record<Action, { title: string; verb: string; body: string; danger: boolean }> = {
  stop: { title: "Stop instance", verb: "Stop", danger: false, body: "The instance shuts down; its root volume is kept and it is no longer billed by the hour (storage still is)." },
  start: { title: "Start instance", verb: "Start", danger: false, body: "The instance boots again, possibly on a different host; billing resumes." },
  reboot: { title: "Reboot instance", verb: "Reboot", danger: false, body: "The instance restarts; it keeps its addresses and volumes." },
  terminate: { title: "Terminate instance", verb: "Terminate", danger: true, body: "The instance and its root volume are deleted. This cannot be undone." },
};

function ConnectDialog({ instance, onClose }: { instance: Instance | null; onClose: () => void }) {
  const i = instance;
  return (
    <Modal title={`Connect to ${i?.InstanceId ?? ""}`} open={!!i} onClose={onClose} wide>
      {i && (
        <div class="dialog-body">
          {i.State?.Name !== "running" && <div class="warning">The instance is {i.State?.Name}: start it before you connect.</div>}
          <p>Open a terminal where the private key of <strong>{i.KeyName ?? "(no key pair)"}</strong> is, then:</p>
          <CodeBlock text={`chmod 400 ~/.ssh/${i.KeyName ?? "<your key>"}.pem`} label="chmod command" />
          <CodeBlock text={sshCommand(i)} label="ssh command" />
          <p>Or add this to <code>~/.ssh/config</code> and run <code>ssh {(tagValue(i.Tags, "Name") || i.InstanceId)?.replace(/\s+/g, "-")}</code>:</p>
          <CodeBlock text={sshConfig(i)} label="ssh config" />
          <p class="hint">
            The security group must allow TCP 22 from your address. Public DNS names resolve on this host through Kumo's
            resolver (<code>kumo ssh-config</code> sets up all of them at once).
          </p>
        </div>
      )}
    </Modal>
  );
}

function ConsoleOutputDialog({ session, id, onClose }: { session: Session; id: string | null; onClose: () => void }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!id) return;
    setText(null);
    setError(null);
    ec2(session)
      .send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }))
      .then((r) => setText(r.Output ? new TextDecoder().decode(Uint8Array.from(atob(r.Output), (c) => c.charCodeAt(0))) : ""))
      .catch(setError);
  }, [id]);
  return (
    <Modal title={`Console output of ${id ?? ""}`} open={!!id} onClose={onClose} wide>
      <div class="dialog-body">
        <ErrorBox error={error} />
        {text === null && !error ? <p class="muted">Loading…</p> : <pre class="console-output" aria-label="Console output">{text || "(no output yet)"}</pre>}
      </div>
    </Modal>
  );
}

function TagsDialog({ session, instance, onClose, onSaved }: { session: Session; instance: Instance | null; onClose: () => void; onSaved: () => void }) {
  const [rows, setRows] = useState<{ Key: string; Value: string }[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setRows((instance?.Tags ?? []).map((t) => ({ Key: t.Key ?? "", Value: t.Value ?? "" })));
    setError(null);
  }, [instance?.InstanceId]);
  const save = async () => {
    if (!instance?.InstanceId) return;
    setBusy(true);
    setError(null);
    try {
      const keep = rows.filter((r) => r.Key.trim());
      const gone = (instance.Tags ?? []).filter((t) => !keep.some((r) => r.Key.trim() === t.Key));
      if (gone.length) await ec2(session).send(new DeleteTagsCommand({ Resources: [instance.InstanceId], Tags: gone.map((t) => ({ Key: t.Key })) }));
      if (keep.length)
        await ec2(session).send(new CreateTagsCommand({ Resources: [instance.InstanceId], Tags: keep.map((r) => ({ Key: r.Key.trim(), Value: r.Value })) }));
      onSaved();
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={`Tags of ${instance?.InstanceId ?? ""}`} open={!!instance} onClose={onClose}>
      <div class="dialog-body">
        <ErrorBox error={error} />
        {rows.map((r, n) => (
          <div class="row tag-row">
            <label class="field">
              Key
              <input value={r.Key} aria-label={`Tag ${n + 1} key`} onInput={(e) => setRows(rows.map((x, k) => (k === n ? { ...x, Key: (e.target as HTMLInputElement).value } : x)))} />
            </label>
            <label class="field">
              Value
              <input value={r.Value} aria-label={`Tag ${n + 1} value`} onInput={(e) => setRows(rows.map((x, k) => (k === n ? { ...x, Value: (e.target as HTMLInputElement).value } : x)))} />
            </label>
            <button onClick={() => setRows(rows.filter((_, k) => k !== n))} aria-label={`Remove tag ${n + 1}`}>
              Remove
            </button>
          </div>
        ))}
        <p>
          <button onClick={() => setRows([...rows, { Key: "", Value: "" }])}>Add tag</button>
        </p>
      </div>
      <footer class="dialog-foot">
        <button onClick={onClose}>Cancel</button>
        <button class="primary" disabled={busy} onClick={save}>
          Save tags
        </button>
      </footer>
    </Modal>
  );
}

export function Instances({ session }: PageProps) {
  const { data, error, reload } = usePoll(async () => {
    const [instances, costs] = await Promise.all([listInstances(session), costsByInstance(session)]);
    return { instances, costs };
  }, [session]);
  const [selected, setSelected] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<{ action: Action; id: string } | null>(null);
  const [connect, setConnect] = useState<Instance | null>(null);
  const [consoleId, setConsoleId] = useState<string | null>(null);
  const [tagsOf, setTagsOf] = useState<Instance | null>(null);
  const [menu, setMenu] = useState<{ i: Instance; x: number; y: number } | null>(null);
  const { notice, ok, fail } = useNotice();
  const instances = data?.instances;
  const sel = instances?.find((i) => i.InstanceId === selected) ?? null;

  useEffect(() => {
    if (!menu) return;
    const close = () => setMenu(null);
    window.addEventListener("click", close);
    window.addEventListener("keydown", close);
    return () => {
      window.removeEventListener("click", close);
      window.removeEventListener("keydown", close);
    };
  }, [menu]);

  const run = async (action: Action, id: string) => {
    const ids = { InstanceIds: [id] };
    try {
      const c = ec2(session);
      if (action === "stop") await c.send(new StopInstancesCommand(ids));
      if (action === "start") await c.send(new StartInstancesCommand(ids));
      if (action === "reboot") await c.send(new RebootInstancesCommand(ids));
      if (action === "terminate") await c.send(new TerminateInstancesCommand(ids));
      ok(`${ACTION_TEXT[action].verb}: ${id} — the table updates as its state changes.`);
      reload();
    } catch (e) {
      fail(e);
    }
  };

  const can = (i: Instance | null, a: Action) => {
    const s = i?.State?.Name;
    if (!i || s === "terminated" || s === "shutting-down") return false;
    if (a === "start") return s === "stopped";
    // One-time spot instances cannot be stopped (EC2 and Kumo refuse it): terminate them instead.
    if (a === "stop") return (s === "running" || s === "pending") && i.InstanceLifecycle !== "spot";
    if (a === "reboot") return s === "running";
    return true;
  };

  const columns: Column<Instance>[] = [
    { key: "name", label: "Name", value: (i) => tagValue(i.Tags, "Name") },
    { key: "id", label: "Instance ID", value: (i) => i.InstanceId, render: (i) => <code>{i.InstanceId}</code> },
    { key: "state", label: "State", value: (i) => i.State?.Name, render: (i) => <State state={i.State?.Name} /> },
    { key: "type", label: "Type", value: (i) => i.InstanceType },
    { key: "az", label: "AZ", value: (i) => i.Placement?.AvailabilityZone },
    { key: "dns", label: "Public DNS", value: (i) => i.PublicDnsName ?? "" },
    { key: "age", label: "Age", value: (i) => (i.LaunchTime ? new Date(i.LaunchTime).getTime() : 0), render: (i) => age(i.LaunchTime) },
    { key: "cost", label: "Cost (month)", numeric: true, value: (i) => Number(data?.costs[i.InstanceId ?? ""] ?? 0), render: (i) => usd(data?.costs[i.InstanceId ?? ""]) },
    {
      key: "lifecycle",
      label: "Lifecycle",
      value: (i) => (i.InstanceLifecycle === "spot" ? "spot" : "on-demand"),
      render: (i) => (i.InstanceLifecycle === "spot" ? <span class="badge spot">spot</span> : <span class="badge">on-demand</span>),
    },
  ];

  const menuItems = (i: Instance) => [
    { label: "Connect", onClick: () => setConnect(i), enabled: true },
    { label: "Stop", onClick: () => setConfirm({ action: "stop", id: i.InstanceId! }), enabled: can(i, "stop") },
    { label: "Start", onClick: () => setConfirm({ action: "start", id: i.InstanceId! }), enabled: can(i, "start") },
    { label: "Reboot", onClick: () => setConfirm({ action: "reboot", id: i.InstanceId! }), enabled: can(i, "reboot") },
    { label: "Terminate", onClick: () => setConfirm({ action: "terminate", id: i.InstanceId! }), enabled: can(i, "terminate") },
    { label: "Console output", onClick: () => setConsoleId(i.InstanceId!), enabled: true },
    { label: "Edit tags", onClick: () => setTagsOf(i), enabled: i.State?.Name !== "terminated" },
  ];

  const visible = instances?.filter((i) => i.State?.Name !== "terminated" || Date.now() - new Date(i.LaunchTime ?? 0).getTime() < 36e5 * 24);

  return (
    <>
      <PageHead title="Instances">
        <button onClick={reload}>Refresh</button>
        <a class="button-link primary" href="#/launch">
          Launch instance
        </a>
      </PageHead>
      {notice}
      <ErrorBox error={error} />
      <div class="actions selection-actions" aria-label="Actions for the selected instance" role="toolbar">
        <span class="muted">{sel ? <>Selected: <code>{sel.InstanceId}</code></> : "Select an instance (or right-click it) for its actions."}</span>
        {menuItems(sel ?? ({} as Instance)).map((m) => (
          <button disabled={!sel || !m.enabled} onClick={m.onClick}>
            {m.label}
          </button>
        ))}
      </div>
      <Table
        label="Instances"
        columns={columns}
        rows={visible}
        rowKey={(i) => i.InstanceId!}
        selected={selected}
        onSelect={setSelected}
        onMenu={(i, x, y) => setMenu({ i, x, y })}
        initialSort="age"
        initialDir={-1}
        empty={
          <>
            No instances in {session.region}. <a href="#/launch">Launch one</a>.
          </>
        }
      />
      {menu && (
        <div class="menu-pop" role="menu" style={{ left: `${menu.x}px`, top: `${menu.y}px` }}>
          {menuItems(menu.i).map((m) => (
            <button role="menuitem" disabled={!m.enabled} onClick={m.onClick}>
              {m.label}
            </button>
          ))}
        </div>
      )}
      {confirm && (
        <Confirm
          open
          title={ACTION_TEXT[confirm.action].title}
          confirmLabel={ACTION_TEXT[confirm.action].verb}
          danger={ACTION_TEXT[confirm.action].danger}
          onConfirm={() => run(confirm.action, confirm.id)}
          onClose={() => setConfirm(null)}
        >
          <p>
            {ACTION_TEXT[confirm.action].verb} <code>{confirm.id}</code>? {ACTION_TEXT[confirm.action].body}
          </p>
        </Confirm>
      )}
      <ConnectDialog instance={connect} onClose={() => setConnect(null)} />
      <ConsoleOutputDialog session={session} id={consoleId} onClose={() => setConsoleId(null)} />
      <TagsDialog session={session} instance={tagsOf} onClose={() => setTagsOf(null)} onSaved={reload} />
    </>
  );
}

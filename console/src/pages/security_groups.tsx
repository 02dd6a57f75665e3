// Security groups: the list, one group's inbound and outbound rules with an editor (add, edit in
// place with ModifySecurityGroupRules, delete by rule id), create and delete groups. The launch
// wizard reuses listSecurityGroups, createGroupWithSsh, nextLaunchWizardName and useMyIp.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  ModifySecurityGroupRulesCommand,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type IpPermission,
  type SecurityGroup,
  type SecurityGroupRule,
  type SecurityGroupRuleRequest,
} from "@aws-sdk/client-ec2";
import type { PageProps } from "../main";
import { ec2, myIp, type Session } from "../api";
import { Confirm, ErrorBox, Modal, PageHead, Table, useNotice, usePoll, type Column } from "../ui";
import "./security_groups.css";

// ---------------------------------------------------------------------------------------------
// Helpers shared with the launch wizard

export async function listSecurityGroups(session: Session): Promise<SecurityGroup[]> {
  const out: SecurityGroup[] = [];
  let token: string | undefined;
  do {
    const page = await ec2(session).send(new DescribeSecurityGroupsCommand({ NextToken: token }));
    out.push(...(page.SecurityGroups ?? []));
    token = page.NextToken;
  } while (token);
  return out.sort((a, b) => (a.GroupName ?? "").localeCompare(b.GroupName ?? ""));
}

// "launch-wizard-N" with N one more than the highest such name already taken, as EC2's wizard does.
export function nextLaunchWizardName(groups: SecurityGroup[] | undefined): string {
  let n = 0;
  for (const g of groups ?? []) {
    const m = /^launch-wizard-(\d+)$/.exec(g.GroupName ?? "");
    if (m) n = Math.max(n, Number(m[1]));
  }
  return `launch-wizard-${n + 1}`;
}

export function cidrOk(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(s.trim());
  return !!m && m.slice(1, 5).every((p) => Number(p) <= 255) && Number(m[5]) <= 32;
}

// The address this browser's connections come from, as seen by instances: undefined while asking,
// null when Kumo could not say.
export function useMyIp(): string | null | undefined {
  const [ip, setIp] = useState<string | null | undefined>(undefined);
  useEffect(() => {
    let live = true;
    myIp().then((v) => live && setIp(v));
    return () => {
      live = false;
    };
  }, []);
  return ip;
}

export function myIpCidr(ip: string | null | undefined): string | null {
  if (!ip) return null;
  return ip.includes("/") ? ip : ip.includes(":") ? `${ip}/128` : `${ip}/32`;
}

// Creates a group and lets SSH (tcp 22) in from cidr; returns the new GroupId. If the rule is
// refused the group is deleted again, so that a retry with the same name works.
export async function createGroupWithSsh(
  session: Session,
  name: string,
  description: string,
  cidr: string,
): Promise<string> {
  const client = ec2(session);
  const created = await client.send(
    new CreateSecurityGroupCommand({ GroupName: name, Description: description || name }),
  );
  const id = created.GroupId!;
  try {
    await client.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: id,
        IpPermissions: [
          { IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: cidr, Description: "SSH" }] },
        ],
      }),
    );
  } catch (e) {
    await client.send(new DeleteSecurityGroupCommand({ GroupId: id })).catch(() => undefined);
    throw e;
  }
  return id;
}

function ruleCount(perms: IpPermission[] | undefined): number {
  let n = 0;
  for (const p of perms ?? []) {
    n += (p.IpRanges?.length ?? 0) + (p.UserIdGroupPairs?.length ?? 0) + (p.Ipv6Ranges?.length ?? 0);
    n += p.PrefixListIds?.length ?? 0;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Rules: presets, drafts and their conversion to API shapes

type PresetId = "ssh" | "http" | "https" | "custom-tcp" | "custom-udp" | "icmp" | "all";

const PRESETS: { id: PresetId; label: string; protocol: string; port?: number }[] = [
  { id: "ssh", label: "SSH", protocol: "tcp", port: 22 },
  { id: "http", label: "HTTP", protocol: "tcp", port: 80 },
  { id: "https", label: "HTTPS", protocol: "tcp", port: 443 },
  { id: "custom-tcp", label: "Custom TCP", protocol: "tcp" },
  { id: "custom-udp", label: "Custom UDP", protocol: "udp" },
  { id: "icmp", label: "All ICMP", protocol: "icmp" },
  { id: "all", label: "All traffic", protocol: "-1" },
];

type SourceKind = "myip" | "anywhere" | "cidr" | "group";

interface Draft {
  preset: PresetId;
  ports: string;
  source: SourceKind;
  cidr: string;
  groupId: string;
  description: string;
}

function presetOf(r: SecurityGroupRule): PresetId {
  const p = r.IpProtocol ?? "";
  if (p === "-1" || p === "all") return "all";
  if (p === "icmp" || p === "1") return "icmp";
  if (p === "udp" || p === "17") return "custom-udp";
  if (r.FromPort === r.ToPort) {
    const hit = PRESETS.find((x) => x.port === r.FromPort);
    if (hit) return hit.id;
  }
  return "custom-tcp";
}

function portText(r: SecurityGroupRule): string {
  const p = r.IpProtocol ?? "";
  if (p === "-1" || p === "all") return "All";
  if (p === "icmp" || p === "1") return r.FromPort === -1 || r.FromPort === undefined ? "All" : `type ${r.FromPort}`;
  if (r.FromPort === undefined) return "—";
  return r.FromPort === r.ToPort ? String(r.FromPort) : `${r.FromPort}–${r.ToPort}`;
}

function protocolText(p?: string): string {
  if (p === "-1" || p === "all") return "All";
  return (p ?? "").toUpperCase();
}

function peerText(r: SecurityGroupRule, mine: string | null): string {
  if (r.ReferencedGroupInfo?.GroupId) return r.ReferencedGroupInfo.GroupId;
  const c = r.CidrIpv4 ?? r.CidrIpv6 ?? r.PrefixListId ?? "—";
  if (c === "0.0.0.0/0" || c === "::/0") return `${c} (Anywhere)`;
  if (mine && c === mine) return `${c} (My IP)`;
  return c;
}

function draftOf(r: SecurityGroupRule, mine: string | null): Draft {
  const preset = presetOf(r);
  const cidr = r.CidrIpv4 ?? "";
  const source: SourceKind = r.ReferencedGroupInfo?.GroupId
    ? "group"
    : cidr === "0.0.0.0/0"
      ? "anywhere"
      : mine && cidr === mine
        ? "myip"
        : "cidr";
  return {
    preset,
    ports: preset === "custom-tcp" || preset === "custom-udp" ? portText(r).replace("–", "-") : "",
    source,
    cidr,
    groupId: r.ReferencedGroupInfo?.GroupId ?? "",
    description: r.Description ?? "",
  };
}

function newDraft(egress: boolean, mine: string | null): Draft {
  return egress
    ? { preset: "all", ports: "", source: "anywhere", cidr: "", groupId: "", description: "" }
    : { preset: "ssh", ports: "", source: mine ? "myip" : "anywhere", cidr: "", groupId: "", description: "" };
}

// The draft as a SecurityGroupRuleRequest, or the words saying what is wrong with it.
function toRequest(d: Draft, mine: string | null): SecurityGroupRuleRequest | string {
  const preset = PRESETS.find((p) => p.id === d.preset)!;
  const req: SecurityGroupRuleRequest = { IpProtocol: preset.protocol };
  if (preset.port !== undefined) {
    req.FromPort = req.ToPort = preset.port;
  } else if (preset.protocol === "tcp" || preset.protocol === "udp") {
    const m = /^\s*(\d{1,5})\s*(?:[-–]\s*(\d{1,5})\s*)?$/.exec(d.ports);
    if (!m) return "Enter a port (8080) or a port range (8000-8090).";
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : from;
    if (from > 65535 || to > 65535 || from > to) return "Ports go from 0 to 65535, the first no higher than the last.";
    req.FromPort = from;
    req.ToPort = to;
  } else if (preset.protocol === "icmp") {
    req.FromPort = req.ToPort = -1;
  }
  if (d.source === "group") {
    if (!/^sg-[0-9a-zA-Z]+$/.test(d.groupId.trim())) return "Choose a security group (sg-…).";
    req.ReferencedGroupId = d.groupId.trim();
  } else {
    const cidr = d.source === "anywhere" ? "0.0.0.0/0" : d.source === "myip" ? mine : d.cidr.trim();
    if (!cidr) return "Kumo could not tell this browser's address; enter a CIDR block instead.";
    if (!cidrOk(cidr)) return "Enter an IPv4 CIDR block such as 203.0.113.7/32 or 10.0.0.0/16.";
    req.CidrIpv4 = cidr;
  }
  if (d.description.trim()) req.Description = d.description.trim();
  return req;
}

function toPermission(r: SecurityGroupRuleRequest): IpPermission {
  const p: IpPermission = { IpProtocol: r.IpProtocol, FromPort: r.FromPort, ToPort: r.ToPort };
  if (r.ReferencedGroupId) p.UserIdGroupPairs = [{ GroupId: r.ReferencedGroupId, Description: r.Description }];
  else p.IpRanges = [{ CidrIp: r.CidrIpv4, Description: r.Description }];
  return p;
}

// ---------------------------------------------------------------------------------------------
// The rule editor: one at a time on the page, so its labels are unique.

function RuleEditor(props: {
  draft: Draft;
  setDraft: (d: Draft) => void;
  egress: boolean;
  mine: string | null;
  groups: SecurityGroup[];
  busy: boolean;
  problem: string | null;
  saveLabel: string;
  onSave: () => void;
  onCancel: () => void;
}) {
  const { draft: d, setDraft } = props;
  const set = (patch: Partial<Draft>) => setDraft({ ...d, ...patch });
  const preset = PRESETS.find((p) => p.id === d.preset)!;
  const hasPorts = preset.port === undefined && (preset.protocol === "tcp" || preset.protocol === "udp");
  const peer = props.egress ? "Destination" : "Source";
  return (
    <form
      class="sg-editor"
      aria-label={props.saveLabel}
      onSubmit={(e) => {
        e.preventDefault();
        props.onSave();
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.stopPropagation();
          props.onCancel();
        }
      }}
    >
      <div class="sg-editor-grid">
        <label class="field" for="sg-rule-type">
          Type
          <select
            id="sg-rule-type"
            value={d.preset}
            onChange={(e) => set({ preset: (e.target as HTMLSelectElement).value as PresetId })}
          >
            {PRESETS.map((p) => (
              <option value={p.id}>
                {p.label}
                {p.port !== undefined ? ` (${p.port})` : ""}
              </option>
            ))}
          </select>
        </label>
        <label class="field" for="sg-rule-ports">
          Port range
          <input
            id="sg-rule-ports"
            inputMode="numeric"
            placeholder={hasPorts ? "8000-8090" : ""}
            disabled={!hasPorts}
            value={hasPorts ? d.ports : preset.port !== undefined ? String(preset.port) : "All"}
            onInput={(e) => set({ ports: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label class="field" for="sg-rule-peer">
          {peer}
          <select
            id="sg-rule-peer"
            value={d.source}
            onChange={(e) => set({ source: (e.target as HTMLSelectElement).value as SourceKind })}
          >
            <option value="myip" disabled={!props.mine}>
              My IP{props.mine ? ` (${props.mine})` : " (unknown)"}
            </option>
            <option value="anywhere">Anywhere (0.0.0.0/0)</option>
            <option value="cidr">Custom CIDR</option>
            <option value="group">Security group</option>
          </select>
        </label>
        {d.source === "cidr" && (
          <label class="field" for="sg-rule-cidr">
            CIDR block
            <input
              id="sg-rule-cidr"
              placeholder="203.0.113.0/24"
              spellcheck={false}
              value={d.cidr}
              onInput={(e) => set({ cidr: (e.target as HTMLInputElement).value })}
            />
          </label>
        )}
        {d.source === "group" && (
          <label class="field" for="sg-rule-group">
            Security group
            <select
              id="sg-rule-group"
              value={d.groupId}
              onChange={(e) => set({ groupId: (e.target as HTMLSelectElement).value })}
            >
              <option value="">Choose a group…</option>
              {props.groups.map((g) => (
                <option value={g.GroupId}>
                  {g.GroupId} ({g.GroupName})
                </option>
              ))}
            </select>
          </label>
        )}
        <label class="field sg-editor-desc" for="sg-rule-desc">
          Description
          <input
            id="sg-rule-desc"
            maxLength={255}
            placeholder="optional"
            value={d.description}
            onInput={(e) => set({ description: (e.target as HTMLInputElement).value })}
          />
        </label>
      </div>
      {d.source === "anywhere" && !props.egress && d.preset !== "http" && d.preset !== "https" && (
        <div class="warning sg-warn">Anywhere lets every address on the internet try to connect to this port.</div>
      )}
      {props.problem && (
        <div class="sg-problem" role="alert">
          {props.problem}
        </div>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={props.busy}>
          {props.busy ? "Saving…" : props.saveLabel}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// One group's rules

type Editing = { egress: boolean; ruleId: string | null } | null;

function RulesSection(props: {
  title: string;
  egress: boolean;
  rules: SecurityGroupRule[] | undefined;
  mine: string | null;
  groups: SecurityGroup[];
  editing: Editing;
  startEdit: (e: Editing, d: Draft) => void;
  editor: (saveLabel: string) => ComponentChildren;
  onDelete: (r: SecurityGroupRule) => void;
}) {
  const peer = props.egress ? "Destination" : "Source";
  const mine = props.editing?.egress === props.egress ? props.editing : null;
  const list = props.rules?.filter((r) => !!r.IsEgress === props.egress);
  const headingId = `sg-rules-${props.egress ? "out" : "in"}`;
  return (
    <section class="sg-rules" aria-labelledby={headingId}>
      <div class="sg-rules-head">
        <h3 id={headingId}>
          {props.title} <span class="muted">({list?.length ?? "…"})</span>
        </h3>
        <button
          onClick={() => props.startEdit({ egress: props.egress, ruleId: null }, newDraft(props.egress, props.mine))}
          aria-label={`Add ${props.egress ? "outbound" : "inbound"} rule`}
        >
          + Add rule
        </button>
      </div>
      <div class="scroll">
        <table class="sg-rule-table" aria-label={props.title}>
          <thead>
            <tr>
              <th scope="col">Type</th>
              <th scope="col">Protocol</th>
              <th scope="col">Port range</th>
              <th scope="col">{peer}</th>
              <th scope="col">Description</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list === undefined ? (
              <tr>
                <td colSpan={6} class="muted">
                  Loading…
                </td>
              </tr>
            ) : list.length === 0 && !(mine && mine.ruleId === null) ? (
              <tr>
                <td colSpan={6} class="muted">
                  {props.egress
                    ? "No outbound rules: instances in this group cannot start connections."
                    : "No inbound rules: nothing can connect to instances in this group."}
                </td>
              </tr>
            ) : (
              list.map((r) => (
                <tr
                  key={r.SecurityGroupRuleId}
                  data-rule={r.SecurityGroupRuleId}
                  class={mine && mine.ruleId === r.SecurityGroupRuleId ? "sg-editing" : ""}
                >
                  <td data-label="Type">
                    <strong>{PRESETS.find((p) => p.id === presetOf(r))!.label}</strong>
                  </td>
                  <td data-label="Protocol">{protocolText(r.IpProtocol)}</td>
                  <td class="mono" data-label="Port range">{portText(r)}</td>
                  <td class="mono" data-label={peer}>{peerText(r, props.mine)}</td>
                  <td data-label="Description">
                    {r.Description ? <span class="sg-desc">{r.Description}</span> : <span class="muted">—</span>}
                  </td>
                  <td class="sg-row-actions">
                    <button
                      class="link"
                      aria-label={`Edit rule ${r.SecurityGroupRuleId}`}
                      onClick={() =>
                        props.startEdit(
                          { egress: props.egress, ruleId: r.SecurityGroupRuleId ?? null },
                          draftOf(r, props.mine),
                        )
                      }
                    >
                      Edit
                    </button>
                    <button
                      class="link sg-del"
                      aria-label={`Delete rule ${r.SecurityGroupRuleId}`}
                      onClick={() => props.onDelete(r)}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      {mine && (
        <div class="sg-new-rule">
          <h4>
            {mine.ruleId === null
              ? `New ${props.egress ? "outbound" : "inbound"} rule`
              : `Edit ${props.egress ? "outbound" : "inbound"} rule ${mine.ruleId}`}
          </h4>
          {props.editor(mine.ruleId === null ? "Add rule" : "Save rule")}
        </div>
      )}
    </section>
  );
}

function GroupDetail(props: {
  session: Session;
  group: SecurityGroup;
  groups: SecurityGroup[];
  mine: string | null;
  onChanged: () => void;
  onDelete: () => void;
  ok: (t: string) => void;
  fail: (e: unknown) => void;
}) {
  const { session, group } = props;
  const id = group.GroupId!;
  const rules = usePoll(
    async () => {
      const out: SecurityGroupRule[] = [];
      let token: string | undefined;
      do {
        const page = await ec2(session).send(
          new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: "group-id", Values: [id] }], NextToken: token }),
        );
        out.push(...(page.SecurityGroupRules ?? []));
        token = page.NextToken;
      } while (token);
      return out;
    },
    [session, id],
    10000,
  );
  const [editing, setEditing] = useState<Editing>(null);
  const [draft, setDraft] = useState<Draft>(newDraft(false, props.mine));
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [toDelete, setToDelete] = useState<SecurityGroupRule | null>(null);

  useEffect(() => setEditing(null), [id]);

  const startEdit = (e: Editing, d: Draft) => {
    setEditing(e);
    setDraft(d);
    setProblem(null);
    setError(null);
    // Focus the editor's first field once it is on the page.
    setTimeout(() => document.getElementById("sg-rule-type")?.focus(), 0);
  };

  const save = async () => {
    if (!editing) return;
    const req = toRequest(draft, props.mine);
    if (typeof req === "string") {
      setProblem(req);
      return;
    }
    setProblem(null);
    setBusy(true);
    setError(null);
    try {
      const client = ec2(session);
      if (editing.ruleId) {
        await client.send(
          new ModifySecurityGroupRulesCommand({
            GroupId: id,
            SecurityGroupRules: [{ SecurityGroupRuleId: editing.ruleId, SecurityGroupRule: req }],
          }),
        );
        props.ok(`Rule ${editing.ruleId} updated.`);
      } else if (editing.egress) {
        await client.send(new AuthorizeSecurityGroupEgressCommand({ GroupId: id, IpPermissions: [toPermission(req)] }));
        props.ok("Outbound rule added.");
      } else {
        await client.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: [toPermission(req)] }));
        props.ok("Inbound rule added.");
      }
      setEditing(null);
      rules.reload();
      props.onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const removeRule = async (r: SecurityGroupRule) => {
    try {
      const ids = [r.SecurityGroupRuleId!];
      if (r.IsEgress) await ec2(session).send(new RevokeSecurityGroupEgressCommand({ GroupId: id, SecurityGroupRuleIds: ids }));
      else await ec2(session).send(new RevokeSecurityGroupIngressCommand({ GroupId: id, SecurityGroupRuleIds: ids }));
      props.ok(`Rule ${r.SecurityGroupRuleId} deleted.`);
      if (editing?.ruleId === r.SecurityGroupRuleId) setEditing(null);
      rules.reload();
      props.onChanged();
    } catch (e) {
      props.fail(e);
    }
  };

  const editor = (saveLabel: string) => (
    <>
      <RuleEditor
        draft={draft}
        setDraft={setDraft}
        egress={!!editing?.egress}
        mine={props.mine}
        groups={props.groups}
        busy={busy}
        problem={problem}
        saveLabel={saveLabel}
        onSave={save}
        onCancel={() => setEditing(null)}
      />
      <ErrorBox error={error} onClose={() => setError(null)} />
    </>
  );

  const isDefault = group.GroupName === "default";
  return (
    <section class="card sg-detail" aria-labelledby="sg-detail-title">
      <header class="sg-detail-head">
        <div>
          <h2 id="sg-detail-title">{group.GroupName}</h2>
          <dl class="sg-meta">
            <div>
              <dt>Group ID</dt>
              <dd class="mono">{group.GroupId}</dd>
            </div>
            <div>
              <dt>VPC</dt>
              <dd class="mono">{group.VpcId ?? "—"}</dd>
            </div>
            <div>
              <dt>Description</dt>
              <dd>{group.Description || "—"}</dd>
            </div>
          </dl>
        </div>
        <button
          class="sg-danger-outline"
          onClick={props.onDelete}
          disabled={isDefault}
          title={isDefault ? "A VPC's default group cannot be deleted" : undefined}
        >
          Delete security group
        </button>
      </header>
      <ErrorBox error={rules.error} />
      <RulesSection
        title="Inbound rules"
        egress={false}
        rules={rules.data}
        mine={props.mine}
        groups={props.groups}
        editing={editing}
        startEdit={startEdit}
        editor={editor}
        onDelete={setToDelete}
      />
      <RulesSection
        title="Outbound rules"
        egress={true}
        rules={rules.data}
        mine={props.mine}
        groups={props.groups}
        editing={editing}
        startEdit={startEdit}
        editor={editor}
        onDelete={setToDelete}
      />
      <Confirm
        title="Delete rule"
        open={!!toDelete}
        danger
        confirmLabel="Delete rule"
        onConfirm={() => toDelete && removeRule(toDelete)}
        onClose={() => setToDelete(null)}
      >
        {toDelete && (
          <p>
            Delete the {toDelete.IsEgress ? "outbound" : "inbound"} rule{" "}
            <strong>
              {PRESETS.find((p) => p.id === presetOf(toDelete))!.label} {portText(toDelete)}{" "}
              {toDelete.IsEgress ? "to" : "from"} {peerText(toDelete, props.mine)}
            </strong>{" "}
            from {group.GroupName}? Connections it allowed are refused from now on.
          </p>
        )}
      </Confirm>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// Create group

function CreateGroupForm(props: {
  session: Session;
  groups: SecurityGroup[] | undefined;
  mine: string | null;
  onCreated: (id: string, name: string) => void;
}) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [ssh, setSsh] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const n = name.trim();
    const d = description.trim();
    const p = !n
      ? "Enter a name for the group."
      : n.length > 255
        ? "Group names are at most 255 characters."
        : /^sg-/i.test(n)
          ? "Group names cannot start with sg-."
          : props.groups?.some((g) => g.GroupName === n)
            ? `There is already a group named ${n}.`
            : !d
              ? "Enter a description (EC2 requires one)."
              : null;
    setProblem(p);
    if (p) return;
    setBusy(true);
    setError(null);
    try {
      let id: string;
      if (ssh && props.mine) {
        id = await createGroupWithSsh(props.session, n, d, props.mine);
      } else {
        const out = await ec2(props.session).send(new CreateSecurityGroupCommand({ GroupName: n, Description: d }));
        id = out.GroupId!;
      }
      props.onCreated(id, n);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="sg-create" onSubmit={submit} noValidate>
      <label class="field" for="sg-create-name">
        Security group name
        <input
          id="sg-create-name"
          autoFocus
          value={name}
          maxLength={255}
          autocomplete="off"
          spellcheck={false}
          placeholder="web-servers"
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
      </label>
      <label class="field" for="sg-create-desc">
        Description
        <input
          id="sg-create-desc"
          value={description}
          maxLength={255}
          placeholder="Web servers: HTTP and HTTPS from anywhere"
          onInput={(e) => setDescription((e.target as HTMLInputElement).value)}
        />
      </label>
      <label class="sg-check">
        <input
          type="checkbox"
          checked={ssh}
          disabled={!props.mine}
          onChange={(e) => setSsh((e.target as HTMLInputElement).checked)}
        />
        <span>
          Allow SSH from my IP{props.mine ? ` (${props.mine})` : " (unknown)"}
        </span>
      </label>
      <p class="hint">
        A new group lets nothing in and everything out. Add inbound rules after creating it.
      </p>
      {problem && (
        <div class="sg-problem" role="alert">
          {problem}
        </div>
      )}
      <ErrorBox error={error} onClose={() => setError(null)} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Creating…" : "Create security group"}
        </button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// The page

export function SecurityGroups({ session }: PageProps) {
  const { data, error, reload } = usePoll(() => listSecurityGroups(session), [session], 10000);
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<SecurityGroup | null>(null);
  const { notice, ok, fail } = useNotice();
  const mine = myIpCidr(useMyIp());

  const group = data?.find((g) => g.GroupId === selected);

  const removeGroup = async (g: SecurityGroup) => {
    try {
      await ec2(session).send(new DeleteSecurityGroupCommand({ GroupId: g.GroupId }));
      ok(`Security group ${g.GroupName} (${g.GroupId}) deleted.`);
      if (selected === g.GroupId) setSelected(null);
      reload();
    } catch (e) {
      fail(e);
    }
  };

  const columns: Column<SecurityGroup>[] = [
    { key: "name", label: "Name", value: (g) => g.GroupName, render: (g) => <strong>{g.GroupName}</strong> },
    { key: "id", label: "Group ID", value: (g) => g.GroupId, render: (g) => <span class="mono">{g.GroupId}</span> },
    { key: "vpc", label: "VPC", value: (g) => g.VpcId, render: (g) => <span class="mono">{g.VpcId ?? "—"}</span> },
    {
      key: "description",
      label: "Description",
      value: (g) => g.Description,
      render: (g) => (
        <span class="sg-desc" title={g.Description}>
          {g.Description}
        </span>
      ),
    },
    {
      key: "rules",
      label: "Rules",
      numeric: true,
      value: (g) => ruleCount(g.IpPermissions) + ruleCount(g.IpPermissionsEgress),
      render: (g) => (
        <span class="sg-count">
          {ruleCount(g.IpPermissions)} in · {ruleCount(g.IpPermissionsEgress)} out
        </span>
      ),
    },
  ];

  return (
    <div class="sg-page">
      <PageHead title="Security groups">
        <button class="primary" onClick={() => setCreating(true)}>
          Create security group
        </button>
      </PageHead>
      <p class="muted sg-intro">
        A security group is a firewall for instances: inbound rules say who may connect to them, outbound rules where
        they may connect to. Select a group to see and edit its rules.
      </p>
      {notice}
      <ErrorBox error={error} />
      <Table
        label="Security groups"
        columns={columns}
        rows={data}
        rowKey={(g) => g.GroupId ?? ""}
        selected={selected}
        onSelect={setSelected}
        empty="No security groups."
      />
      {group ? (
        <GroupDetail
          key={group.GroupId}
          session={session}
          group={group}
          groups={data ?? []}
          mine={mine}
          onChanged={reload}
          onDelete={() => setDeleting(group)}
          ok={ok}
          fail={fail}
        />
      ) : (
        data &&
        data.length > 0 && <p class="muted sg-pick">Select a security group above to see its rules.</p>
      )}
      <Modal title="Create security group" open={creating} onClose={() => setCreating(false)}>
        <div class="dialog-body">
          <CreateGroupForm
            session={session}
            groups={data}
            mine={mine}
            onCreated={(id, name) => {
              setCreating(false);
              ok(`Security group ${name} (${id}) created.`);
              setSelected(id);
              reload();
            }}
          />
        </div>
      </Modal>
      <Confirm
        title="Delete security group"
        open={!!deleting}
        danger
        confirmLabel="Delete security group"
        onConfirm={() => deleting && removeGroup(deleting)}
        onClose={() => setDeleting(null)}
      >
        <p>
          Delete security group <strong>{deleting?.GroupName}</strong> ({deleting?.GroupId})?
        </p>
        <p class="muted">
          Kumo refuses while an instance or another group's rule still uses it; move those first.
        </p>
      </Confirm>
    </div>
  );
}

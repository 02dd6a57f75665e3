// One security group's detail card: its inbound and outbound rule tables and the rule editor, apart from the group list page.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  ModifySecurityGroupRulesCommand,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroup,
  type SecurityGroupRule,
} from "@aws-sdk/client-ec2";
import { ec2, type Session } from "../api";
import { Confirm, ErrorBox, usePoll } from "../ui";
import {
  PRESETS,
  draftOf,
  newDraft,
  peerText,
  portText,
  presetOf,
  protocolText,
  toPermission,
  toRequest,
  type Draft,
  type PresetId,
  type SourceKind,
} from "./security_group_rule_model";

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

export function GroupDetail(props: {
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

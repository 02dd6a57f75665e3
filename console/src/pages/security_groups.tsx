// Security groups: the list, one group's inbound and outbound rules with an editor (add, edit in
// place with ModifySecurityGroupRules, delete by rule id), create and delete groups. The launch
// wizard reuses listSecurityGroups, createGroupWithSsh, nextLaunchWizardName and useMyIp.
// Those helpers are in security_group_shared.ts, the rules model in security_group_rule_model.ts and
// the group's detail card with the rule editor in security_group_rules.tsx.
import { useState } from "preact/hooks";
import {
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  type IpPermission,
  type SecurityGroup,
} from "@aws-sdk/client-ec2";
import type { PageProps } from "../main";
import { ec2, type Session } from "../api";
import { Confirm, ErrorBox, Modal, PageHead, Table, useNotice, usePoll, type Column } from "../ui";
import { createGroupWithSsh, listSecurityGroups, myIpCidr, useMyIp } from "./security_group_shared";
import { GroupDetail } from "./security_group_rules";
import "./security_groups.css";

// The helpers the launch wizard imports from here.
export {
  cidrOk,
  createGroupWithSsh,
  listSecurityGroups,
  myIpCidr,
  nextLaunchWizardName,
  useMyIp,
} from "./security_group_shared";

function ruleCount(perms: IpPermission[] | undefined): number {
  let n = 0;
  for (const p of perms ?? []) {
    n += (p.IpRanges?.length ?? 0) + (p.UserIdGroupPairs?.length ?? 0) + (p.Ipv6Ranges?.length ?? 0);
    n += p.PrefixListIds?.length ?? 0;
  }
  return n;
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

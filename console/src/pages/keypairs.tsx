// Key pairs: list, create (the private key downloads at once, the only time it exists outside the
// instance), import an existing public key, delete. CreateKeyPairForm is also the launch wizard's
// "create a new key pair" step.
import { useState } from "preact/hooks";
import {
  CreateKeyPairCommand,
  DeleteKeyPairCommand,
  DescribeKeyPairsCommand,
  ImportKeyPairCommand,
  type KeyPairInfo,
  type KeyType,
} from "@aws-sdk/client-ec2";
import type { PageProps } from "../main";
import { ec2, type Session } from "../api";
import { Confirm, ErrorBox, Modal, PageHead, Table, download, useNotice, usePoll, type Column } from "../ui";
import "./keypairs.css";

export async function listKeyPairs(session: Session): Promise<KeyPairInfo[]> {
  const out = await ec2(session).send(new DescribeKeyPairsCommand({}));
  return (out.KeyPairs ?? []).sort((a, b) => (a.KeyName ?? "").localeCompare(b.KeyName ?? ""));
}

// EC2's rule for key names: up to 255 ASCII characters.
function nameProblem(name: string): string | null {
  if (!name) return "Enter a name for the key pair.";
  if (name.length > 255) return "Key pair names are at most 255 characters.";
  if (/[^\x20-\x7e]/.test(name)) return "Use only ASCII letters, digits, spaces and punctuation.";
  return null;
}

function ChmodNote({ name }: { name: string }) {
  const file = `${name}.pem`;
  return (
    <div class="kp-created" role="status">
      <p>
        <strong>✓ Key pair {name} created.</strong> Its private key was downloaded as <code>{file}</code>. Kumo does
        not keep a copy: store it safely, and make it readable only by you before using it with ssh:
      </p>
      <pre class="kp-cmd">chmod 400 {file}</pre>
    </div>
  );
}

// Name + type (+ format, always pem). On success the .pem downloads at once and the form turns into
// a note on how to protect it.
export function CreateKeyPairForm({
  session,
  onCreated,
  idPrefix = "kp-create",
  onDone,
  autoFocus = false,
}: {
  session: Session;
  onCreated: (name: string) => void;
  idPrefix?: string;
  onDone?: () => void;
  autoFocus?: boolean;
}) {
  const [name, setName] = useState("");
  const [type, setType] = useState<KeyType>("ed25519");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [created, setCreated] = useState<{ name: string; material: string } | null>(null);

  if (created) {
    return (
      <div class="kp-form">
        <ChmodNote name={created.name} />
        <div class="actions">
          <button
            type="button"
            onClick={() => download(created.name + ".pem", created.material, "application/x-pem-file")}
          >
            Download {created.name}.pem again
          </button>
          {onDone && (
            <button type="button" class="primary" onClick={onDone}>
              Done
            </button>
          )}
        </div>
      </div>
    );
  }

  const submit = async (e: Event) => {
    e.preventDefault();
    const n = name.trim();
    const p = nameProblem(n);
    setProblem(p);
    if (p) return;
    setBusy(true);
    setError(null);
    try {
      const out = await ec2(session).send(new CreateKeyPairCommand({ KeyName: n, KeyType: type, KeyFormat: "pem" }));
      const material = out.KeyMaterial ?? "";
      const keyName = out.KeyName ?? n;
      download(keyName + ".pem", material, "application/x-pem-file");
      setCreated({ name: keyName, material });
      onCreated(keyName);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="kp-form" onSubmit={submit} noValidate>
      <label class="field" for={`${idPrefix}-name`}>
        Key pair name
        <input
          id={`${idPrefix}-name`}
          autoFocus={autoFocus}
          value={name}
          maxLength={255}
          autocomplete="off"
          spellcheck={false}
          placeholder="my-laptop"
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? `${idPrefix}-problem` : undefined}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
      </label>
      {problem && (
        <div id={`${idPrefix}-problem`} class="kp-problem" role="alert">
          {problem}
        </div>
      )}
      <fieldset class="kp-choice">
        <legend>Key pair type</legend>
        <label>
          <input
            type="radio"
            name={`${idPrefix}-type`}
            value="ed25519"
            checked={type === "ed25519"}
            onChange={() => setType("ed25519")}
          />
          <span>
            ED25519 <span class="muted">— short, modern, recommended</span>
          </span>
        </label>
        <label>
          <input
            type="radio"
            name={`${idPrefix}-type`}
            value="rsa"
            checked={type === "rsa"}
            onChange={() => setType("rsa")}
          />
          <span>
            RSA <span class="muted">— for older SSH clients</span>
          </span>
        </label>
      </fieldset>
      <fieldset class="kp-choice">
        <legend>Private key file format</legend>
        <label>
          <input type="radio" name={`${idPrefix}-format`} value="pem" checked readOnly />
          <span>
            .pem <span class="muted">— for OpenSSH (Linux, macOS, Windows 10+)</span>
          </span>
        </label>
      </fieldset>
      <ErrorBox error={error} onClose={() => setError(null)} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Creating…" : "Create key pair"}
        </button>
      </div>
      <p class="hint">The private key downloads as soon as the key pair is created, and only then.</p>
    </form>
  );
}

function ImportKeyPairForm({ session, onImported }: { session: Session; onImported: (name: string) => void }) {
  const [name, setName] = useState("");
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const loadFile = async (e: Event) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (!f) return;
    const text = await f.text();
    setKey(text.trim());
    if (!name) setName(f.name.replace(/\.pub$/, "").replace(/^id_/, ""));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const n = name.trim();
    const k = key.trim();
    const p =
      nameProblem(n) ??
      (!k
        ? "Paste a public key."
        : !/^(ssh-(rsa|ed25519)|ecdsa-sha2-\S+)\s+\S+/.test(k) && !k.startsWith("-----BEGIN")
          ? "That does not look like an OpenSSH public key (ssh-ed25519 AAAA… or ssh-rsa AAAA…)."
          : null);
    setProblem(p);
    if (p) return;
    setBusy(true);
    setError(null);
    try {
      const out = await ec2(session).send(
        new ImportKeyPairCommand({ KeyName: n, PublicKeyMaterial: new TextEncoder().encode(k) }),
      );
      onImported(out.KeyName ?? n);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="kp-form" onSubmit={submit} noValidate>
      <label class="field" for="kp-import-name">
        Key pair name
        <input
          id="kp-import-name"
          autoFocus
          value={name}
          maxLength={255}
          autocomplete="off"
          spellcheck={false}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
      </label>
      <label class="field" for="kp-import-key">
        Public key
        <textarea
          id="kp-import-key"
          rows={5}
          spellcheck={false}
          class="mono"
          placeholder="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… you@laptop"
          value={key}
          onInput={(e) => setKey((e.target as HTMLTextAreaElement).value)}
        />
      </label>
      <label class="field kp-file" for="kp-import-file">
        Or load a .pub file
        <input id="kp-import-file" type="file" accept=".pub,text/plain" onChange={loadFile} />
      </label>
      {problem && (
        <div class="kp-problem" role="alert">
          {problem}
        </div>
      )}
      <ErrorBox error={error} onClose={() => setError(null)} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Importing…" : "Import key pair"}
        </button>
      </div>
      <p class="hint">
        Only the public key leaves this browser. Find yours in <code>~/.ssh/id_ed25519.pub</code>, or make one with{" "}
        <code>ssh-keygen -t ed25519</code>.
      </p>
    </form>
  );
}

function shortDate(d?: Date): string {
  if (!d) return "—";
  const t = new Date(d);
  return isNaN(t.getTime()) ? "—" : t.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function KeyPairs({ session }: PageProps) {
  const { data, error, reload } = usePoll(() => listKeyPairs(session), [session], 15000);
  const { notice, ok, fail } = useNotice();
  const [dialog, setDialog] = useState<"create" | "import" | null>(null);
  const [toDelete, setToDelete] = useState<KeyPairInfo | null>(null);

  const remove = async (k: KeyPairInfo) => {
    try {
      await ec2(session).send(
        new DeleteKeyPairCommand(k.KeyPairId ? { KeyPairId: k.KeyPairId } : { KeyName: k.KeyName }),
      );
      ok(`Key pair ${k.KeyName} deleted. Instances launched with it keep their authorized key.`);
      reload();
    } catch (e) {
      fail(e);
    }
  };

  const columns: Column<KeyPairInfo>[] = [
    { key: "name", label: "Name", value: (k) => k.KeyName, render: (k) => <strong>{k.KeyName}</strong> },
    { key: "id", label: "ID", value: (k) => k.KeyPairId, render: (k) => <span class="mono">{k.KeyPairId}</span> },
    {
      key: "type",
      label: "Type",
      value: (k) => k.KeyType,
      render: (k) => <span class="badge">{k.KeyType ?? "—"}</span>,
    },
    {
      key: "fingerprint",
      label: "Fingerprint",
      value: (k) => k.KeyFingerprint,
      render: (k) => (
        <span class="mono kp-fp" title={k.KeyFingerprint}>
          {k.KeyFingerprint}
        </span>
      ),
    },
    {
      key: "created",
      label: "Created",
      value: (k) => (k.CreateTime ? new Date(k.CreateTime).getTime() : 0),
      render: (k) => shortDate(k.CreateTime),
    },
    {
      key: "actions",
      label: "Actions",
      value: () => "",
      render: (k) => (
        <button
          class="link kp-delete"
          aria-label={`Delete key pair ${k.KeyName}`}
          onClick={(e) => {
            e.stopPropagation();
            setToDelete(k);
          }}
        >
          Delete
        </button>
      ),
    },
  ];

  return (
    <div class="kp-page">
      <PageHead title="Key pairs">
        <button onClick={() => setDialog("import")}>Import key pair</button>
        <button class="primary" onClick={() => setDialog("create")}>
          Create key pair
        </button>
      </PageHead>
      <p class="muted kp-intro">
        A key pair lets you log in to your instances with SSH. Kumo puts the public key on the instance at launch;
        you keep the private key.
      </p>
      {notice}
      <ErrorBox error={error} />
      <Table
        label="Key pairs"
        columns={columns}
        rows={data}
        rowKey={(k) => k.KeyPairId ?? k.KeyName ?? ""}
        empty="No key pairs yet. Create one to log in to your instances with SSH."
      />
      <Modal title="Create key pair" open={dialog === "create"} onClose={() => setDialog(null)}>
        <div class="dialog-body">
          <CreateKeyPairForm
            session={session}
            onCreated={(n) => {
              ok(`Key pair ${n} created; ${n}.pem downloaded. Run chmod 400 ${n}.pem before using it with ssh.`);
              reload();
            }}
            onDone={() => setDialog(null)}
            autoFocus
          />
        </div>
      </Modal>
      <Modal title="Import key pair" open={dialog === "import"} onClose={() => setDialog(null)}>
        <div class="dialog-body">
          <ImportKeyPairForm
            session={session}
            onImported={(n) => {
              setDialog(null);
              ok(`Key pair ${n} imported.`);
              reload();
            }}
          />
        </div>
      </Modal>
      <Confirm
        title="Delete key pair"
        open={!!toDelete}
        danger
        confirmLabel="Delete key pair"
        onConfirm={() => toDelete && remove(toDelete)}
        onClose={() => setToDelete(null)}
      >
        <p>
          Delete key pair <strong>{toDelete?.KeyName}</strong>?
        </p>
        <p class="muted">
          Running instances keep the public key they were launched with, and your private key file is not touched. You
          can no longer launch new instances with this key pair.
        </p>
      </Confirm>
    </div>
  );
}

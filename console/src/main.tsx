// The console's shell: sign-in, the header with the region selector, the navigation and a hash
// router (#/instances …), so kumod serves one index.html and every page is a link.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { DescribeRegionsCommand } from "@aws-sdk/client-ec2";
import { ec2, loadSession, saveSession, describeError, type Session } from "./api";
import { Dashboard } from "./pages/dashboard";
import { Instances } from "./pages/instances";
import { Launch } from "./pages/launch";
import { KeyPairs } from "./pages/keypairs";
import { SecurityGroups } from "./pages/security_groups";
import { Images } from "./pages/images";
import { Volumes } from "./pages/volumes";
import { SpotRequests } from "./pages/spot";
import { Billing } from "./pages/billing";

export interface PageProps {
  session: Session;
}

const PAGES: { path: string; title: string; page: (p: PageProps) => any }[] = [
  { path: "dashboard", title: "Dashboard", page: Dashboard },
  { path: "instances", title: "Instances", page: Instances },
  { path: "launch", title: "Launch instance", page: Launch },
  { path: "spot", title: "Spot requests", page: SpotRequests },
  { path: "images", title: "Images", page: Images },
  { path: "volumes", title: "Volumes", page: Volumes },
  { path: "key-pairs", title: "Key pairs", page: KeyPairs },
  { path: "security-groups", title: "Security groups", page: SecurityGroups },
  { path: "billing", title: "Billing", page: Billing },
];

function route(): string {
  return location.hash.replace(/^#\/?/, "").split("?")[0] || "dashboard";
}

// The regions kumod rendered into the static page, home first.
const REGIONS: string[] = Array.from(document.querySelectorAll<HTMLOptionElement>("#signin-region option")).map(
  (o) => o.value,
);
const staticValues = {
  akid: (document.getElementById("signin-akid") as HTMLInputElement | null)?.value ?? "",
  secret: (document.getElementById("signin-secret") as HTMLInputElement | null)?.value ?? "",
  region: (document.getElementById("signin-region") as HTMLSelectElement | null)?.value ?? "",
};

function RegionSelect({ value, onChange, id }: { value: string; onChange: (r: string) => void; id: string }) {
  const regions = REGIONS.length ? REGIONS : [value];
  return (
    <label class="region" for={id}>
      Region
      <select id={id} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {regions.map((r) => (
          <option value={r}>{r}</option>
        ))}
      </select>
    </label>
  );
}

function SignIn({ onSignIn }: { onSignIn: (s: Session) => void }) {
  const [akid, setAkid] = useState(staticValues.akid);
  const [secret, setSecret] = useState(staticValues.secret);
  const [region, setRegion] = useState(staticValues.region || REGIONS[0] || "eu-west-1");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const s = { accessKeyId: akid.trim(), secretAccessKey: secret.trim(), region };
    try {
      // Any signed call checks the keys; DescribeRegions is cheap and needs no resources.
      await ec2(s).send(new DescribeRegionsCommand({}));
      onSignIn(s);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const d = error ? describeError(error) : null;
  return (
    <>
      <header class="topbar">
        <span class="brand">☁ Kumo</span>
        <RegionSelect id="signin-region" value={region} onChange={setRegion} />
      </header>
      <main class="signin">
        <section class="card signin-card">
          <h1>Sign in to Kumo</h1>
          <p class="lead">
            Kumo is a compute cloud on your own machines that speaks the Amazon EC2 API: launch instances, SSH in with a
            key pair, bid on spot capacity, and see exactly what it costs.
          </p>
          <form id="signin" class="form" autocomplete="off" onSubmit={submit}>
            <label for="signin-akid">Access key ID</label>
            <input
              id="signin-akid"
              name="akid"
              required
              spellcheck={false}
              placeholder="AKIA…"
              value={akid}
              onInput={(e) => setAkid((e.target as HTMLInputElement).value)}
            />
            <label for="signin-secret">Secret access key</label>
            <input
              id="signin-secret"
              name="secret"
              type="password"
              required
              spellcheck={false}
              value={secret}
              onInput={(e) => setSecret((e.target as HTMLInputElement).value)}
            />
            {d && (
              <div class="error" role="alert">
                <div>
                  <strong>{d.hint ?? "Sign-in failed."}</strong> <span>{d.text}</span> <code class="code">{d.code}</code>
                </div>
              </div>
            )}
            <button class="primary" type="submit" disabled={busy}>
              {busy ? "Signing in…" : "Sign in"}
            </button>
            <p class="hint">
              The keys stay in this browser tab's session storage and are sent to nobody: each request is signed here
              (AWS Signature Version 4). Get keys with <code>kumo account create NAME</code>.
            </p>
          </form>
        </section>
      </main>
    </>
  );
}

function Shell({ session, setSession }: { session: Session; setSession: (s: Session | null) => void }) {
  const [path, setPath] = useState(route());
  const [navOpen, setNavOpen] = useState(false);
  useEffect(() => {
    const on = () => {
      setPath(route());
      setNavOpen(false);
    };
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  const page = PAGES.find((p) => p.path === path) ?? PAGES[0];
  useEffect(() => {
    document.title = `${page.title} · Kumo console`;
    document.getElementById("main")?.focus();
  }, [page]);
  const Page = page.page;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="topbar">
        <button class="menu" aria-label="Menu" aria-expanded={navOpen} onClick={() => setNavOpen(!navOpen)}>
          ☰
        </button>
        <a class="brand" href="#/dashboard">
          ☁ Kumo
        </a>
        <RegionSelect id="region" value={session.region} onChange={(r) => setSession({ ...session, region: r })} />
        <span class="who" title="Access key ID">
          {session.accessKeyId}
        </span>
        <button class="link" onClick={() => setSession(null)}>
          Sign out
        </button>
      </header>
      <div class="layout">
        <nav class={navOpen ? "open" : ""} aria-label="Console">
          <ul>
            {PAGES.map((p) => (
              <li>
                <a href={`#/${p.path}`} aria-current={p === page ? "page" : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {/* Keyed by region so that a region switch starts every page afresh. */}
          <Page key={`${page.path}/${session.region}`} session={session} />
        </main>
      </div>
    </>
  );
}

function App() {
  const [session, setSessionState] = useState<Session | null>(loadSession());
  const setSession = (s: Session | null) => {
    saveSession(s);
    setSessionState(s);
  };
  return session ? <Shell session={session} setSession={setSession} /> : <SignIn onSignIn={setSession} />;
}

const root = document.getElementById("app")!;
root.textContent = "";
render(<App />, root);

// The console's browser flow (issue 8's Tests), run by tests/test_console.py: Debian's chromium,
// headless, driven by playwright-core from the console's own npm packages. Every step polls with
// a deadline (expect-style waits), never a fixed sleep. Writes what it saw to $KUMO_RESULTS and a
// screenshot of every page to $KUMO_SHOTS.
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL = env("KUMO_URL");
const SHOTS = env("KUMO_SHOTS");
const DOWNLOADS = env("KUMO_DOWNLOADS");
const REGION = env("KUMO_REGION");
const require = createRequire(path.join(env("KUMO_CONSOLE_DIR"), "package.json"));
const { chromium } = require("playwright-core");

const results = { screenshots: [] };
fs.mkdirSync(SHOTS, { recursive: true });
fs.mkdirSync(DOWNLOADS, { recursive: true });

let shotNo = 0;
async function shot(page, name, opts = {}) {
  const file = path.join(SHOTS, `${String(++shotNo).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true, ...opts });
  results.screenshots.push(file);
  console.log(`screenshot ${file}`);
}

function step(what) {
  console.log(`[${new Date().toISOString()}] ${what}`);
}

// Polls fn until it returns a truthy value or the deadline passes.
async function until(what, fn, seconds = 60, interval = 250) {
  const end = Date.now() + seconds * 1000;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${seconds}s waiting for ${what}${last ? `: ${last}` : ""}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

const SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
  "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"];

const browser = await chromium.launch({
  executablePath: env("KUMO_CHROMIUM"),
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  // 1. Without JavaScript the sign-in page is complete: it needs no script and no API call.
  {
    const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const apiCalls = [];
    page.on("request", (r) => r.method() === "POST" && apiCalls.push(r.url()));
    await page.goto(URL);
    await page.getByRole("heading", { name: "Sign in to Kumo" }).waitFor();
    const selected = await page.locator("#signin-region").inputValue();
    if (selected !== REGION) throw new Error(`region selector shows ${selected}, want ${REGION}`);
    if (apiCalls.length) throw new Error(`sign-in page made API calls: ${apiCalls}`);
    await shot(page, "signin-static");
    await ctx.close();
  }

  const ctx = await browser.newContext({
    viewport: { width: 1360, height: 860 },
    acceptDownloads: true,
    permissions: ["clipboard-read", "clipboard-write"],
  });
  const page = await ctx.newPage();
  // Script errors and CSP refusals fail the flow; the refused sign-in's 403 is expected.
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(`page error: ${e}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource: the server responded with a status of 403/.test(m.text())) {
      pageErrors.push(`console error: ${m.text()}`);
    }
  });

  // 2. Sign in: a wrong secret is refused in words, the right one opens the dashboard.
  step("sign in");
  await page.goto(URL);
  await page.getByLabel("Access key ID").fill(env("KUMO_AKID"));
  await page.getByLabel("Secret access key").fill("not-the-secret");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  const refusal = await page.getByRole("alert").innerText();
  if (!/SignatureDoesNotMatch|AuthFailure/.test(refusal)) throw new Error(`bad secret: ${refusal}`);
  await shot(page, "signin-refused");
  await page.getByLabel("Secret access key").fill(env("KUMO_SECRET"));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  await until("dashboard numbers", async () => (await page.getByTestId("month-to-date").innerText()).startsWith("$"));
  await shot(page, "dashboard-empty");

  const kumo = (...args) =>
    execFileSync(path.join(env("KUMO_BIN_DIR"), "kumo"), ["--data-dir", JSON.parse(env("KUMO_ADMIN")).data_dir, ...args], {
      encoding: "utf8",
    });
  const go = async (route, heading) => {
    await page.goto(`${URL}#/${route}`);
    await page.getByRole("heading", { name: heading, exact: true }).first().waitFor();
  };
  const rowOf = (key) => page.locator(`tr[data-key="${key}"]`);

  // 3. A key pair: the .pem downloads at once.
  step("key pair");
  results.key_name = "console-key";
  await go("key-pairs", "Key pairs");
  await page.getByRole("button", { name: "Create key pair", exact: true }).click();
  const keyDialog = page.getByRole("dialog");
  await keyDialog.getByLabel("Key pair name").fill(results.key_name);
  const pemDownload = page.waitForEvent("download");
  await keyDialog.getByRole("button", { name: "Create key pair", exact: true }).click();
  const pem = path.join(DOWNLOADS, (await pemDownload).suggestedFilename());
  await (await pemDownload).saveAs(pem);
  fs.chmodSync(pem, 0o600);
  results.pem = pem;
  if (path.basename(pem) !== `${results.key_name}.pem`) throw new Error(`downloaded ${pem}`);
  await shot(page, "keypair-created");
  await keyDialog.getByRole("button", { name: "Done" }).click();
  await rowOf(results.key_name).or(page.getByRole("cell", { name: results.key_name })).first().waitFor();

  // 4. The launch wizard, On-Demand: image → type → purchase → storage → tags → group → key.
  async function wizard({ type, name, spot, group }) {
    await go("launch", "Launch instance");
    await page.getByRole("radio", { name: /^debian-12/ }).first().check();
    await shot(page, `launch-image-${name}`);
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByRole("radio", { name: new RegExp(`^${type.replace(".", "\\.")}`) }).first().check();
    await shot(page, `launch-type-${name}`);
    await page.getByRole("button", { name: "Next" }).click();
    if (spot) {
      await page.getByRole("radio", { name: /^Spot/ }).check();
      await page.getByLabel("Max price (USD per hour)").fill(spot);
      await until("the current spot price", async () => /current spot price \$[0-9.]+/.test(await page.locator("#lw-spot-now").innerText()));
      await shot(page, `launch-spot-${name}`);
    }
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByLabel("Root volume size (GiB)").waitFor();
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByRole("button", { name: "Next" }).click();
    if (group) {
      await page.getByRole("radio", { name: "Select existing security groups" }).check();
      await page.getByRole("checkbox", { name: group }).check();
    } else {
      await page.getByRole("radio", { name: "Create a new security group" }).check();
      // My IP is the preselected source, not Anywhere.
      if (!(await page.getByRole("radio", { name: /^My IP/ }).isChecked())) throw new Error("My IP is not preselected");
      await shot(page, `launch-group-${name}`);
    }
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByRole("radio", { name: "Use an existing key pair" }).check();
    await page.locator("#lw-key-name").selectOption(results.key_name);
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByTestId("launch-price").waitFor();
    await shot(page, `launch-review-${name}`);
    await page.getByRole("button", { name: "Launch instance", exact: true }).click();
    await page.getByRole("heading", { name: /Instance launched/ }).waitFor({ timeout: 60000 });
    const text = await page.locator(".lw-success").innerText();
    await shot(page, `launch-done-${name}`);
    return text.match(/i-[0-9a-f]{8,17}/)[0];
  }
  step("launch on-demand");
  results.instance_type = "t3.micro";
  results.name = "console-web";
  results.instance_id = await wizard({ type: results.instance_type, name: results.name });

  // 5. Instances: it reaches running; Connect copies the ssh command, which logs in with the .pem.
  step(`instances: ${results.instance_id}`);
  await go("instances", "Instances");
  await until(`${results.instance_id} running`, async () => (await rowOf(results.instance_id).innerText()).includes("running"), 120);
  await shot(page, "instances-running");
  await rowOf(results.instance_id).click({ button: "right" });
  await page.getByRole("menuitem", { name: "Connect" }).click();
  await page.getByRole("button", { name: "Copy ssh command" }).click();
  results.ssh_command = await page.evaluate(() => navigator.clipboard.readText());
  await shot(page, "instance-connect");
  await page.keyboard.press("Escape");
  step(`ssh: ${results.ssh_command}`);
  const [, keyPath, login] = results.ssh_command.match(/^ssh -i (\S+) (\S+)$/);
  if (keyPath !== `~/.ssh/${results.key_name}.pem`) throw new Error(`ssh command names ${keyPath}`);
  results.ssh_output = await until(
    "ssh with the downloaded key",
    () => execFileSync("ssh", [...SSH_OPTS, "-i", pem, login, "hostname"], { encoding: "utf8", timeout: 30000, stdio: ["ignore", "pipe", "ignore"] }),
    120,
    1000,
  );
  results.group = "launch-wizard-1"; // the wizard's first new group, as on EC2

  // 6. A spot request through the wizard, fulfilled on the spot page, with its price history.
  step("launch spot");
  results.spot_instance_id = await wizard({ type: "t3.small", name: "console-spot", spot: "0.05", group: results.group });
  await go("spot", "Spot requests");
  const spotRow = page.locator('tr[data-key^="sir-"]').filter({ hasText: results.spot_instance_id });
  await until("the spot request fulfilled", async () => /fulfilled/.test(await spotRow.innerText()), 120);
  results.spot_request_id = await spotRow.getAttribute("data-key");
  await page.locator("#spot-history-type").selectOption("t3.small");
  await until("the price history", async () => /\$[0-9.]+/.test(await page.locator("#spot-history-summary").innerText()));
  await page.getByRole("img", { name: "Spot price history" }).waitFor();
  await shot(page, "spot-fulfilled-history");

  // An hour of use on the simulated clock, so that the bill has something to show.
  kumo("admin", "clock", "--advance", "3600");

  // 7. Cancel the spot request: the dialog warns that the instance keeps running; terminate it too.
  step("cancel spot");
  await spotRow.getByRole("button", { name: "Cancel request" }).click();
  const cancelDialog = page.getByRole("dialog");
  await cancelDialog.getByText(/keeps running/).waitFor();
  await page.locator("#spot-cancel-terminate").check();
  await shot(page, "spot-cancel-dialog");
  await page.locator("#spot-cancel-confirm").click();
  await until("the request cancelled", async () => /cancelled/.test(await spotRow.innerText()), 60);

  // 8. Terminate the On-Demand instance, with the confirmation.
  step("terminate");
  await go("instances", "Instances");
  await rowOf(results.instance_id).click();
  await page.getByRole("toolbar").getByRole("button", { name: "Terminate" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Terminate" }).click();
  await until("terminated", async () => /terminated|shutting-down/.test(await rowOf(results.instance_id).innerText()), 90);
  await shot(page, "instances-terminated");

  // 9. The bill: the total, the chart, the CSV, a budget.
  step("billing");
  await go("billing", "Billing");
  results.bill_total = await until("the bill", async () => (await page.locator("#bill-total").innerText()).match(/\$[0-9.,]+/)?.[0]);
  await page.getByRole("img", { name: "Cost breakdown chart" }).waitFor();
  const csvDownload = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download CSV" }).click();
  results.csv_header = fs.readFileSync(await (await csvDownload).path(), "utf8").split("\n")[0];
  await page.locator("#budget-limit").fill("20");
  await page.locator("#budget-alerts").fill("50, 80, 100");
  await page.locator("#budget-action").selectOption("notify-only");
  await page.locator("#budget-save").click();
  await page.getByText(/Budget saved/).waitFor();
  await shot(page, "billing");

  // 10. Every other page, then the phone layout.
  step("other pages");
  await go("dashboard", "Dashboard");
  await until("dashboard totals", async () => /\$[1-9]|\$0\.[0-9]*[1-9]/.test(await page.getByTestId("month-to-date").innerText()));
  await shot(page, "dashboard");
  for (const [route, heading] of [["images", "Images"], ["volumes", "Volumes"], ["security-groups", "Security groups"], ["key-pairs", "Key pairs"]]) {
    await go(route, heading);
    await page.waitForLoadState("networkidle");
    await shot(page, route);
  }
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [route, heading] of [["dashboard", "Dashboard"], ["instances", "Instances"], ["launch", "Launch instance"], ["billing", "Billing"]]) {
    await go(route, heading);
    await page.waitForLoadState("networkidle");
    await shot(page, `phone-${route}`);
  }

  if (pageErrors.length) throw new Error(`the page reported errors:\n${pageErrors.join("\n")}`);
  fs.writeFileSync(env("KUMO_RESULTS"), JSON.stringify(results, null, 2));
} finally {
  await browser.close();
}

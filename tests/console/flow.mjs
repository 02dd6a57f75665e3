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
  page.on("pageerror", (e) => console.log(`page error: ${e}`));
  page.on("console", (m) => m.type() === "error" && console.log(`console error: ${m.text()}`));

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

  // More steps are added below.
  fs.writeFileSync(env("KUMO_RESULTS"), JSON.stringify(results, null, 2));
} finally {
  await browser.close();
}

// The console's first paint against its own baseline, in Debian's chromium (playwright-core):
// how long until the static sign-in form is visible (HTML + CSS only, the issue's "renders at
// once") versus until the app has taken over (the script loaded and enabled the Sign in button),
// and, signed in, until the dashboard shows its numbers (five API calls through the SDK).
// Usage (bench/console_bench.sh runs it): node bench/console_bench.mjs URL AKID SECRET [runs]
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "console", "package.json"));
const { chromium } = require("playwright-core");
const [url, akid, secret, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 15);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const form = [], app = [], dash = [];
for (let i = 0; i < runs; i++) {
  const ctx = await browser.newContext(); // a cold cache each run
  const page = await ctx.newPage();
  const t0 = Date.now();
  await page.goto(url, { waitUntil: "commit" });
  await page.locator("#signin-akid").waitFor({ state: "visible" });
  form.push(Date.now() - t0);
  await page.locator('button[type="submit"]:not([disabled])').waitFor();
  app.push(Date.now() - t0);
  await page.getByLabel("Access key ID").fill(akid);
  await page.getByLabel("Secret access key").fill(secret);
  const t1 = Date.now();
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator('[data-testid="month-to-date"]', { hasText: "$" }).waitFor();
  dash.push(Date.now() - t1);
  await ctx.close();
}
await browser.close();
console.log(`| step (median of ${runs}, cold cache) | ms | vs the static form |`);
console.log("|---|---|---|");
console.log(`| sign-in form visible (static HTML) | ${median(form)} | 1.00 |`);
console.log(`| app ready (script ran) | ${median(app)} | ${(median(app) / median(form)).toFixed(2)} |`);
console.log(`| signed in → dashboard numbers | ${median(dash)} | ${(median(dash) / median(form)).toFixed(2)} |`);

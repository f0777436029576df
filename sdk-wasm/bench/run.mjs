// Runs bench.html in headless Chromium and prints, for each mix (see
// bench.js), the main-thread time of the SDK's handlers per recorded
// event (the target's figure: the SDK's side less the empty listeners'),
// and the total with what the browser charges for calling listeners at
// all. The page and the built SDK (dist/, from build.sh) are served from
// disk by request interception; the ingest endpoint answers 202 without
// storing anything. Each figure is a median over the rounds of `runs`
// page loads.
//   node sdk-wasm/bench/run.mjs [runs]
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const here = new URL(".", import.meta.url);
const files = {
  "/": ["bench.html", "text/html"],
  "/bench.js": ["bench.js", "text/javascript"],
  "/ufse.js": ["../dist/ufse.js", "text/javascript"],
  "/ufse.wasm": ["../dist/ufse.wasm", "application/wasm"],
};
const runs = Number(process.argv[2] || 5);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"],
});
/** One load of the bench page: `window.result` of bench.js. */
async function load() {
  const page = await browser.newPage();
  await page.route("http://bench.test/**", (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path == "/v1/batch") return route.fulfill({ status: 202, body: '{"accepted":0,"dropped":[],"truncated":[]}' });
    const f = files[path];
    if (!f) return route.fulfill({ status: 404 });
    route.fulfill({ status: 200, contentType: f[1], body: readFileSync(new URL(f[0], here)) });
  });
  await page.goto("http://bench.test/");
  const result = await page.evaluate(() => window.result);
  await page.close();
  return result;
}

const loads = [];
for (let i = 0; i < runs; i++) loads.push(await load());
await browser.close();
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
for (const mix of Object.keys(loads[0])) {
  const events = loads.map((l) => l[mix].events);
  const rounds = loads.flatMap((l) => l[mix].rounds.map((r) => ({ ...r, events: l[mix].events })));
  const us = (side, base = "without") => median(rounds.map((r) => ((r[side] - r[base]) * 1000) / r.events));
  const ms = (side) => median(rounds.map((r) => r[side])).toFixed(1);
  console.log(`${mix}: ${events.join(", ")} events recorded per run of 10,000 interactions; median run ` +
    `${ms("sdk")} ms with the SDK, ${ms("listeners")} ms with empty listeners, ${ms("without")} ms without`);
  console.log(`${mix}: ${us("sdk", "listeners").toFixed(2)} µs per recorded event in the SDK's handlers (target: under 2); ` +
    `${us("sdk").toFixed(2)} µs in all, with the browser calling them (${us("listeners").toFixed(2)} µs for empty listeners); ` +
    `medians of ${rounds.length} rounds`);
}

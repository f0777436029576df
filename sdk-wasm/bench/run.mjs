// Runs bench.html in headless Chromium and prints the SDK's main-thread
// cost per recorded event, for each mix (see bench.js). The page and the
// built SDK (dist/, from build.sh) are served from disk by request
// interception; the ingest endpoint answers 202 without storing anything.
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
/** One load of the bench page, with or without the SDK. */
async function load(sdk) {
  const page = await browser.newPage();
  await page.route("http://bench.test/**", (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path == "/v1/batch") return route.fulfill({ status: 202, body: '{"accepted":0,"dropped":[],"truncated":[]}' });
    const f = files[path];
    if (!f) return route.fulfill({ status: 404 });
    route.fulfill({ status: 200, contentType: f[1], body: readFileSync(new URL(f[0], here)) });
  });
  await page.goto(sdk ? "http://bench.test/" : "http://bench.test/?sdk=0");
  const result = await page.evaluate(() => window.result);
  await page.close();
  return result;
}

// Runs alternate without and with the SDK, so drift hits both alike.
const results = [];
for (let i = 0; i < runs; i++) {
  const without = await load(false), with_ = await load(true);
  results.push(
    Object.fromEntries(
      Object.entries(with_).map(([mix, r]) => [
        mix,
        { events: r.events, withMs: r.ms, withoutMs: without[mix].ms, usPerEvent: ((r.ms - without[mix].ms) * 1000) / r.events },
      ])
    )
  );
}
await browser.close();
for (const mix of Object.keys(results[0])) {
  for (const r of results.map((r) => r[mix]))
    console.log(`${mix}: ${r.events} events from 10000 interactions: ${r.withMs.toFixed(1)} ms with the SDK, ${r.withoutMs.toFixed(1)} ms without, ${r.usPerEvent.toFixed(2)} µs per event`);
  const us = results.map((r) => r[mix].usPerEvent).sort((a, b) => a - b);
  console.log(`${mix}: median ${us[us.length >> 1].toFixed(2)} µs per recorded event over ${runs} runs (target: under 2)`);
}

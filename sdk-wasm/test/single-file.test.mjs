// The single-file build (dist/ufse.min.js, wasm inlined) in headless
// Chromium: loaded by a plain script tag, under a Content-Security-Policy
// that allows only 'self' and 'wasm-unsafe-eval', it records a click and a
// custom event and sends them, gzipped, to the endpoint. The page and the
// endpoint are served by request interception; no server is needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { launch } from "../browser.mjs";

const PAGE = `<!doctype html><html><head>
<meta http-equiv="Content-Security-Policy" content="script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'">
</head><body><button id="go" class="btn">Pay 42 now</button>
<script src="/ufse.min.js"></script><script src="/start.js"></script></body></html>`;
const START = `window.ready = ufse.init({ key: "uk_test", endpoint: location.origin });`;

test("the script-tag build records and sends under a strict CSP", { timeout: 60_000 }, async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const batches = [];
    await page.route("http://sdk.test/**", (route) => {
      const req = route.request();
      const url = new URL(req.url());
      if (url.pathname == "/v1/batch") {
        const body = req.postDataBuffer();
        const gz = body[0] == 0x1f;
        batches.push({ gz, key: url.searchParams.get("key"), batch: JSON.parse((gz ? gunzipSync(body) : body).toString()) });
        return route.fulfill({ status: 202, body: '{"accepted":1,"dropped":[],"truncated":[]}' });
      }
      const files = {
        "/": [PAGE, "text/html"],
        "/start.js": [START, "text/javascript"],
        "/ufse.min.js": [readFileSync(new URL("../dist/ufse.min.js", import.meta.url)), "text/javascript"],
      };
      const f = files[url.pathname];
      return f ? route.fulfill({ status: 200, contentType: f[1], body: f[0] }) : route.fulfill({ status: 404 });
    });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => m.type() == "error" && errors.push(m.text()));
    await page.goto("http://sdk.test/");
    await page.evaluate(() => window.ready);
    await page.click("#go");
    await page.evaluate(() => (ufse.track("paid", { amount: 42 }), ufse.flush()));
    assert.deepEqual(errors, []);
    const events = batches.flatMap((b) => b.batch.events);
    assert.equal(batches[0].key, "uk_test");
    assert.ok(batches.every((b) => b.gz), "gzipped with CompressionStream");
    const click = events.find((e) => e.t == "click");
    assert.equal(click.sel, "html > body > button#go.btn");
    assert.equal(click.txt, "Pay ## now");
    assert.deepEqual(events.find((e) => e.t == "custom").props, { amount: 42 });
    assert.equal(events.find((e) => e.t == "nav").nav, "load");
  } finally {
    await browser.close();
  }
});

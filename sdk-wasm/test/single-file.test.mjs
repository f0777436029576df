// The single-file build (dist/ufse.min.js, wasm inlined) in headless
// Chromium: loaded by a plain script tag, under a Content-Security-Policy
// that allows only 'self' and 'wasm-unsafe-eval', it records a click and a
// custom event and sends them, gzipped, to the endpoint. The page and the
// endpoint are served by request interception; no server is needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { accept, launch, sdkPage } from "../browser.mjs";

test("the script-tag build records and sends under a strict CSP", { timeout: 60_000 }, async () => {
  const browser = await launch();
  try {
    const batches = [];
    const { page, errors } = await sdkPage(browser, (sent, route) => (batches.push(sent), accept(route)));
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

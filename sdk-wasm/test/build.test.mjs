// The built SDK (dist/, from build.sh): size budget and API shape.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import vm from "node:vm";

const dist = (f) => readFileSync(new URL(`../dist/${f}`, import.meta.url));
const gz = (b) => gzipSync(b, { level: 9 }).length;
const API = ["init", "track", "identify", "flush", "shutdown"];

test("the ES module build and its wasm fit in 6 KB gzipped", () => {
  const total = gz(dist("ufse.js")) + gz(dist("ufse.wasm"));
  assert.ok(total <= 6 * 1024, `${total} bytes gzipped`);
});

test("the ES module exports the API", async () => {
  const m = await import("../dist/ufse.js");
  assert.deepEqual(Object.keys(m).sort(), [...API].sort());
});

test("the single-file build puts the API on window.ufse, with its wasm inlined", async () => {
  const window = {};
  vm.runInNewContext(dist("ufse.min.js").toString(), { window, atob, Uint8Array, TextEncoder, URL });
  assert.deepEqual(Object.keys(window.ufse).sort(), [...API].sort());
  const b64 = /atob\("([A-Za-z0-9+/=]+)"\)/.exec(dist("ufse.min.js").toString())[1];
  assert.deepEqual(Buffer.from(b64, "base64"), dist("ufse.wasm"));
});

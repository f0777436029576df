// The core's gzip (the path a batch takes when the page leaves before
// CompressionStream is done) on batches the core builds itself: size,
// ratio and time per call, next to zlib's. Run after build.sh:
//   node sdk-wasm/bench/gzip.mjs
import { readFileSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";

const wasm = readFileSync(new URL("../dist/ufse.wasm", import.meta.url));
const enc = new TextEncoder();

/** A batch, until the core asks for a flush: every `errors`-th event an
 *  error with a 25-frame stack (none for 0), the others, per 10, 6 moves,
 *  2 clicks, 1 request and 1 navigation. Indices are NAMES in src/lib.rs. */
async function batch(errors) {
  const X = (await WebAssembly.instantiate(wasm)).instance.exports;
  const put = (s) => enc.encodeInto(s, new Uint8Array(X.memory.buffer, X.input(), 16384)).written;
  const str = (f, s, mode = 0) => X.str(f, put(s), mode);
  X.set(0, put("k2j3h4g5f6d7s8a9"));
  X.set(2, put(JSON.stringify({ ua: "Mozilla/5.0 (X11; Linux x86_64) Chrome/156", vw: 1280, vh: 720 })));
  let t = 1732810000000;
  for (let i = 0; ; i++) {
    const k = i % 10;
    t += 16 + (i % 7);
    if (errors && i % errors == 0) {
      X.ev(8, t), str(29, `TypeError: Cannot read properties of undefined (reading 'price${i % 9}')`);
      const frames = Array.from({ length: 25 }, (_, f) => `    at fn${(f * 7 + i) % 31} (https://shop.example.com/assets/app.js:${(f * 131 + i) % 9000}:${(f * 17) % 80})`);
      str(33, frames.join("\n")), str(34, "error");
    } else if (k < 6) {
      X.ev(7, t), X.num(15, (i * 37) % 1280), X.num(16, (i * 13) % 720);
    } else if (k < 8) {
      X.ev(1, t), X.num(15, 412 + (i % 5)), X.num(16, 230);
      str(17, `main#app > section.product.card > div.actions > button#buy-${i % 12}.btn.primary`, 2);
      X.open(18), str(20, "button"), X.flag(24, 0), X.flag(25, 0), X.flag(26, 0), X.close();
      str(19, "Buy now for $###", 1);
    } else if (k < 9) {
      X.ev(9, t), str(35, "GET"), str(13, `https://shop.example.com/api/items/${i % 50}`);
      X.num(36, i % 13 ? 200 : 500), X.num(37, 20 + (i % 90));
    } else {
      X.ev(0, t), str(13, `https://shop.example.com/p/${i % 40}`), str(14, "push");
    }
    if (X.done() == 1) return { X, events: i + 1, bytes: new Uint8Array(X.memory.buffer, X.out(), X.batch(t)).slice() };
  }
}

for (const errors of [0, 10, 2]) {
  const { X, events, bytes } = await batch(errors);
  new Uint8Array(X.memory.buffer, X.zin(), bytes.length).set(bytes);
  const times = [];
  let len;
  for (let r = 0; r < 31; r++) {
    const t0 = performance.now();
    len = X.gz(bytes.length);
    times.push(performance.now() - t0);
  }
  const out = Buffer.from(new Uint8Array(X.memory.buffer, X.zout(), len));
  if (!gunzipSync(out).equals(Buffer.from(bytes))) throw new Error("the core's gzip did not round-trip");
  times.sort((a, b) => a - b);
  console.log(
    `${events} events${errors ? `, 1 in ${errors} an error with a stack` : ""}: ${bytes.length} B, core gzip ${len} B ` +
      `(${(bytes.length / len).toFixed(1)}x) in ${times[15].toFixed(2)} ms (median of 31); ` +
      `zlib level 6 ${gzipSync(bytes).length} B, level 1 ${gzipSync(bytes, { level: 1 }).length} B`
  );
}

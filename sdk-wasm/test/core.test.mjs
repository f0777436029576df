// The built wasm core (dist/ufse.wasm), driven through its exports the way
// js/ufse.js drives it, with every batch read back by JSON.parse. Run after
// build.sh: `node --test test/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

const wasm = readFileSync(new URL("../dist/ufse.wasm", import.meta.url));
const enc = new TextEncoder();
const dec = new TextDecoder();

// Indices from NAMES in src/lib.rs.
const K = { nav: 0, click: 1, input: 2, move: 7, error: 8, custom: 12 };
const F = { url: 13, x: 15, y: 16, sel: 17, el: 18, txt: 19, tag: 20, msg: 29, name: 39, props: 40 };
const PLAIN = 0, LABEL = 1, SEL = 2;

/** A fresh core with helpers. */
async function core(sid = "s-1") {
  const X = (await WebAssembly.instantiate(wasm, {})).instance.exports;
  const put = (s) => enc.encodeInto(s, new Uint8Array(X.memory.buffer, X.input(), 16384)).written;
  const c = {
    X,
    put,
    str: (f, s, mode = PLAIN) => X.str(f, put(s), mode),
    batch(sentAt = 1000) {
      const n = X.batch(sentAt);
      return n ? JSON.parse(dec.decode(new Uint8Array(X.memory.buffer, X.out(), n))) : null;
    },
    /** One event of kind `k`; returns what `done` said. */
    event(k, fill, ts = 1) {
      X.ev(k, ts);
      fill && fill();
      return X.done();
    },
  };
  X.set(0, put(sid));
  return c;
}

/** Strings that stress the encoder: quotes, backslashes, control
 *  characters, multi-byte and astral characters, lone surrogates. */
function* nasty(seed = 7) {
  const pool = ['"', "\\", "\n", "\r", "\t", "\u0000", "\u001f", "\u007f", "é", "€", "😀", "\u2028", "\ud800", "a", " ", "/"];
  let x = seed;
  for (let i = 0; i < 300; i++) {
    let s = "";
    const n = (x = (x * 1103515245 + 12345) >>> 0) % 40;
    for (let j = 0; j < n; j++) s += pool[(x = (x * 1103515245 + 12345) >>> 0) % pool.length];
    yield s;
  }
}

test("any string survives the JSON encoding unchanged", async () => {
  const c = await core();
  for (const s of nasty()) {
    c.event(K.error, () => c.str(F.msg, s));
    const got = c.batch().events[0].msg;
    // TextEncoder turns a lone surrogate into U+FFFD; everything else is kept.
    assert.equal(got, s.replace(/\ud800/g, "\ufffd"), JSON.stringify(s));
  }
});

test("long strings are cut at a character boundary within 2048 bytes", async () => {
  const c = await core();
  const long = "€😀".repeat(1000);
  c.event(K.error, () => c.str(F.msg, long));
  const got = c.batch().events[0].msg;
  assert.ok(long.startsWith(got));
  assert.ok(enc.encode(got).length <= 2048 && enc.encode(got).length > 2040);
});

test("labels are cut at 64 characters", async () => {
  const c = await core();
  const label = (s) => (c.event(K.click, () => c.str(F.txt, s, LABEL)), c.batch().events[0].txt);
  assert.equal(label("😀".repeat(100)), "😀".repeat(64));
  assert.equal(label('Say "hi"'), 'Say "hi"');
});

test("a click: element, selector and label; the same again, repeated whole", async () => {
  const c = await core();
  const click = (x, same) =>
    c.event(K.click, () => {
      c.X.num(F.x, x);
      c.X.num(F.y, 20.5);
      if (c.X.el(same)) return;
      c.str(F.tag, "button");
      c.X.flag(F.el + 8, 1);
      c.X.close();
      c.str(F.sel, "html > body > form#checkout > button#pay.btn", SEL);
      c.str(F.txt, "Pay", LABEL);
    });
  click(10.4, 0);
  click(11, 1);
  const [a, b] = c.batch().events;
  assert.deepEqual(
    [a.x, a.y, a.sel, a.el, a.txt],
    [10, 21, "html > body > form#checkout > button#pay.btn", { tag: "button", in_link: true }, "Pay"]
  );
  assert.deepEqual({ ...b, x: 10, ts: a.ts, seq: a.seq }, a);
});

test("a selector over 512 bytes loses its outer levels, whole", async () => {
  const c = await core();
  const level = "div.x" + "y".repeat(300);
  c.event(K.input, () => c.str(F.sel, [level, level, "input#q"].join(" > "), SEL));
  assert.equal(c.batch().events[0].sel, `${level} > input#q`);
});

test("a batch flushes at 100 events, seqs run on, dropped is reported once", async () => {
  const c = await core();
  c.X.set_seq(41);
  c.X.lost(3);
  for (let i = 1; i < 100; i++) assert.equal(c.event(K.custom, () => c.str(F.name, "e")), 0);
  assert.equal(c.event(K.custom, () => c.str(F.name, "e")), 1, "the 100th asks for a flush");
  const b = c.batch();
  assert.equal(b.events.length, 100);
  assert.deepEqual([b.events[0].seq, b.events[99].seq, b.dropped], [42, 141, 3]);
  c.event(K.custom);
  assert.equal(c.batch().dropped, undefined);
  assert.equal(c.batch(), null, "nothing left to send");
});

test("a batch is sent at 60 KB, with the event that reached it", async () => {
  const c = await core();
  let n = 1;
  while (c.event(K.error, () => c.str(F.msg, "m".repeat(2000))) == 0) n++;
  const b = c.batch();
  const bytes = enc.encode(JSON.stringify(b)).length;
  assert.ok(bytes > 60 * 1024 && bytes < 60 * 1024 + 2200, `${bytes} bytes`);
  assert.equal(b.events.length, n);
  c.event(K.error, () => c.str(F.msg, "next"));
  assert.equal(c.batch().events[0].seq, b.events[n - 1].seq + 1);
});

test("custom props are kept as JSON; oversized ones are left out", async () => {
  const c = await core();
  c.event(K.custom, () => {
    c.str(F.name, "checkout");
    c.X.raw(F.props, c.put(JSON.stringify({ step: 2, items: ["a", "b"] })));
  });
  c.event(K.custom, () => c.X.raw(F.props, c.put(JSON.stringify({ big: "x".repeat(5000) }))));
  const [a, b] = c.batch().events;
  assert.deepEqual(a.props, { step: 2, items: ["a", "b"] });
  assert.equal(b.props, undefined);
});

test("gzip: the core's output is what zlib decompresses back, for any bytes", async () => {
  const c = await core();
  const gz = (bytes) => {
    new Uint8Array(c.X.memory.buffer, c.X.zin(), bytes.length).set(bytes);
    const n = c.X.gz(bytes.length);
    return Buffer.from(new Uint8Array(c.X.memory.buffer, c.X.zout(), n));
  };
  let x = 1;
  const random = Uint8Array.from({ length: 70_000 }, () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 24));
  for (const bytes of [new Uint8Array(0), enc.encode("a"), new Uint8Array(70_000).fill(7), random]) {
    assert.deepEqual(gunzipSync(gz(bytes)), Buffer.from(bytes), `${bytes.length} bytes`);
  }
  // A real batch of clicks and moves, as the core built it.
  const event = (i) =>
    c.event(i % 4 ? K.move : K.click, () => {
      c.X.num(F.x, i * 7);
      c.X.num(F.y, i % 300);
      if (i % 4 == 0) c.str(F.sel, `section.p${i % 9}.card > button#buy.btn`, SEL);
    }, 1732810000000 + i * 16);
  for (let i = 0; event(i) != 1; i++);
  const batch = new Uint8Array(c.X.memory.buffer, c.X.out(), c.X.batch(1)).slice();
  const zipped = gz(batch);
  assert.deepEqual(gunzipSync(zipped), Buffer.from(batch));
  assert.ok(zipped.length * 3 < batch.length, `${batch.length} bytes gzipped to ${zipped.length}`);
});

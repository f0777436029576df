// Main-thread cost of the SDK's handlers. Dispatches 10,000 interactions
// and times each run as a whole (per-event timers are too coarse in
// browsers), on three sides, in one page so that the JIT treats the
// bench's own code alike on all three:
//   without     the SDK shut down: no listener, no observer;
//   listeners   one empty listener per kind of interaction, as the SDK
//               registers them: what the browser charges any page that
//               observes these events, before the SDK does anything;
//   sdk         the SDK observing.
// After warm-ups, rounds run each side once, in a rotating order; the
// figures are differences within a round, whose runs are close in time
// (this machine has faster and slower spells, which hit all sides of a
// round alike).
// What the SDK does after a run (compressing, sending) is not timed:
// `shutdown()` sends it before the next side starts.
//
// Four mixes: `human`, at a simulated 60 Hz (the clock the SDK reads moves
// 16 ms per interaction, so its throttles act as they would for a person:
// per 100 interactions, 85 pointer moves, 8 scrolls, 4 keystrokes and 3
// clicks); `clicks`, every interaction a click on one button, as in a rage
// click (the glue gathers an element's facts once until the DOM changes,
// and the core repeats the description it wrote last); `state clicks`,
// each click after the button's `data-state` changed, as UI libraries mark
// state (the mutation observer's cost; no fact reads that attribute); and
// `changed clicks`, each click after the button's class changed, so each
// one pays for making its selector again and writing the element's whole
// description.
//
// `window.result` is { mix: { events, rounds: [{ without, listeners, sdk }] } }:
// the events the SDK recorded in one run and each round's times in ms.
import * as ufse from "/ufse.js";

const N = 10_000;
const ROUNDS = 15;
const buy = document.getElementById("buy");
const q = document.getElementById("q");
let clock = Date.now();
Date.now = () => clock;

// Events are made once and dispatched again and again (a finished event
// can be), so the bench itself allocates nothing while it is timed.
const pool = (n, make) => Array.from({ length: n }, (_, i) => make(i));
const clicks = pool(50, (i) => new MouseEvent("click", { bubbles: true, clientX: 10 + i, clientY: 20 }));
const moves = pool(300, (i) => new PointerEvent("pointermove", { bubbles: true, clientX: i, clientY: 40 }));
const key = new InputEvent("input", { bubbles: true, data: "x" });
const scroll = new Event("scroll");
const act = {
  click: (i) => buy.dispatchEvent(clicks[i % 50]),
  move: (i) => buy.dispatchEvent(moves[i % 300]),
  key: () => q.dispatchEvent(key),
  scroll: () => window.dispatchEvent(scroll),
};
const mixes = {
  human: (i) => {
    const k = i % 100;
    return k < 85 ? act.move(i) : k < 93 ? act.scroll() : k < 97 ? act.key() : act.click(i);
  },
  clicks: (i) => act.click(i),
  "state clicks": (i) => (buy.dataset.state = i, act.click(i)),
  // The first class changes: a selector keeps only three.
  "changed clicks": (i) => (buy.className = i & 1 ? "btn primary large" : "busy btn primary", act.click(i)),
};

function run(mix) {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    clock += 16;
    mix(i);
  }
  return performance.now() - t0;
}

const options = { key: "bench", endpoint: location.origin };
// The seq the SDK stored when it was last shut down (exact then).
const seq = () => JSON.parse(sessionStorage.getItem("ufse")).seq;
const nop = () => {};
const listen = (f) => {
  for (const t of ["pointermove", "scroll", "input", "click"]) f(t, nop, { capture: true, passive: true });
};
// Each side: what starts it, and what ends it.
const sides = {
  without: [nop, nop],
  listeners: [() => listen(addEventListener), () => listen(removeEventListener)],
  sdk: [() => ufse.init(options), () => ufse.shutdown()],
};

/** Runs `mix` once on `side`; its time in ms and the events recorded. */
async function once(side, mix) {
  const [start, end] = sides[side];
  const before = seq();
  await start();
  // What the last run left settles first, on every side alike.
  await new Promise((r) => setTimeout(r, 100));
  const ms = run(mix);
  await end();
  return { ms, events: seq() - before };
}

window.result = (async () => {
  // The first start records the page's load; runs record only their own.
  await ufse.init(options);
  await ufse.shutdown();
  const names = Object.keys(sides);
  const out = {};
  for (const [name, mix] of Object.entries(mixes)) {
    const r = (out[name] = { events: 0, rounds: [] });
    for (const side of names) for (let i = 0; i < 3; i++) await once(side, mix);
    for (let i = 0; i < ROUNDS; i++) {
      const round = {};
      for (let j = 0; j < names.length; j++) {
        const side = names[(i + j) % names.length];
        const { ms, events } = await once(side, mix);
        round[side] = ms;
        if (side == "sdk") r.events = events;
      }
      r.rounds.push(round);
    }
  }
  document.getElementById("out").textContent = JSON.stringify(out, null, 2);
  return out;
})();

// Main-thread cost of the SDK's handlers. Dispatches 10,000 interactions
// and times each run as a whole (per-event timers are too coarse in
// browsers). A page loaded as /?sdk=0 does it without the SDK, any other
// with it; bench/run.mjs loads both, alike in everything else (the same
// warm-up for the JIT, each side's fastest of seven runs), and divides the
// difference by the events the SDK recorded.
//
// Three mixes: `human`, at a simulated 60 Hz (the clock the SDK reads moves
// 16 ms per interaction, so its throttles act as they would for a person:
// per 100 interactions, 85 pointer moves, 8 scrolls, 4 keystrokes and 3
// clicks); `clicks`, every interaction a click on one button, as in a rage
// click (the SDK describes an element once until the DOM changes); and
// `fresh clicks`, every click after a DOM change, so each one pays for the
// whole description: the selector walk, the label, the element's facts.
// The results, { mix: { ms, events } }, are in `window.result`.
import * as ufse from "/ufse.js";

const N = 10_000;
const buy = document.getElementById("buy");
const q = document.getElementById("q");
let clock = Date.now();
Date.now = () => clock;

const act = {
  click: (i) => buy.dispatchEvent(new MouseEvent("click", { bubbles: true, clientX: 10 + (i % 50), clientY: 20 })),
  move: (i) => buy.dispatchEvent(new PointerEvent("pointermove", { bubbles: true, clientX: i % 300, clientY: 40 })),
  key: () => q.dispatchEvent(new InputEvent("input", { bubbles: true, data: "x" })),
  scroll: () => window.dispatchEvent(new Event("scroll")),
};
const mixes = {
  human: (i) => {
    const k = i % 100;
    return k < 85 ? act.move(i) : k < 93 ? act.scroll() : k < 97 ? act.key() : act.click(i);
  },
  clicks: (i) => act.click(i),
  "fresh clicks": (i) => (buy.dataset.n = i, act.click(i)),
};

function run(mix) {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    clock += 16;
    mix(i);
  }
  return performance.now() - t0;
}

// The last seq given out. The SDK stores it exactly when the page is left
// (else reserved ahead), so the bench makes it leave, outside the timing.
const seq = () => (dispatchEvent(new Event("pagehide")), JSON.parse(sessionStorage.getItem("ufse")).seq);
// Each side's fastest of RUNS runs: the noise is mostly other work that
// only ever adds time.
const RUNS = 7;

window.result = (async () => {
  const sdk = !location.search.includes("sdk=0");
  if (sdk) await ufse.init({ key: "bench", endpoint: location.origin });
  const out = {};
  for (const [name, mix] of Object.entries(mixes)) {
    for (let i = 0; i < 3; i++) run(mix);
    await ufse.flush();
    let ms = Infinity, events = 0;
    for (let i = 0; i < RUNS; i++) {
      const before = sdk && seq();
      // What the last run left (compression, requests) settles first, on
      // both sides alike, so it does not land in this run's time.
      await new Promise((r) => setTimeout(r, 200));
      ms = Math.min(ms, run(mix));
      await ufse.flush();
      events = sdk && seq() - before;
    }
    out[name] = { ms, events };
  }
  document.getElementById("out").textContent = JSON.stringify(out, null, 2);
  return out;
})();

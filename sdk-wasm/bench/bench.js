// Main-thread cost of the SDK's handlers: dispatches the same 10,000
// interactions (clicks, pointer moves, keystrokes in a field, scrolls)
// without and then with the SDK, times each run as a whole (per-event
// timers are too coarse in browsers), and divides the difference by the
// events the SDK recorded. The result is in `window.result`.
import * as ufse from "/ufse.js";

const N = 10_000;
const buy = document.getElementById("buy");
const q = document.getElementById("q");

function interactions() {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    switch (i % 4) {
      case 0:
        buy.dispatchEvent(new MouseEvent("click", { bubbles: true, clientX: 10 + (i % 50), clientY: 20 }));
        break;
      case 1:
        buy.dispatchEvent(new PointerEvent("pointermove", { bubbles: true, clientX: i % 300, clientY: 40 }));
        break;
      case 2:
        q.dispatchEvent(new InputEvent("input", { bubbles: true, data: "x" }));
        break;
      default:
        window.dispatchEvent(new Event("scroll"));
    }
  }
  return performance.now() - t0;
}

const seq = () => JSON.parse(sessionStorage.getItem("ufse") || '{"seq":0}').seq;

window.result = (async () => {
  // Warm up the engine's code paths first, without the SDK.
  interactions();
  const without = Math.min(interactions(), interactions(), interactions());
  await ufse.init({ key: "bench", endpoint: location.origin });
  await ufse.flush();
  const before = seq();
  const withSdk = interactions();
  await ufse.flush();
  const events = seq() - before;
  const r = { interactions: N, events, withoutMs: without, withMs: withSdk, usPerEvent: ((withSdk - without) * 1000) / events };
  document.getElementById("out").textContent = JSON.stringify(r, null, 2);
  return r;
})();

// Records the browser part of the labelled corpus: scripted visits to the
// demo shop (`ufse serve --demo`) in headless Chromium, each in a fresh
// browser context (a new session), with the SDK sending what it saw. Each
// visit is labelled with what its script meant the user to go through,
// not with what any rule says. The sessions are read back from the server
// as it stored them and written as batches.
//
// From the repository root, after `bash sdk-wasm/build.sh` and
// `cargo build -p ufse-cli`:
//
//     node corpus/record.mjs
//
// It rewrites corpus/browser.jsonl and the `browser` lines of
// corpus/labels.jsonl. Browser timing varies, so a new recording differs
// in detail; the labels do not.
import { readFileSync, writeFileSync } from "node:fs";
import { launch, startDemo } from "../sdk-wasm/browser.mjs";

const REPEATS = 4;
/** The jitter's seed. The first recording (seed 1) was looked at while
 *  fixing the rules it showed wrong; this one was recorded after, unseen. */
const SEED = 2;
const VIEWPORT = { width: 1280, height: 800 };

/** A small seeded generator, so the jitter is the same from run to run. */
function rng(seed) {
  return (lo, hi) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return lo + (seed % (hi - lo + 1));
  };
}

/** Helpers over one page: pointer moves with human jitter. */
function user(page, r) {
  const at = async (sel) => {
    const b = await page.locator(sel).boundingBox();
    return [b.x + b.width / 2 + r(-4, 4), b.y + b.height / 2 + r(-3, 3)];
  };
  const self = {
    r,
    wait: (lo, hi) => page.waitForTimeout(r(lo, hi)),
    async to(sel) {
      const [x, y] = await at(sel);
      await page.mouse.move(x + r(-80, 80), y + r(-40, 40), { steps: r(2, 5) });
      await page.mouse.move(x, y, { steps: r(3, 8) });
      return [x, y];
    },
    async click(sel, times = 1, gap = [150, 300]) {
      const [x, y] = await self.to(sel);
      for (let i = 0; i < times; i++) {
        await page.mouse.click(x + r(-2, 2), y + r(-2, 2));
        if (i + 1 < times) await self.wait(...gap);
      }
    },
  };
  return self;
}

// Frustrated visits, then look-alikes. Each returns the kinds it means.
const SCENARIOS = {
  async coupon_hammered(u) {
    await u.click("#apply-coupon", u.r(4, 6), [110, 280]);
    return ["dead_click", "rage_click"];
  },
  async coupon_once(u) {
    await u.click("#apply-coupon");
    await u.wait(800, 2000);
    await u.to("#product h2");
    return ["dead_click"];
  },
  async checkout_throws(u) {
    // The click throws and nothing on the page changes.
    await u.click("#checkout");
    return ["dead_click", "error_click"];
  },
  async save_fails(u) {
    await u.click("#save-later");
    return ["failed_request"];
  },
  async stock_is_slow(u) {
    await u.click("#check-stock");
    await u.wait(1800, 2200);
    return ["slow_click"];
  },
  async stepper(u) {
    await u.click("#qty-plus", 5, [90, 220]);
    await u.wait(300, 700);
    await u.click("#qty-minus", 2, [120, 250]);
    return [];
  },
  async add_to_cart(u) {
    await u.click("#add-to-cart");
    await u.wait(300, 900);
    await u.click("#add-to-cart");
    return [];
  },
  async size_guide_in_new_tab(u, page) {
    const popup = page.context().waitForEvent("page");
    await u.click("#size-guide");
    await (await popup).close();
    await page.bringToFront();
    return [];
  },
  async select_a_word(u, page) {
    const [x, y] = await u.to("#blurb");
    await page.mouse.dblclick(x, y);
    await u.wait(600, 1200);
    await page.mouse.click(x, y, { clickCount: 3 });
    return [];
  },
  async gift_message(u, page) {
    await u.click("#gift-message");
    await page.keyboard.type("Happy birthday!", { delay: 40 });
    await u.click("#gift button[type=submit]");
    return [];
  },
};

const demo = await startDemo();
const browser = await launch();
const labels = [];
try {
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    for (let i = 0; i < REPEATS; i++) {
      const context = await browser.newContext({ viewport: VIEWPORT });
      const page = await context.newPage();
      await page.goto(demo.url);
      await page.evaluate(() => window.ufseReady);
      const r = rng(SEED * 1_000_003 + name.length * 1000 + i);
      const u = user(page, r);
      await u.wait(300, 900);
      const kinds = await scenario(u, page);
      await u.wait(400, 1200);
      const sid = await page.evaluate(() => JSON.parse(sessionStorage.getItem("ufse")).id);
      await page.close({ runBeforeUnload: true });
      await context.close();
      labels.push({ sid, split: "browser", scenario: name, kinds: kinds.sort() });
      console.log(`${name} #${i}: ${sid}`);
    }
  }
  // Everything the server acknowledged, read back once it is stored.
  await new Promise((r) => setTimeout(r, 3000));
  const lines = [];
  for (const { sid } of labels) {
    const events = demo
      .ufse("sessions", "show", sid, "--json")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((l) => l.type == "event")
      .map((l) => l.event)
      .sort((a, b) => a.seq - b.seq);
    if (!events.some((e) => e.t == "click")) throw new Error(`session ${sid} has no click stored`);
    for (let k = 0; k < events.length; k += 500) {
      const ctx = { vw: VIEWPORT.width, vh: VIEWPORT.height };
      lines.push(JSON.stringify({ v: 1, sid, ctx, events: events.slice(k, k + 500) }));
    }
  }
  writeFileSync("corpus/browser.jsonl", lines.join("\n") + "\n");
  const kept = readFileSync("corpus/labels.jsonl", "utf8")
    .split("\n")
    .filter((l) => l && JSON.parse(l).split != "browser");
  writeFileSync("corpus/labels.jsonl", [...kept, ...labels.map((l) => JSON.stringify(l))].join("\n") + "\n");
  console.log(`${labels.length} sessions written to corpus/browser.jsonl`);
} finally {
  await browser.close();
  await demo.stop();
}

// The SDK's life on one page, in headless Chromium with the single-file
// build: `shutdown()` leaves nothing observing, `init()` afterwards
// resumes the same session without recording anything twice, and what a
// click says about its element follows the DOM as it changes, while
// changes no fact reads leave it be (and a change of an id or a class only
// the selector).
import { test } from "node:test";
import assert from "node:assert/strict";
import { accept, sdkPage, withBrowser } from "../browser.mjs";

const start = () => ufse.init({ key: "uk_test", endpoint: location.origin });

/** The clicks in `batches`, in order. */
const clicksIn = (batches) => batches.flatMap((b) => b.batch.events).filter((e) => e.t == "click");

/** The types of the listeners on `window` and `document`, as DevTools lists them. */
async function listeners(page) {
  const cdp = await page.context().newCDPSession(page);
  const types = [];
  for (const target of ["window", "document"]) {
    const { result } = await cdp.send("Runtime.evaluate", { expression: target });
    const { listeners } = await cdp.send("DOMDebugger.getEventListeners", { objectId: result.objectId });
    types.push(...listeners.map((l) => l.type));
  }
  await cdp.detach();
  return types.sort();
}

test("shutdown stops observing; init resumes the session, recording each thing once", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const batches = [];
    const { page, errors } = await sdkPage(browser, (sent, route) => (batches.push(sent), accept(route)));
    await page.click("#go");
    const observing = await listeners(page);
    await page.evaluate(() => ufse.shutdown());
    // Only the test page's own click listener is left (sdkPage adds it).
    assert.ok(observing.length > 10, `the SDK listens: ${observing}`);
    assert.deepEqual(await listeners(page), ["click"]);
    // While stopped: a click, a request, an error and a route change.
    await page.click("#go");
    await page.evaluate(async () => {
      await fetch("/cart");
      history.pushState({}, "", "/moved");
      setTimeout(() => {
        throw new Error("while stopped");
      });
      await new Promise((r) => setTimeout(r, 50));
    });
    const whileStopped = batches.length;
    await page.evaluate(start);
    await page.click("#go");
    await page.evaluate(async () => {
      await fetch("/other");
      await ufse.flush();
    });
    // The two requests answer 404, which Chromium logs.
    assert.deepEqual(errors.filter((e) => !/while stopped|404/.test(e)), []);

    const events = batches.flatMap((b) => b.batch.events);
    assert.equal(events.filter((e) => e.t == "click").length, 2, "one click before, one after, none while stopped");
    assert.equal(events.filter((e) => e.t == "error").length, 0, "no error while stopped");
    // One wrapper of fetch however many times init ran: one event per request.
    assert.deepEqual(events.filter((e) => e.t == "net").map((e) => new URL(e.url).pathname), ["/other"]);
    // The route taken while stopped, once, on resuming.
    const navs = events.filter((e) => e.t == "nav").map((e) => [new URL(e.url).pathname, e.nav]);
    assert.deepEqual(navs, [["/", "load"], ["/moved", "push"]]);
    // One session, its seq without a gap or a repeat.
    assert.equal(new Set(batches.map((b) => b.batch.sid)).size, 1);
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
    assert.ok(whileStopped >= 1, "shutdown sent what it had");
  }));

test("a click describes its element as it is now, after the DOM changed", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const batches = [];
    const { page, errors } = await sdkPage(browser, (sent, route) => (batches.push(sent), accept(route)));
    // The second click finds the element described already.
    await page.click("#go");
    await page.click("#go");
    const change = (f) => page.evaluate(f);
    // Its class, then its text, each alone. The classes as the browser
    // reads them for CSS: the first three distinct ones.
    await change(() => (document.getElementById("go").className = " btn\tbusy  btn wide\nlarge"));
    await page.click("#go");
    await change(() => (document.getElementById("go").textContent = "Paying 42"));
    await page.click("#go");
    // Its parent changes, not it: the outer level of the selector follows.
    await change(() => (document.body.id = "shop"));
    await page.click("#go");
    await page.evaluate(() => ufse.flush());
    assert.deepEqual(errors, []);
    const clicks = clicksIn(batches);
    assert.deepEqual(clicks[1].el, clicks[0].el);
    assert.deepEqual(clicks[0].el, { tag: "button", editable: false, download: false, in_link: false });
    assert.deepEqual(clicks.map((c) => [c.sel, c.txt]), [
      ["html > body > button#go.btn", "Pay ## now"],
      ["html > body > button#go.btn", "Pay ## now"],
      ["html > body > button#go.btn.busy.wide", "Pay ## now"],
      ["html > body > button#go.btn.busy.wide", "Paying ##"],
      ["html > body#shop > button#go.btn.busy.wide", "Paying ##"],
    ]);
  }));

test("a class or an id an option's selector reads makes a click be described again", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const batches = [];
    const options = { ignore: ".private", allowText: "#plain" };
    const { page, errors } = await sdkPage(browser, (sent, route) => (batches.push(sent), accept(route)), { options });
    await page.click("#go");
    await page.evaluate(() => (document.getElementById("go").id = "plain"));
    await page.click("#plain");
    await page.evaluate(() => document.getElementById("plain").classList.add("private"));
    await page.click("#plain");
    await page.evaluate(() => ufse.flush());
    assert.deepEqual(errors, []);
    const clicks = clicksIn(batches);
    assert.deepEqual(clicks.map((c) => [c.sel, c.txt]), [
      ["html > body > button#go.btn", "Pay ## now"],
      // Its label unmasked, as allowText says.
      ["html > body > button#plain.btn", "Pay 42 now"],
      // Then none: ignored.
    ]);
  }));

test("a click is described again after an attribute a fact or an option reads changed", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const batches = [];
    const options = { ignore: "[DATA-PRIVATE]", allowText: "[data-plain]" };
    const { page, errors } = await sdkPage(browser, (sent, route) => (batches.push(sent), accept(route)), { options });
    const set = (name, value) => page.evaluate(([n, v]) => document.getElementById("go").setAttribute(n, v), [name, value]);
    await page.click("#go");
    // The label reads aria-label.
    await set("aria-label", "Pay 42");
    await page.click("#go");
    // The options name these: allowText, then ignore.
    await set("data-plain", "");
    await page.click("#go");
    // No fact reads this one.
    await set("data-state", "open");
    await page.click("#go");
    await set("data-private", "");
    await page.click("#go");
    await page.evaluate(() => ufse.flush());
    assert.deepEqual(errors, []);
    const clicks = clicksIn(batches);
    assert.deepEqual(clicks.map((c) => c.txt), ["Pay ## now", "Pay ##", "Pay 42", "Pay 42"], "none once ignored");
  }));

test("init after shutdown applies its own options to elements clicked before", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const batches = [];
    const { page, errors } = await sdkPage(browser, (sent, route) => (batches.push(sent), accept(route)));
    await page.click("#go");
    await page.evaluate(async () => {
      await ufse.shutdown();
      await ufse.init({ key: "uk_test", endpoint: location.origin, ignore: "#go" });
    });
    await page.click("#go");
    await page.evaluate(() => ufse.flush());
    assert.deepEqual(errors, []);
    const clicks = clicksIn(batches);
    assert.equal(clicks.length, 1, "the click after the restart is ignored");
  }));

// Delivery when the endpoint is slow, in headless Chromium with the
// single-file build: the test holds the first request open while the page
// keeps producing batches, so the one on its way meets a full queue and a
// page that goes away. Every event must then arrive exactly once or be
// counted in a later batch's `dropped`, never both.
import { test } from "node:test";
import assert from "node:assert/strict";
import { accept, sdkPage, withBrowser } from "../browser.mjs";

/** Waits until `ok()` holds, for at most 10 s. */
async function until(ok, what) {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(ok(), `timed out waiting for ${what}`);
}

/** A page whose first batch hangs until `release()`; `sent` lists every batch. */
async function slowEndpoint(browser) {
  const sent = [];
  let held;
  const { page, errors } = await sdkPage(browser, (s, route) => {
    sent.push(s);
    if (!held) held = route;
    else return accept(route);
  });
  return { page, errors, sent, held: () => held, release: () => accept(held) };
}

/** A page whose clock the test moves (`advance(ms)` in it); `sent` lists every batch. */
function clockPage(browser, sent) {
  const before = () => {
    let now = Date.now();
    Date.now = () => now;
    window.advance = (ms) => (now += ms);
  };
  return sdkPage(browser, (s, route) => (sent.push(s), accept(route)), { before });
}

const seqs = (sent) => sent.flatMap((s) => s.batch.events.map((e) => e.seq));
const names = (sent) => sent.flatMap((s) => s.batch.events.map((e) => e.name)).filter(Boolean);

test("a full queue never counts the batch on its way as lost", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const { page, errors, sent, release } = await slowEndpoint(browser);
    // 40 one-event batches behind the first: the queue holds 30, so some
    // must go, but not the one the SDK is already sending.
    await page.evaluate(() => {
      for (let i = 0; i < 41; i++) ufse.track(`t${i}`), ufse.flush();
    });
    await until(() => sent.length == 1, "the first batch");
    await release();
    await until(() => names(sent).includes("t40"), "the last batch");
    // The count of what was lost goes out with the next batch.
    await page.evaluate(() => (ufse.track("after"), ufse.flush()));
    await until(() => names(sent).includes("after"), "the batch after");

    const got = seqs(sent);
    assert.equal(new Set(got).size, got.length, "no event twice");
    assert.ok(names(sent).includes("t0"), "the batch on its way arrived");
    const lost = sent.reduce((n, s) => n + (s.batch.dropped || 0), 0);
    assert.ok(lost > 0, "the queue overflowed");
    assert.equal(got.length + lost, Math.max(...got), "every event arrived or was counted lost, once");
    assert.deepEqual(errors, []);
  }));

test("leaving does not send again what a keepalive fetch carries", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const { page, errors, sent, release } = await slowEndpoint(browser);
    // (Not awaiting flush: it settles only once the held batch is answered.)
    await page.evaluate(() => void (ufse.track("first"), ufse.flush()));
    await until(() => sent.length == 1, "the first batch");
    // Queued behind it, then the page is hidden and left: the queue goes by beacon.
    await page.evaluate(() => {
      ufse.track("second");
      ufse.flush();
      dispatchEvent(new PageTransitionEvent("pagehide"));
    });
    await until(() => names(sent).includes("second"), "the beacon");
    await release();

    assert.equal(sent[0].type, "fetch");
    assert.deepEqual(
      sent.filter((s) => s.type == "ping").flatMap((s) => s.batch.events.map((e) => e.name)),
      ["second"],
      "the beacon carries only what no fetch was carrying"
    );
    // Taken as the page left, with no time for CompressionStream: gzipped
    // by the wasm core, at once.
    assert.ok(sent.filter((s) => s.type == "ping").every((s) => s.gz), "the beacon is gzipped");
    const got = seqs(sent);
    assert.equal(new Set(got).size, got.length, "no event twice");
    assert.deepEqual(errors, []);
  }));

test("a reload continues the session and its seq; no seq sent is above the stored mark", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const sent = [];
    const { page, errors } = await sdkPage(browser, (s, route) => (sent.push(s), accept(route)));
    await page.evaluate(() => {
      for (let i = 0; i < 5; i++) ufse.track(`a${i}`);
      return ufse.flush();
    });
    await until(() => names(sent).includes("a4"), "the first batch");
    // A page that dies now, without pagehide, must leave a mark at or past
    // every seq it sent, or the next page of the session would reuse them.
    const mark = await page.evaluate(() => JSON.parse(sessionStorage.getItem("ufse")).seq);
    assert.ok(mark >= Math.max(...seqs(sent)), `stored ${mark}, sent up to ${Math.max(...seqs(sent))}`);

    const before = seqs(sent);
    await page.reload();
    await page.evaluate(() => window.ready);
    await page.evaluate(() => (ufse.track("b"), ufse.flush()));
    await until(() => names(sent).includes("b"), "the batch after the reload");

    assert.equal(new Set(sent.map((s) => s.batch.sid)).size, 1, "one session");
    const after = seqs(sent).slice(before.length);
    assert.ok(after[0] > Math.max(...before), `seq ${after[0]} after the reload runs on`);
    // Left by pagehide, the page stored its exact seq, not the mark.
    assert.ok(after[0] < mark, `seq ${after[0]} after the reload, mark ${mark}`);
    assert.deepEqual(errors, []);
  }));

test("an event stamped in the past does not make a session look idle", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const sent = [];
    // The page's clock, moved by the test; a long task is stamped by the
    // real one (performance.timeOrigin), so it falls 20 minutes behind.
    const { page, errors } = await clockPage(browser, sent);
    await page.evaluate(() => {
      advance(20 * 60e3);
      ufse.track("a");
      // A long task (one the page runs itself: what the test evaluates
      // does not count as one).
      setTimeout(() => {
        const end = performance.now() + 80;
        while (performance.now() < end);
      });
    });
    await page.evaluate(() => new Promise((r) => setTimeout(r, 500)));
    await page.evaluate(() => {
      advance(20 * 60e3);
      ufse.track("b");
      return ufse.flush();
    });
    await until(() => names(sent).includes("b"), "the batch");
    const events = sent.flatMap((s) => s.batch.events);
    assert.ok(events.some((e) => e.t == "longtask"), "the long task was recorded");
    // 20 minutes between a and b: one session, though the long task's
    // stamp is 40 minutes before b.
    assert.equal(new Set(sent.map((s) => s.batch.sid)).size, 1);
    assert.deepEqual(errors, []);
  }));

test("a session that begins on a page (the last went idle) begins with a nav of it", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const sent = [];
    const { page, errors } = await clockPage(browser, sent);
    await page.evaluate(() => {
      history.pushState(null, "", "/cart?id=7");
      ufse.track("a");
      advance(31 * 60e3);
      ufse.track("b");
      // Idle again, then a route change: it is the new session's nav.
      advance(31 * 60e3);
      history.pushState(null, "", "/pay");
      return ufse.flush();
    });
    await until(() => sent.length == 3, "three sessions' batches");
    const sids = [...new Set(sent.map((s) => s.batch.sid))];
    assert.equal(sids.length, 3, "each idle session ended");
    // Events default to the session's last nav: each new one has its own.
    const of = (sid) => sent.filter((s) => s.batch.sid == sid).flatMap((s) => s.batch.events);
    assert.deepEqual(of(sids[1]).map((e) => [e.t, e.nav, e.url, e.name, e.seq]), [
      ["nav", "load", "http://sdk.test/cart", undefined, 1],
      ["custom", undefined, undefined, "b", 2],
    ]);
    assert.deepEqual(of(sids[2]).map((e) => [e.t, e.nav, e.url, e.seq]), [["nav", "push", "http://sdk.test/pay", 1]]);
    assert.deepEqual(errors, []);
  }));

test("a page back from the back/forward cache goes on past the seqs its session's next page sent", { timeout: 60_000 }, () =>
  withBrowser(
    async (browser) => {
      const sent = [];
      const { page, errors } = await sdkPage(browser, (s, route) => (sent.push(s), accept(route)));
      await page.evaluate(() => (window.first = "first page"));
      await page.evaluate(() => (ufse.track("a"), ufse.flush()));
      // The next page of the session, in the same tab, then back.
      await page.goto("http://sdk.test/?next");
      await page.evaluate(() => window.ready);
      await page.evaluate(() => (ufse.track("b"), ufse.track("b"), ufse.flush()));
      await until(() => names(sent).includes("b"), "the next page's batch");
      // (A page restored from the cache fires no load.)
      await page.goBack({ waitUntil: "commit" });
      assert.equal(await page.evaluate(() => window.first), "first page", "restored from the cache, not loaded again");
      await page.evaluate(() => (ufse.track("c"), ufse.flush()));
      await until(() => names(sent).includes("c"), "the batch after coming back");

      assert.equal(new Set(sent.map((s) => s.batch.sid)).size, 1, "one session");
      const got = seqs(sent);
      assert.equal(new Set(got).size, got.length, `no seq twice: ${got}`);
      const events = sent.flatMap((s) => s.batch.events);
      const bs = events.filter((e) => e.name == "b").map((e) => e.seq);
      const back = events.slice(events.findIndex((e) => e.nav == "pop"));
      assert.deepEqual(back.map((e) => e.t), ["nav", "custom"], "back: a pop, then c");
      assert.ok(back[0].seq > Math.max(...bs), `seq ${back[0].seq} after ${bs}`);
      // Each page's beacon as it left: Playwright does not route requests
      // of a page navigating away, so they met the real (unresolvable) host.
      assert.deepEqual(errors.filter((e) => !/ERR_NAME_NOT_RESOLVED/.test(e)), []);
    },
    { bfcache: true }
  ));

/** What the page logged but the 503s the test answered. */
const unexpected = (errors) => errors.filter((e) => !/status of 503/.test(e));

test("a batch waiting out a Retry-After goes by beacon if the page leaves", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const sent = [];
    const { page, errors } = await sdkPage(browser, (s, route) => {
      sent.push(s);
      if (s.type != "fetch") return accept(route);
      route.fulfill({ status: 503, headers: { "retry-after": "60" }, body: "{}" });
    });
    await page.evaluate(() => void (ufse.track("wait"), ufse.flush()));
    await until(() => sent.length == 1, "the refused batch");
    // Not on its way while it waits: leaving sends it.
    await page.evaluate(() => dispatchEvent(new PageTransitionEvent("pagehide")));
    await until(() => sent.some((s) => s.type == "ping" && names([s]).includes("wait")), "the beacon");
    assert.deepEqual(unexpected(errors), []);
  }));

test("a keepalive fetch on its way as the page hides, then refused, is sent again", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const sent = [];
    let held;
    const { page, errors } = await sdkPage(browser, (s, route) => {
      sent.push(s);
      if (!held) held = route;
      else accept(route);
    });
    await page.evaluate(() => void (ufse.track("first"), ufse.flush()));
    await until(() => held, "the first batch");
    // Hidden (a tab switch): the fetch carries it, no beacon does.
    await page.evaluate(() => dispatchEvent(new PageTransitionEvent("pagehide")));
    await held.fulfill({ status: 503, headers: { "retry-after": "0" }, body: "{}" });
    await until(() => sent.filter((s) => names([s]).includes("first")).length == 2, "the batch again");
    assert.deepEqual(sent.map((s) => s.type), ["fetch", "fetch"]);
    assert.deepEqual(unexpected(errors), []);
  }));

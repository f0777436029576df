// The single-file build (dist/ufse.min.js, wasm inlined) in headless
// Chromium: loaded by a plain script tag, under a Content-Security-Policy
// that allows only 'self' and 'wasm-unsafe-eval', it records a click and a
// custom event and sends them, gzipped, to the endpoint. The page and the
// endpoint are served by request interception; no server is needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { accept, sdkPage, withBrowser } from "../browser.mjs";

test("the script-tag build records and sends under a strict CSP", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const batches = [];
    const { page, errors } = await sdkPage(browser, (sent, route) => (batches.push(sent), accept(route)));
    await page.click("#go");
    await page.evaluate(() => {
      ufse.track("paid", { amount: 42 });
      // Props with no JSON, or JSON but no object (the server would drop
      // the whole event): the event goes without them.
      ufse.track("fn", () => 1);
      ufse.track("symbol", Symbol("s"));
      ufse.track("list", [1, 2]);
      ufse.track("word", "paid");
      return ufse.flush();
    });
    assert.deepEqual(errors, []);
    const events = batches.flatMap((b) => b.batch.events);
    assert.deepEqual(events.filter((e) => e.t == "custom").map((e) => [e.name, "props" in e]), [
      ["paid", true],
      ["fn", false],
      ["symbol", false],
      ["list", false],
      ["word", false],
    ]);
    assert.equal(batches[0].key, "uk_test");
    assert.ok(batches.every((b) => b.gz), "gzipped with CompressionStream");
    const click = events.find((e) => e.t == "click");
    assert.equal(click.sel, "html > body > button#go.btn");
    assert.equal(click.txt, "Pay ## now");
    assert.deepEqual(events.find((e) => e.t == "custom").props, { amount: 42 });
    assert.equal(events.find((e) => e.t == "nav").nav, "load");
  }));

test("privacy: labels masked but where allowed, no query string but allowed parameters", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const batches = [];
    const body = `<button id="mail" aria-label="  Mail
      ann@shop.test about order 12 "></button><button id="plain">Order  12</button>
      <a id="next" href="/list?page=2&token=secret#access_token=abc">Next 3</a><input id="q">
      <input id="send" type="submit" value="Send 2"><input id="role" role="button" value="hunter2">
      <button id="who"><span data-ufse-ignore>Ann Lee</span> Edit</button><button id="pay">Pay<span hidden>s3cret</span> now</button>
      <label id="size">Size <select><option>Carol</option></select></label><select id="pick"><option>Dave</option></select>`;
    const options = { allowQuery: ["page"], allowText: "#plain" };
    const { page, errors } = await sdkPage(browser, (sent, route) => (batches.push(sent), accept(route)), { body, options });
    for (const id of ["#mail", "#plain", "#next", "#send", "#role", "#pay", "#size", "#pick"]) await page.click(id);
    // On the button, not on its ignored part.
    await page.evaluate(() => document.getElementById("who").click());
    await page.fill("#q", "secret typed");
    await page.evaluate(async () => {
      history.pushState(null, "", "/search?q=shoes&page=3#x=1");
      dispatchEvent(new ErrorEvent("error", { message: "no file" }));
      const stack = "Error: in a file\n    at pay (https://cdn.test/app.js?v=3&token=t:10:5)";
      dispatchEvent(new ErrorEvent("error", { message: "in a file", filename: "https://cdn.test/app.js?v=3&token=t", error: { stack } }));
      // An image that fails to load: no error of the page's code.
      const img = document.body.appendChild(new Image());
      await new Promise((r) => ((img.onerror = r), (img.src = "data:image/png;base64,AAAA")));
      return ufse.flush();
    });
    assert.deepEqual(errors, []);
    const events = batches.flatMap((b) => b.batch.events);
    const clicks = events.filter((e) => e.t == "click");
    assert.deepEqual(
      clicks.slice(0, 6).map((e) => [e.sel, e.txt]),
      [
        ["html > body > button#mail", "Mail [email] about order ##"],
        ["html > body > button#plain", "Order 12"],
        ["html > body > a#next", "Next #"],
        // A button's value is its label; a field's value never is.
        ["html > body > input#send", "Send #"],
        ["html > body > input#role", undefined],
        // The text shown: none hidden.
        ["html > body > button#pay", "Pay now"],
      ]
    );
    // No label from around an ignored subtree, or from a select's options
    // (their text is its value).
    assert.deepEqual(clicks.find((e) => e.sel == "html > body > button#who").txt, undefined);
    assert.ok(clicks.length > 7 && clicks.slice(6).every((e) => !("txt" in e)), JSON.stringify(clicks.slice(6)));
    assert.equal(clicks[2].el.href, "http://sdk.test/list?page=2");
    assert.deepEqual(
      events.filter((e) => e.t == "nav").map((e) => [e.nav, e.url]),
      [["load", "http://sdk.test/"], ["push", "http://sdk.test/search?page=3"]]
    );
    assert.deepEqual(
      events.filter((e) => e.t == "error").map((e) => [e.msg, e.src, e.stack]),
      [
        ["no file", undefined, undefined],
        ["in a file", "https://cdn.test/app.js", "Error: in a file\n    at pay (https://cdn.test/app.js:10:5)"],
      ]
    );
    const sent = JSON.stringify(batches.map((b) => b.batch));
    for (const secret of ["secret", "ann@", "token", "shoes", "hunter2", "s3cret", "Ann Lee", "Carol", "Dave"]) assert.ok(!sent.includes(secret), `${secret} was sent`);
    assert.ok(events.some((e) => e.t == "input" && e.sel == "html > body > input#q"));
  }));

test("what the page hands the SDK never makes it throw; what it cannot record is counted", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const batches = [];
    const { page, errors } = await sdkPage(browser, (sent, route) => (batches.push(sent), accept(route)));
    const thrown = await page.evaluate(async () => {
      // A rejection with a string for a reason: recorded; one whose reason
      // has no string form: dropped, and counted.
      Promise.reject("timed out");
      Promise.reject(Object.assign(Object.create(null), { code: 42 }));
      await new Promise((r) => setTimeout(r, 50));
      const thrown = [];
      const cyclic = {};
      cyclic.self = cyclic;
      const unreadable = () => {
        // An error whose stack throws as it is read: dropped, and counted.
        dispatchEvent(new ErrorEvent("error", { message: "m", error: { get stack() { throw new Error("no"); } } }));
        // Props JSON cannot hold: dropped, and counted.
        ufse.track("bigint", { n: 1n });
        ufse.track("cyclic", cyclic);
      };
      try {
        unreadable();
      } catch (e) {
        thrown.push(String(e));
      }
      ufse.track("after");
      await ufse.flush();
      return thrown;
    });
    assert.deepEqual(thrown, []);
    // The page reports its own unhandled rejections.
    assert.deepEqual(errors, ["timed out", "Object"]);
    const events = batches.flatMap((b) => b.batch.events);
    assert.deepEqual(events.filter((e) => e.t == "error").map((e) => [e.kind, e.msg]), [["rejection", "timed out"]]);
    assert.deepEqual(events.filter((e) => e.t == "custom").map((e) => e.name), ["after"]);
    assert.equal(batches.reduce((n, b) => n + (b.batch.dropped || 0), 0), 4);
    // Nothing unfinished went out: seqs run on without a gap.
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
  }));

test("with respectDnt, a browser sending Do Not Track is not observed", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const batches = [];
    // As a browser with Do Not Track on says it.
    const before = () => Object.defineProperty(Navigator.prototype, "doNotTrack", { get: () => "1" });
    const onBatch = (sent, route) => (batches.push(sent), accept(route));
    const { page, errors } = await sdkPage(browser, onBatch, { before, options: { respectDnt: true } });
    await page.click("#go");
    await page.evaluate(() => (ufse.track("x"), ufse.flush()));
    assert.deepEqual(errors, []);
    assert.deepEqual(batches, [], "nothing sent");
  }));

test("init without a key or an endpoint rejects, saying so", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const { page, errors } = await sdkPage(browser, (sent, route) => accept(route));
    // Whether the SDK runs already or not.
    const answers = await page.evaluate(async () => {
      const tries = () => [undefined, {}, { key: "uk_test" }, { endpoint: location.origin }];
      const answer = (o) => ufse.init(o).then(() => "started", (e) => `${e.name}: ${e.message}`);
      const running = await Promise.all(tries().map(answer));
      await ufse.shutdown();
      return [...running, ...(await Promise.all(tries().map(answer)))];
    });
    assert.deepEqual(errors, []);
    assert.deepEqual(answers, Array(8).fill("TypeError: ufse.init: key and endpoint are required"));
  }));

test("init with a selector the browser cannot parse rejects, and no click throws", { timeout: 60_000 }, () =>
  withBrowser(async (browser) => {
    const batches = [];
    const { page, errors } = await sdkPage(browser, (sent, route) => (batches.push(sent), accept(route)));
    const answers = await page.evaluate(async () => {
      await ufse.shutdown();
      const endpoint = location.origin;
      const answer = (o) => ufse.init({ key: "uk_test", endpoint, ...o }).then(() => "started", (e) => e.name);
      const bad = [await answer({ ignore: ".private[" }), await answer({ allowText: "#plain >" })];
      // Stopped still: this click is not recorded, and nothing throws.
      document.getElementById("go").click();
      return [...bad, await answer({ ignore: ".private", allowText: "" })];
    });
    await page.click("#go");
    await page.evaluate(() => ufse.flush());
    assert.deepEqual(errors, []);
    assert.deepEqual(answers, ["SyntaxError", "SyntaxError", "started"]);
    const clicks = batches.flatMap((b) => b.batch.events).filter((e) => e.t == "click");
    assert.equal(clicks.length, 1, "the click after the good init, only");
  }));

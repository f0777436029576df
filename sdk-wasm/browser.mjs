// A real `ufse serve --demo` and a headless Chromium, for the end-to-end
// test (test/e2e.test.mjs) and the browser-recorded corpus
// (corpus/record.mjs); and a page with the single-file build whose
// endpoint the test answers itself (test/single-file.test.mjs,
// test/delivery.test.mjs). Needs the binary (target/debug/ufse, which
// `cargo test` and `cargo build -p ufse-cli` build, or $UFSE_BIN), the built SDK (build.sh), Debian's chromium ($CHROMIUM) and
// playwright-core (npm ci).
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { gunzipSync } from "node:zlib";
import { chromium } from "playwright-core";

export const root = new URL("../", import.meta.url).pathname;
export const bin = process.env.UFSE_BIN || join(root, "target/debug/ufse");

/** Starts `ufse serve --demo` on free ports in a fresh data directory, with `env` added to its environment. */
export async function startDemo(env = {}) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build it (cargo build -p ufse-cli) or set UFSE_BIN`);
  const data = mkdtempSync(join(tmpdir(), "ufse-demo-"));
  const args = ["serve", "--data-dir", data, "--listen", "127.0.0.1:0"];
  args.push("--demo", "--demo-listen", "127.0.0.1:0", "--demo-dir", join(root, "sdk-wasm"));
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  // The server's log, shown only if it stops early.
  const log = [];
  createInterface({ input: child.stderr }).on("line", (l) => log.push(l) > 200 && log.shift());
  const early = (code) => new Error(`ufse serve exited with ${code}:\n${log.join("\n")}`);
  const url = await new Promise((resolve, reject) => {
    child.on("exit", (code) => reject(early(code)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^demo shop on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
  });
  return {
    url,
    data,
    /** Runs `ufse ARGS` on this server's data, project demo. */
    ufse: (...a) => execFileSync(bin, [...a, "--data-dir", data, "--project", "demo"], { encoding: "utf8" }),
    /** Runs `ufse ARGS` on this server's data (for commands without `--project`). */
    ufseAll: (...a) => execFileSync(bin, [...a, "--data-dir", data], { encoding: "utf8" }),
    /** Stops the server (SIGTERM, waiting for it) and removes its data. */
    async stop() {
      if (child.exitCode === null) {
        child.removeAllListeners("exit");
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** The fake Linear (`ufse-fakes linear`, which `cargo test` builds), for
 *  team `team` and key `key`; `null` where it cannot start (no binary, or
 *  no Linear schema in ../shared/fixtures). Stopped with `stop()`. */
export async function startFakeLinear(key, team) {
  const fakes = join(root, "target/debug/ufse-fakes");
  if (!existsSync(fakes)) return null;
  const child = spawn(fakes, ["linear", "--listen", "127.0.0.1:0", "--key", key, "--team", team], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve) => {
    child.on("exit", () => resolve(null));
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
  });
  if (!url) return null;
  return { url, stop: () => child.kill("SIGKILL") };
}

/** Headless Chromium with the flags this machine needs; `bfcache` keeps
 *  the back/forward cache, which Playwright turns off by default. */
export function launch({ bfcache = false } = {}) {
  return chromium.launch({
    ignoreDefaultArgs: bfcache ? ["--disable-back-forward-cache"] : [],
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Runs `f` with a fresh headless Chromium (`launch(options)`), closed
 *  afterwards whatever happens. */
export async function withBrowser(f, options) {
  const browser = await launch(options);
  try {
    return await f(browser);
  } finally {
    await browser.close();
  }
}

const html = (body) => `<!doctype html><html><head>
<meta http-equiv="Content-Security-Policy" content="script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'">
</head><body>${body}
<script src="/ufse.min.js"></script><script src="/start.js"></script></body></html>`;
// Links do not navigate, so a test can click them.
const start = (options) => `window.ready = ufse.init(Object.assign({ key: "uk_test", endpoint: location.origin }, ${JSON.stringify(options)}));
addEventListener("click", (e) => e.target.closest("a") && e.preventDefault());`;

/** Answers a batch as the server does when it takes it whole. */
export const accept = (route) => route.fulfill({ status: 202, body: '{"accepted":1,"dropped":[],"truncated":[]}' });

/**
 * Opens http://sdk.test/ in `browser`: `body` (a button by default), the
 * single-file build (dist/ufse.min.js) loaded by a script tag under a
 * strict CSP, and `ufse.init` done with the key, the endpoint and `options`;
 * `before` (a function) runs in the page before anything else. Everything is served by request interception; each
 * batch the SDK sends is handed, parsed, to `onBatch(sent, route)`, which
 * answers it (or holds it). `sent` is `{ gz, key, type, batch }`, `type`
 * being Chromium's resource type (`fetch`, or `ping` for a beacon).
 * Returns the page and the errors it logged.
 */
export async function sdkPage(browser, onBatch, { body = '<button id="go" class="btn">Pay 42 now</button>', options = {}, before } = {}) {
  const page = await browser.newPage();
  if (before) await page.addInitScript(before);
  await page.route("http://sdk.test/**", (route) => {
    const req = route.request();
    const url = new URL(req.url());
    if (url.pathname == "/v1/batch") {
      const body = req.postDataBuffer();
      const gz = body[0] == 0x1f;
      const batch = JSON.parse((gz ? gunzipSync(body) : body).toString());
      return onBatch({ gz, key: url.searchParams.get("key"), type: req.resourceType(), batch }, route);
    }
    const files = {
      "/": [html(body), "text/html"],
      "/start.js": [start(options), "text/javascript"],
      "/ufse.min.js": [readFileSync(join(root, "sdk-wasm/dist/ufse.min.js")), "text/javascript"],
    };
    const f = files[url.pathname];
    return f ? route.fulfill({ status: 200, contentType: f[1], body: f[0] }) : route.fulfill({ status: 404 });
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() == "error" && errors.push(m.text()));
  await page.goto("http://sdk.test/");
  await page.evaluate(() => window.ready);
  return { page, errors };
}

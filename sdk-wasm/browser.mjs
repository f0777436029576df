// A real `ufse serve --demo` and a headless Chromium, for the end-to-end
// test (test/e2e.test.mjs) and the browser-recorded corpus
// (corpus/record.mjs). Needs the binary (target/debug/ufse, which
// `cargo test` and `cargo build -p ufse-cli` build, or $UFSE_BIN), the built SDK (build.sh), Debian's chromium ($CHROMIUM) and
// playwright-core (npm ci).
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

export const root = new URL("../", import.meta.url).pathname;
export const bin = process.env.UFSE_BIN || join(root, "target/debug/ufse");

/** Starts `ufse serve --demo` on free ports in a fresh data directory. */
export async function startDemo() {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build it (cargo build -p ufse-cli) or set UFSE_BIN`);
  const data = mkdtempSync(join(tmpdir(), "ufse-demo-"));
  const args = ["serve", "--data-dir", data, "--listen", "127.0.0.1:0"];
  args.push("--demo", "--demo-listen", "127.0.0.1:0", "--demo-dir", join(root, "sdk-wasm"));
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
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

/** Headless Chromium with the flags this machine needs. */
export function launch() {
  return chromium.launch({
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

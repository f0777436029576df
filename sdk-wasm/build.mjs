// Second half of build.sh: minifies the glue into the ES module and the
// single-file builds, and checks the size budget.
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { minify } from "terser";

/** The ES module build (glue) and wasm, gzipped and summed, at most this. */
export const BUDGET = 6 * 1024;

const src = readFileSync("js/ufse.js", "utf8");
const wasm = readFileSync("dist/ufse.wasm");
const WASM_LINE = /^const WASM = new URL\("ufse.wasm", import.meta.url\);$/m;
if (!WASM_LINE.test(src)) throw new Error("js/ufse.js: the WASM line the single-file build replaces is missing");

const options = { ecma: 2020, compress: { passes: 2 }, mangle: true, format: { comments: false } };
const esm = await minify(src, { ...options, module: true });
writeFileSync("dist/ufse.js", esm.code);

// The script-tag build: no module syntax, the wasm as base64, the API on `window.ufse`.
const script = src
  .replace(WASM_LINE, `const WASM = Uint8Array.from(atob("${wasm.toString("base64")}"), (c) => c.charCodeAt(0));`)
  .replace(/^export (async )?function/gm, "$1function");
const single = await minify(`(() => {${script}\nwindow.ufse = { init, track, identify, flush, shutdown };\n})();`, options);
writeFileSync("dist/ufse.min.js", single.code);

const gz = (b) => gzipSync(b, { level: 9 }).length;
const sizes = { glue: gz(esm.code), wasm: gz(wasm), single: gz(single.code) };
console.log(
  `sdk sizes, gzipped: ufse.js ${sizes.glue} B + ufse.wasm ${sizes.wasm} B = ${sizes.glue + sizes.wasm} B ` +
    `(budget ${BUDGET}); single-file ufse.min.js ${sizes.single} B`
);
writeFileSync("dist/sizes.json", JSON.stringify(sizes) + "\n");

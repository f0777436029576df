// UFSE browser SDK: the glue between browser APIs and the wasm core.
//
// The core (src/lib.rs) owns the bytes: the event buffer, seq numbers,
// selector and label building, truncation, JSON and batch sizing. This
// file only hooks browser APIs, passes their strings and numbers in, and
// moves finished batches out. No dependencies, no bundler runtime.
//
// Names and kinds are passed to the core by index (NAMES in src/lib.rs).

// Kinds.
const NAV = 0, CLICK = 1, INPUT = 2, SUBMIT = 3, SELECT = 4, SCROLL = 5, MUTATION = 6, MOVE = 7,
  ERROR = 8, NET = 9, VIS = 10, LONGTASK = 11, CUSTOM = 12;
// Fields.
const F_URL = 13, F_NAV = 14, F_X = 15, F_Y = 16, F_SEL = 17, F_EL = 18, F_TXT = 19, F_TAG = 20,
  F_TYPE = 21, F_HREF = 22, F_TARGET = 23, F_DOWNLOAD = 24, F_EDITABLE = 25, F_IN_LINK = 26, F_VH = 27,
  F_N = 28, F_MSG = 29, F_SRC = 30, F_LINE = 31, F_COL = 32, F_STACK = 33, F_KIND = 34, F_METHOD = 35,
  F_STATUS = 36, F_DUR = 37, F_STATE = 38, F_NAME = 39, F_PROPS = 40;
// String modes and envelope slots.
const PLAIN = 0, LABEL = 1, URL_MODE = 2, LABEL_AS_IS = 3;
const SID = 0, UID = 1, CTX = 2, ALLOW_QUERY = 3;

const IDLE_MS = 30 * 60e3, MAX_AGE_MS = 24 * 3600e3, FLUSH_MS = 5e3, QUOTA = 65536;
const MAX_QUEUE = 30; // batches held while offline or failing
const STORE_KEY = "ufse";
const CLICKABLE = "a,button,input[type=button],input[type=submit],[role=button],summary,label,select";

// The wasm module's exports and what the SDK was given.
let X, cfg, store, session, timer, stopped = true;
const enc = new TextEncoder();
const queue = []; // [{ body: Uint8Array, n: events }]
let inflight = 0, sending = false, backoff = 0;

const now = () => Date.now();

let input; // a view of the core's input area, made once
/** Writes `s` into the core's input area; returns its UTF-8 length. */
function put(s) {
  if (!input || input.buffer != X.memory.buffer) input = new Uint8Array(X.memory.buffer, X.input(), 16384);
  return enc.encodeInto(String(s), input).written;
}

const str = (f, s, mode = PLAIN) => s != null && s !== "" && X.str(f, put(s), mode);
const num = (f, v) => typeof v == "number" && isFinite(v) && X.num(f, v);

/** Records one event of kind `k`; `fill` adds its fields. */
function record(k, fill, ts = now()) {
  if (stopped) return;
  touch(ts);
  X.ev(k, ts);
  fill && fill();
  if (X.done() == 1) flush();
}

// ---- Sessions -------------------------------------------------------

function randomId() {
  const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(26)), (b) => a[b % 62]).join("");
}

function openStore() {
  for (const s of ["sessionStorage", "localStorage"]) {
    try {
      const st = window[s];
      st.setItem(STORE_KEY + "_t", "1");
      st.removeItem(STORE_KEY + "_t");
      return st;
    } catch {}
  }
}

function save() {
  if (!session) return;
  session.seq = X.seq();
  try {
    store && store.setItem(STORE_KEY, JSON.stringify(session));
  } catch {}
}

/** Starts a new session, or rotates it after 30 min idle or 24 h of age. */
function touch(t) {
  if (session && t - session.last < IDLE_MS && t - session.start < MAX_AGE_MS) {
    session.last = t;
    return;
  }
  if (session) flush();
  session = { id: randomId(), start: t, last: t, seq: 0 };
  X.set(SID, put(session.id));
  X.set_seq(0);
  // Kept at once: a reload before the first batch continues this session.
  save();
}

function resume() {
  let s;
  try {
    s = JSON.parse(store.getItem(STORE_KEY));
  } catch {}
  const t = now();
  if (s && s.id && t - s.last < IDLE_MS && t - s.start < MAX_AGE_MS) {
    session = s;
    X.set(SID, put(s.id));
    X.set_seq(s.seq || 0);
  } else touch(t);
}

// ---- Delivery -------------------------------------------------------

/** The ingest URL, with the key in the query string: no custom header,
 *  so no CORS preflight, and `sendBeacon` can use it too. */
function target() {
  return cfg.endpoint.replace(/\/$/, "") + "/v1/batch?key=" + encodeURIComponent(cfg.key);
}

/** Takes the events so far out of the core as one batch. */
function take() {
  const n = X.pending();
  const len = X.batch(now());
  if (!len) return;
  save();
  return { body: new Uint8Array(X.memory.buffer, X.out(), len).slice(), n };
}

async function gzip(bytes) {
  if (typeof CompressionStream != "function") return bytes;
  try {
    const s = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
    return new Uint8Array(await new Response(s).arrayBuffer());
  } catch {
    return bytes;
  }
}

function enqueue(b) {
  if (!b) return;
  queue.push(b);
  // Over the bound the oldest batch goes, unless it is on its way.
  while (queue.length > MAX_QUEUE) X.lost(queue.splice(queue[0].f ? 1 : 0, 1)[0].n);
}

/** Sends what is queued, one batch at a time, retrying with backoff. */
async function pump() {
  if (sending) return;
  sending = true;
  try {
    while (queue.length && navigator.onLine !== false) {
      const b = queue[0];
      // On its way (a full queue drops others); 2 once a keepalive fetch
      // carries it, which the browser finishes even if the page goes.
      b.f = 1;
      const body = b.gz || (b.gz = await gzip(b.body));
      const keepalive = inflight + body.length <= QUOTA;
      let wait = 0;
      inflight += keepalive ? body.length : 0;
      if (keepalive) b.f = 2;
      try {
        const r = await origFetch(target(), { method: "POST", body, keepalive, credentials: "omit" });
        if (r.status == 429 || r.status >= 500) {
          wait = (+r.headers.get("Retry-After") || 0) * 1e3;
          throw 0;
        }
        // Delivered, or refused for good (4xx): either way it is done. By
        // identity: a hidden page may have sent the queue by beacon meanwhile.
        const i = queue.indexOf(b);
        if (i >= 0) queue.splice(i, 1);
        backoff = 0;
      } catch {
        backoff = Math.min(backoff ? backoff * 2 : 1e3, 60e3);
        await new Promise((r) => setTimeout(r, Math.max(wait, backoff * (0.5 + Math.random() / 2))));
      } finally {
        b.f = 0;
        inflight -= keepalive ? body.length : 0;
      }
    }
  } finally {
    sending = false;
  }
}

/** Sends the events so far (the API's `flush`). */
export function flush() {
  if (!X) return;
  enqueue(take());
  return pump();
}

/** The page is going away: everything left goes by beacon, uncompressed
 *  where compression would not finish in time. */
function leave() {
  if (stopped) return;
  enqueue(take());
  for (const b of queue.splice(0)) {
    // A keepalive fetch on its way outlives the page: sending it again
    // would only take beacon quota the rest needs.
    if (b.f > 1) continue;
    const body = b.gz || b.body;
    if (!navigator.sendBeacon(target(), body)) X.lost(b.n);
  }
  save();
}

// ---- Observers ------------------------------------------------------

let ignore = "[data-ufse-ignore]";
/** Whether events on `el` are to be left out entirely. */
function ignored(el) {
  return !el || !el.closest || !!el.closest(ignore);
}

/** The element levels of a `sel`, nearest first, one per line: "tag id
 *  class class class" (the core builds and bounds the selector). */
function levels(el) {
  let out = "";
  for (let i = 0; el && i < 5; i++, el = el.parentElement) {
    const c = el.classList;
    out += (i ? "\n" : "") + el.localName + " " + el.id + " " + (c[0] || "") + " " + (c[1] || "") + " " + (c[2] || "");
  }
  return out;
}

function sel(el) {
  X.sel(F_SEL, put(levels(el)));
}

function onClick(e) {
  const el = e.target && e.target.nodeType == 1 ? e.target : e.target && e.target.parentElement;
  if (ignored(el)) return;
  record(CLICK, () => {
    num(F_X, e.clientX);
    num(F_Y, e.clientY);
    sel(el);
    X.open(F_EL);
    str(F_TAG, el.localName);
    str(F_TYPE, (el.getAttribute("type") || "").toLowerCase());
    str(F_HREF, el.getAttribute("href"), URL_MODE);
    str(F_TARGET, el.getAttribute("target"));
    X.flag(F_DOWNLOAD, el.hasAttribute("download"));
    X.flag(F_EDITABLE, !!el.isContentEditable);
    X.flag(F_IN_LINK, !!el.closest("a[href]"));
    X.close();
    const c = el.closest(CLICKABLE);
    if (c) {
      const label = c.getAttribute("aria-label") || (/^(button|submit)$/.test(c.type) && c.localName == "input" ? c.value : c.textContent);
      str(F_TXT, (label || "").slice(0, 256), cfg.allowText && c.matches(cfg.allowText) ? LABEL_AS_IS : LABEL);
    }
  });
}

let lastInput, lastInputAt = 0;
function onInput(e) {
  const el = e.target, t = now();
  if (ignored(el) || (el == lastInput && t - lastInputAt < 1e3)) return;
  lastInput = el;
  lastInputAt = t;
  record(INPUT, () => sel(el), t);
}

function onSubmit(e) {
  if (!ignored(e.target)) record(SUBMIT, () => sel(e.target));
}

/** At most one call per `ms`, the last one kept (trailing edge). */
function throttle(ms, f) {
  let at = 0, t;
  return () => {
    const wait = at + ms - now();
    if (wait <= 0) {
      at = now();
      f();
    } else if (!t) t = setTimeout(() => ((t = 0), (at = now()), f()), wait);
  };
}

let moveAt = 0;
function onMove(e) {
  const t = now();
  if (t - moveAt < 50) return;
  moveAt = t;
  record(MOVE, () => (num(F_X, e.clientX), num(F_Y, e.clientY)), t);
}

let mutations = 0, mutationAt = 0;
function onMutations(list) {
  if (!mutations) {
    mutationAt = now();
    (document.hidden ? setTimeout : requestAnimationFrame)(() => {
      const n = mutations;
      mutations = 0;
      record(MUTATION, () => num(F_N, n), mutationAt);
    });
  }
  mutations += list.length;
}

function onError(e) {
  const err = e.error || e.reason;
  const rejection = e.type == "unhandledrejection";
  record(ERROR, () => {
    str(F_MSG, rejection ? (err && err.message) || String(err) : e.message);
    if (!rejection) {
      str(F_SRC, e.filename, URL_MODE);
      num(F_LINE, e.lineno);
      num(F_COL, e.colno);
    }
    str(F_STACK, err && err.stack);
    str(F_KIND, rejection ? "rejection" : "error");
  });
}

let lastUrl;
function nav(type) {
  const url = location.href;
  if (url == lastUrl) return;
  // A change of the fragment alone is a `hash` whatever announced it.
  if (lastUrl && type != "replace" && url.split("#")[0] == lastUrl.split("#")[0]) type = "hash";
  lastUrl = url;
  record(NAV, () => (str(F_URL, url, URL_MODE), str(F_NAV, type)));
}

function netEvent(method, url, status, start) {
  url = String(new URL(url, location.href));
  if (url.startsWith(cfg.endpoint)) return;
  const t = now();
  record(NET, () => {
    str(F_METHOD, (method || "GET").toUpperCase());
    str(F_URL, url, URL_MODE);
    num(F_STATUS, status);
    num(F_DUR, t - start);
  }, t);
}

let origFetch;
function wrapNetwork() {
  origFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    const start = now();
    const method = (init && init.method) || (input && input.method);
    const url = input && input.url ? input.url : input;
    const p = origFetch(input, init);
    p.then((r) => netEvent(method, url, r.status, start), () => netEvent(method, url, 0, start));
    return p;
  };
  const XHR = XMLHttpRequest.prototype, open = XHR.open, send = XHR.send;
  XHR.open = function (method, url) {
    this._ufse = [method, url];
    return open.apply(this, arguments);
  };
  XHR.send = function () {
    const m = this._ufse, start = now();
    m && this.addEventListener("loadend", () => netEvent(m[0], m[1], this.status, start));
    return send.apply(this, arguments);
  };
}

function wrapHistory() {
  for (const [name, type] of [["pushState", "push"], ["replaceState", "replace"]]) {
    const orig = history[name];
    history[name] = function () {
      const r = orig.apply(this, arguments);
      nav(type);
      return r;
    };
  }
}

// ---- API ------------------------------------------------------------

/**
 * Starts the SDK. `key` and `endpoint` are required; options: `release`,
 * `uid`, `ignore` (CSS selectors whose subtrees are skipped), `allowText`
 * (CSS selectors of clickable elements whose labels go unmasked),
 * `allowQuery` (query parameters kept in URLs), `respectDnt`, `wasm` (the
 * module's URL, bytes or compiled module; defaults to ufse.wasm beside
 * this file).
 */
export async function init(options) {
  if (!stopped) return;
  cfg = Object.assign({}, options);
  if (cfg.ignore) ignore += "," + cfg.ignore;
  if (cfg.respectDnt && (navigator.doNotTrack == "1" || window.doNotTrack == "1")) return;
  const src = cfg.wasm || WASM;
  const bytes = typeof src == "string" || src instanceof URL ? await (await fetch(src)).arrayBuffer() : src;
  X = (await WebAssembly.instantiate(bytes, {})).instance.exports;
  if (X.exports) X = X.exports;
  store = openStore();
  X.set(CTX, put(JSON.stringify({ ua: navigator.userAgent, vw: innerWidth, vh: innerHeight, release: cfg.release })));
  X.set(ALLOW_QUERY, put((cfg.allowQuery || []).join(",")));
  cfg.uid && identify(cfg.uid);
  stopped = false;
  resume();
  wrapNetwork();
  wrapHistory();
  const on = (t, f, o) => addEventListener(t, f, Object.assign({ capture: true, passive: true }, o));
  on("click", onClick);
  on("input", onInput);
  on("submit", onSubmit);
  on("pointermove", onMove);
  on("error", onError);
  on("unhandledrejection", onError);
  on("popstate", () => nav("pop"));
  on("hashchange", () => nav("hash"));
  on("scroll", throttle(100, () => record(SCROLL, () => (num(F_Y, scrollY), num(F_VH, innerHeight)))));
  document.addEventListener("selectionchange", throttle(100, () => record(SELECT)), { passive: true });
  document.addEventListener("visibilitychange", () => {
    record(VIS, () => str(F_STATE, document.visibilityState == "hidden" ? "hidden" : "visible"));
    if (document.hidden) leave();
  });
  on("pagehide", leave);
  on("online", () => pump());
  new MutationObserver(onMutations).observe(document, { childList: true, subtree: true, attributes: true, characterData: true });
  try {
    new PerformanceObserver((l) =>
      l.getEntries().forEach((e) => record(LONGTASK, () => num(F_DUR, e.duration), performance.timeOrigin + e.startTime))
    ).observe({ type: "longtask", buffered: true });
  } catch {}
  const entry = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
  nav(entry && entry.type == "reload" ? "reload" : entry && entry.type == "back_forward" ? "pop" : "load");
  timer = setInterval(flush, FLUSH_MS);
}

/** Records an app-defined event. */
export function track(name, props) {
  record(CUSTOM, () => {
    str(F_NAME, name);
    if (props !== undefined) X.raw(F_PROPS, put(JSON.stringify(props)));
  });
}

/** Sets the user id sent with every batch from now on. */
export function identify(uid) {
  if (X) X.set(UID, put(uid == null ? "" : uid));
}

/** Sends what is left and stops observing (hooks stay, inert). */
export async function shutdown() {
  if (stopped) return;
  await flush();
  stopped = true;
  clearInterval(timer);
}

// Where the wasm module is, for the ES module build; the single-file
// build replaces this line with the module itself.
const WASM = new URL("ufse.wasm", import.meta.url);

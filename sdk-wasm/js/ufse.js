// UFSE browser SDK: the glue between browser APIs and the wasm core.
//
// The core (src/lib.rs) owns the bytes: the event buffer, seq numbers,
// truncation, JSON, batch sizing and gzip when there is no time for
// CompressionStream. This file hooks browser APIs, says what they saw as
// strings (a selector, a URL without its query, a masked label: the
// browser's URL and RegExp do that in a few bytes), passes them in, and
// moves finished batches out. No dependencies, no bundler runtime.
//
// Names and kinds are passed to the core by index (NAMES in src/lib.rs).

// Kinds.
const NAV = 0, CLICK = 1, INPUT = 2, SUBMIT = 3, SELECT = 4, SCROLL = 5, MUTATION = 6, MOVE = 7,
  ERROR = 8, NET = 9, VIS = 10, LONGTASK = 11, CUSTOM = 12;
// Fields (18 is `el`, which the core opens itself).
const F_URL = 13, F_NAV = 14, F_X = 15, F_Y = 16, F_SEL = 17, F_TXT = 19, F_TAG = 20,
  F_TYPE = 21, F_HREF = 22, F_TARGET = 23, F_DOWNLOAD = 24, F_EDITABLE = 25, F_IN_LINK = 26, F_VH = 27,
  F_N = 28, F_MSG = 29, F_SRC = 30, F_LINE = 31, F_COL = 32, F_STACK = 33, F_KIND = 34, F_METHOD = 35,
  F_STATUS = 36, F_DUR = 37, F_STATE = 38, F_NAME = 39, F_PROPS = 40;
// String modes and envelope slots.
const PLAIN = 0, LABEL = 1, SEL = 2;
const SID = 0, UID = 1, CTX = 2;

const IDLE_MS = 30 * 60e3, MAX_AGE_MS = 24 * 3600e3, FLUSH_MS = 5e3, QUOTA = 65536;
const MAX_QUEUE = 30; // batches held while offline or failing
const STORE_KEY = "ufse";
const CLICKABLE = "a,button,[type=button],[type=submit],[role=button],summary,label";

// The wasm module's exports and what the SDK was given.
// `target` is where batches go, `own` the same URL as a request to it is
// recorded (no key), so the SDK never records its own sends.
let X, module, cfg, store, session, timer, target, own, stopped = true;
// While observing: what removes the listeners, and the observers.
let hooks, observer, longtasks;
const enc = new TextEncoder();
const queue = []; // [{ body: Uint8Array, n: events }]
let sending = false, backoff = 0;

const now = () => Date.now();

// A view of the core's input area, where string arguments go.
let mem;
/** Writes `s` into the input area as UTF-8; returns its length. What
 *  does not fit is left out (the core truncates long strings anyway). */
const put = (s) => enc.encodeInto(s, mem).written;

const str = (f, s, mode = PLAIN) => s != null && X.str(f, put(s), mode);
// Numbers go to X.num as they are: the core leaves out NaN (from an
// `undefined`) and infinities.

// ---- Privacy rules ---------------------------------------------------

/** `u` made absolute, without its query string but for allowlisted
 *  parameters, and without a fragment that holds parameters (a token
 *  after `#`); "" if it is no URL. */
function clean(u) {
  try {
    u = new URL(u, location.href);
    for (const k of [...u.searchParams.keys()]) cfg.allowQuery?.includes(k) || u.searchParams.delete(k);
    if (u.hash.includes("=")) u.hash = "";
    return u.href;
  } catch {
    return "";
  }
}

/** A clickable element's label: trimmed, whitespace runs as one space,
 *  and unless the site allowlisted it, digits as `#` and words with an
 *  `@` (emails) as `[email]`. The core cuts it to 64 characters. */
function label(s, asIs) {
  s = s.trim().slice(0, 256).replace(/\s+/g, " ");
  return asIs ? s : s.replace(/\S*@\S*/g, "[email]").replace(/\d/g, "#");
}

/** Records one event of kind `k`; `fill` adds its fields. What the page
 *  gave may throw as it is read (a getter, props JSON cannot hold): the
 *  event is then counted as dropped, and the page's code goes on. */
function record(k, fill, ts = now()) {
  if (stopped) return;
  touch(ts);
  // A session begun on this page begins with a `nav` of it, unless this is one.
  k && lastUrl === 0 && nav("load");
  X.ev(k, ts);
  try {
    fill && fill();
  } catch {
    // The next event discards the unfinished one.
    return X.lost(1);
  }
  if (X.done() == 1) flush();
}

// ---- Sessions -------------------------------------------------------

/** A random session id: 128 bits, as four decimal numbers. */
function randomId() {
  return crypto.getRandomValues(new Uint32Array(4)).join("-");
}

/** Keeps the session, its `seq` reserved ahead: a page that dies without
 *  `pagehide` (a crash) leaves a mark no seq it sent has passed, so the
 *  next page of the session never reuses one. Reserving 10,000 at a time
 *  keeps the synchronous storage write off most batches. */
function save(ahead = 1e4) {
  session.seq = X.seq() + ahead;
  try {
    store.setItem(STORE_KEY, JSON.stringify(session));
  } catch {}
}

/** Continues the session `s` (the stored one, at start) or starts a new
 *  one when there is none, or it has been idle 30 min, or is 24 h old. */
function touch(t, s = session) {
  if (!(s?.id && t - s.last < IDLE_MS && t - s.start < MAX_AGE_MS)) {
    // One on this page ended: what it had goes, and the new one begins
    // with a `nav` of the page (record() sees to it), as events default
    // to its URL.
    if (session) flush(), (lastUrl = 0);
    s = { id: randomId(), start: t, seq: 0 };
  }
  // Events can be stamped in the past (a long task, the first of a group
  // of mutations): the session's last activity never goes back.
  s.last = Math.max(t, s.last || 0);
  if (s != session) {
    session = s;
    X.set(SID, put(s.id));
    X.set_seq(s.seq || 0);
    // Kept at once: a reload before the first batch continues this session.
    save();
  }
}

/** The session as stored; undefined if none can be read. */
function stored() {
  try {
    return JSON.parse(store.getItem(STORE_KEY));
  } catch {}
}

/** Back from the back/forward cache, or a hidden tab shown again: a page
 *  of this session that ran meanwhile (the tab's next page) may have sent
 *  seqs past this page's. They are skipped, not sent twice. */
function restore(s = stored()) {
  s?.id == session.id && s.seq > X.seq() && X.set_seq(s.seq);
}

// ---- Delivery -------------------------------------------------------

/** Takes the events so far out of the core as one batch. */
function take() {
  const n = X.pending();
  const len = X.batch(now());
  if (!len) return;
  if (X.seq() > session.seq) save();
  return { body: new Uint8Array(X.memory.buffer, X.out(), len).slice(), n };
}

/** `bytes` gzipped by the core, at once (a view into its memory, valid
 *  until the next call into it). */
function zip(bytes) {
  new Uint8Array(X.memory.buffer, X.zin(), bytes.length).set(bytes);
  return new Uint8Array(X.memory.buffer, X.zout(), X.gz(bytes.length));
}

/** `bytes` gzipped: by the browser's CompressionStream, off the event
 *  handler, where there is one; by the core otherwise. */
async function gzip(bytes) {
  try {
    // From a Response, not a Blob: a Blob is registered with the browser
    // process, which costs this main thread several times more.
    const s = new Response(bytes).body.pipeThrough(new CompressionStream("gzip"));
    return new Uint8Array(await new Response(s).arrayBuffer());
  } catch {
    return zip(bytes).slice();
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
    while (queue.length && navigator.onLine) {
      const b = queue[0];
      // On its way (a full queue drops others); 2 once a keepalive fetch
      // carries it, which the browser finishes even if the page goes.
      b.f = 1;
      const body = b.gz || (b.gz = await gzip(b.body));
      // One request at a time: it alone counts against the browser's 64 KiB
      // keepalive quota (a beacon sent meanwhile is the page leaving).
      const keepalive = body.length <= QUOTA;
      let wait = 0;
      if (keepalive) b.f = 2;
      try {
        const r = await origFetch(target, { method: "POST", body, keepalive });
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
        // No longer on its way: a page leaving meanwhile sends it by beacon.
        b.f = 0;
        backoff = Math.min(backoff ? backoff * 2 : 1e3, 60e3);
        await new Promise((r) => setTimeout(r, Math.max(wait, backoff * (0.5 + Math.random() / 2))));
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

/** The page is going away: everything left goes by beacon, now, so what
 *  CompressionStream has not compressed yet the core gzips at once. */
function leave() {
  if (stopped) return;
  enqueue(take());
  // A keepalive fetch on its way outlives the page: sending it again
  // would only take beacon quota the rest needs. It stays queued, to be
  // sent again if it fails while the page lives on, hidden.
  for (const b of queue.splice(0))
    b.f > 1 ? queue.push(b) : navigator.sendBeacon(target, b.gz || zip(b.body)) || X.lost(b.n);
  // The exact seq: the next page of the session continues without a gap.
  save(0);
}

// ---- Observers ------------------------------------------------------

// Subtrees not observed at all (init adds the `ignore` option's), and the
// options' selectors in lower case (an HTML attribute name in a selector
// matches in any case), where onMutations looks for attribute names.
let ignore, named;
/** The `sel` of `el` (DESIGN.md section 2): `tag#id.c1.c2.c3` for it and
 *  up to 4 ancestors, outermost first, " > " between them. The core keeps
 *  it within 512 bytes, dropping outer levels. */
function sel(el) {
  let s = "";
  for (let e = el, i = 0; e && i < 5; i++, e = e.parentElement) s = i ? level(e) + " > " + s : level(e);
  return s;
}

// Each element's own part of a selector, until its id or class changes
// (onMutations says when, and counts such changes in `levelsAt`).
let levels = new WeakMap(), levelsAt = 0;
function level(e) {
  let l = levels.get(e);
  if (l === undefined) {
    l = e.localName.toLowerCase() + (e.id ? "#" + e.id : "");
    // Its first three classes, as the browser parsed them for CSS.
    for (let i = 0, c; i < 3 && (c = e.classList[i]); i++) l += "." + c;
    levels.set(e, l);
  }
  return l;
}

// What the DOM says about an element, by element, until a change that
// could alter it (onMutations tells): rage clicks hit one element over
// and over. The mutation observer sees every change, and its pending
// records are taken first, so a change made just before a click is never
// missed.
let known = new WeakMap();

/** The facts of a click on `el`: `sel`, then `el`'s tag, type, href,
 *  target, download, editable and in_link, then the label; 0 when `el` is
 *  no element or is in an ignored subtree. */
function facts(el) {
  const r = observer.takeRecords();
  r.length && onMutations(r);
  if (!el?.closest) return 0;
  let f = known.get(el);
  if (f === undefined) {
    const c = el.closest(CLICKABLE), attr = (name) => el.getAttribute(name), href = attr("href");
    // An input's value is a label only on a button (role=button can be on any field).
    // Else its rendered text (innerText: no hidden element's), but none
    // from a select (its options) or from around an ignored subtree.
    const text = c && (c.getAttribute("aria-label") || (c.localName == "input" ? /^(button|submit)$/.test(c.type) && c.value : !c.querySelector(ignore + ",select") && c.innerText));
    // `sel` (index 0) is made below.
    f = !el.closest(ignore) && [
      ,
      el.localName.toLowerCase(),
      attr("type")?.toLowerCase(),
      href && clean(href),
      attr("target"),
      el.hasAttribute("download"),
      el.isContentEditable,
      !!el.closest("a[href]"),
      text && label(text, cfg.allowText && c.matches(cfg.allowText)),
    ];
    known.set(el, f);
  }
  // New, or made before an id or a class changed: the `sel` is made now,
  // the rest stands. A new array: `described` may be the old one.
  if (f && f.at !== levelsAt) {
    known.set(el, (f = [sel(el), ...f.slice(1)]));
    f.at = levelsAt;
  }
  return f;
}

// The facts the core last described a click with in full: a click with
// the same ones (a rage click, even with the DOM changing around it) has
// the core repeat what it wrote.
let described = [];
function onClick(e) {
  const f = facts(e.target?.nodeType == 1 ? e.target : e.target?.parentElement);
  f &&
    record(CLICK, () => {
      X.num(F_X, e.clientX);
      X.num(F_Y, e.clientY);
      if (X.el(f.every((v, i) => v === described[i]))) return;
      described = f;
      // tag, type, href, target, then download, editable, in_link: the
      // names are numbered in that order.
      for (let i = 1; i < 8; i++) (i < 5 ? str : X.flag)(F_TAG - 1 + i, f[i]);
      X.close();
      str(F_SEL, f[0], SEL);
      f[8] && str(F_TXT, f[8], LABEL);
    });
}

/** An `input` or `submit` on `el`: its `sel`. */
function field(k, el, t) {
  const f = facts(el);
  f && record(k, () => str(F_SEL, f[0], SEL), t);
}

let lastInput, lastInputAt = 0;
function onInput(e) {
  const el = e.target, t = now();
  if (el == lastInput && t - lastInputAt < 1e3) return;
  lastInput = el;
  lastInputAt = t;
  field(INPUT, el, t);
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
  record(MOVE, () => (X.num(F_X, e.clientX), X.num(F_Y, e.clientY)), t);
}

let mutations = 0, mutationAt = 0;
function onMutations(list) {
  for (const r of list) {
    const a = r.attributeName, level = /^(id|class)$/.test(a);
    level && (levels.delete(r.target), levelsAt++);
    // Any change but of an attribute no fact reads, or only `sel` does (an
    // id, a class: unless the options' selectors have any): `style`, and
    // `data-` and `aria-` ones (UI libraries' state) but for the SDK's
    // own, `aria-label` and those the options' selectors name.
    ((level ? !/[.#]/.test(named) : /^(style$|data-(?!ufse)|aria-(?!label))/.test(a)) && !named.includes(a)) ||
      (known = new WeakMap());
  }
  if (!mutations) {
    mutationAt = now();
    (document.hidden ? setTimeout : requestAnimationFrame)(() => {
      const n = mutations;
      mutations = 0;
      record(MUTATION, () => X.num(F_N, n), mutationAt);
    });
  }
  mutations += list.length;
}

function onError(e) {
  const err = e.error || e.reason;
  const rejection = "reason" in e;
  // An image or a script that failed to load (a plain Event) is no error
  // of the page's code.
  if (!rejection && !e.message) return;
  record(ERROR, () => {
    str(F_MSG, rejection ? err?.message || String(err) : e.message);
    if (!rejection) {
      // No file (an inline script, an event the page made): no src.
      e.filename && str(F_SRC, clean(e.filename));
      X.num(F_LINE, e.lineno);
      X.num(F_COL, e.colno);
    }
    // Its script URLs without their query strings, as every URL sent (up
    // to a colon: a query with one raw keeps what follows it).
    str(F_STACK, err?.stack?.replace(/\?[^\s:)]*/g, ""));
    str(F_KIND, rejection ? "rejection" : "error");
  });
}

let lastUrl;
function nav(type) {
  const url = location.href;
  if (stopped || url == lastUrl) return;
  // A change of the fragment alone is a `hash` whatever announced it.
  if (lastUrl && type != "replace" && url.split("#")[0] == lastUrl.split("#")[0]) type = "hash";
  record(NAV, () => (str(F_URL, clean(url)), str(F_NAV, type)));
  // Set after recording: were this the first event of a new session,
  // touch() cleared it, and this nav is the one that session begins with.
  lastUrl = url;
}

function netEvent(method, url, status, start) {
  url = clean(url);
  if (url == own) return;
  const t = now();
  record(NET, () => {
    str(F_METHOD, (method || "GET").toUpperCase());
    str(F_URL, url);
    X.num(F_STATUS, status);
    X.num(F_DUR, t - start);
  }, t);
}

let origFetch;
function wrapNetwork() {
  origFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    const start = now();
    const method = init?.method || input?.method;
    const url = input?.url || input;
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
 * Starts the SDK, or starts it again after `shutdown()`. `key` and
 * `endpoint` are required (without them it rejects, saying so); options: `release`, `uid`, `ignore` (CSS
 * selectors whose subtrees are skipped), `allowText` (CSS selectors of
 * clickable elements whose labels go unmasked), `allowQuery` (query
 * parameters kept in URLs), `respectDnt`, `wasm` (the module's URL or
 * bytes; defaults to ufse.wasm beside this file).
 */
export async function init(options) {
  const o = { ...options };
  if (!o.key || !o.endpoint) throw new TypeError("ufse.init: key and endpoint are required");
  if (!stopped) return;
  if (o.respectDnt && navigator.doNotTrack == "1") return;
  // Once per page: the module (a later `init` resumes it, session and all)
  // and the wrappers of fetch, XHR and history (inert while stopped).
  const src = o.wasm || WASM;
  X = await (module = module || (async () =>
    (await WebAssembly.instantiate(src.byteLength ? src : await (await fetch(src)).arrayBuffer())).instance.exports)());
  // Another `init` finished while this one waited.
  if (!stopped) return;
  cfg = o;
  // The key goes in the query string: no custom header, so no CORS
  // preflight, and `sendBeacon` can use the same URL.
  target = cfg.endpoint.replace(/\/$/, "") + "/v1/batch?key=" + encodeURIComponent(cfg.key);
  ignore = "[data-ufse-ignore]" + (cfg.ignore ? "," + cfg.ignore : "");
  named = (ignore + cfg.allowText).toLowerCase();
  // A selector the browser cannot parse rejects here, with the browser's
  // SyntaxError naming it, rather than throwing from every click.
  document.documentElement.closest(ignore + "," + (cfg.allowText || "*"));
  // Facts gathered under other options (a resume) are not these.
  known = new WeakMap();
  own = clean(target);
  const first = !mem;
  if (first) {
    mem = new Uint8Array(X.memory.buffer, X.input(), 16384);
    wrapNetwork();
    wrapHistory();
  }
  // sessionStorage, or localStorage where that is not allowed.
  try {
    store = sessionStorage;
  } catch {
    try {
      store = localStorage;
    } catch {}
  }
  X.set(CTX, put(JSON.stringify({ ua: navigator.userAgent, vw: innerWidth, vh: innerHeight, release: cfg.release })));
  cfg.uid && identify(cfg.uid);
  stopped = false;
  touch(now(), stored());
  // Every listener goes with `hooks`, so `shutdown` removes them all.
  hooks = new AbortController();
  const on = (t, f, target = window) => target.addEventListener(t, f, { capture: true, passive: true, signal: hooks.signal });
  on("click", onClick);
  on("input", onInput);
  on("submit", (e) => field(SUBMIT, e.target));
  on("pointermove", onMove);
  on("error", onError);
  on("unhandledrejection", onError);
  on("popstate", () => nav("pop"));
  on("hashchange", () => nav("hash"));
  on("scroll", throttle(100, () => record(SCROLL, () => (X.num(F_Y, scrollY), X.num(F_VH, innerHeight)))));
  on("selectionchange", throttle(100, () => record(SELECT)), document);
  on("visibilitychange", () => {
    document.hidden || restore();
    record(VIS, () => str(F_STATE, document.visibilityState));
    document.hidden && leave();
  }, document);
  on("pageshow", (e) => e.persisted && (restore(), (lastUrl = 0), nav("pop")));
  on("pagehide", leave);
  on("online", pump);
  (observer = new MutationObserver(onMutations)).observe(document, { childList: true, subtree: true, attributes: true, characterData: true });
  try {
    (longtasks = new PerformanceObserver((l) =>
      l.getEntries().forEach((e) => record(LONGTASK, () => X.num(F_DUR, e.duration), performance.timeOrigin + e.startTime))
    // Long tasks from before the first start; a resume would repeat them.
    )).observe({ type: "longtask", buffered: first });
  } catch {}
  // The page's own navigation; on a resume, a route taken while stopped.
  const entry = performance.getEntriesByType("navigation")[0];
  nav(first ? { reload: "reload", back_forward: "pop" }[entry?.type] || "load" : "push");
  timer = setInterval(flush, FLUSH_MS);
}

/** Records an app-defined event. */
export function track(name, props) {
  record(CUSTOM, () => {
    str(F_NAME, name);
    // No JSON for `undefined`, a function or a symbol ("undefined" once
    // put): the core leaves out any props that are no object.
    X.raw(F_PROPS, put(JSON.stringify(props)));
  });
}

/** Sets the user id sent with every batch from now on. */
export function identify(uid) {
  X?.set(UID, put(uid ?? ""));
}

/** Sends what is left and stops observing: no listener, observer or
 *  timer of the SDK is left on the page (the wrappers of fetch, XHR and
 *  history stay, inert: others may have wrapped them since). */
export async function shutdown() {
  if (stopped) return;
  stopped = true;
  hooks.abort();
  observer.disconnect();
  longtasks?.disconnect();
  clearInterval(timer);
  // The exact seq stays, for the next `init`; the events so far go.
  save(0);
  await flush();
}

// Where the wasm module is, for the ES module build; the single-file
// build replaces this line with the module itself.
const WASM = new URL("ufse.wasm", import.meta.url);

//! Traffic generation: realistic browser sessions with injected frustration
//! of known shape, cut into batches the way an SDK flushes them, and encoded
//! into ready-to-write HTTP requests before the timed run starts.
//!
//! Normal traffic is built so the server's rules can never fire on it:
//! every normal click is answered by a `mutation` within 100 ms (so it is
//! not dead), consecutive clicks are more than 1.5 s or 50 px apart (so they
//! never form a rage run, which needs 1 s and 30 px), and there are no
//! `error` events. Every incident on a session without injection is
//! therefore a false positive.

use std::fmt::Write as _;
use std::io::Write as _;
use std::ops::Range;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::rng::Rng;

/// Normal clicks are generated this far apart in time or space at least;
/// the guarantee is 1.5 s / 50 px, the margin keeps rounding out of it.
pub const CLICK_MIN_GAP_MS: i64 = 1_600;
/// See [`CLICK_MIN_GAP_MS`].
pub const CLICK_MIN_DIST_PX: f64 = 60.0;
/// After a rage run or an error click nothing but pointer moves happen for
/// this long, so the pattern stays what it is (no reaction, no new click):
/// the 3 s dead-click window plus room for a request of up to 800 ms that
/// ends after the quiet but would have started inside the window.
pub const PATTERN_QUIET_MS: i64 = 4_000;
/// After a dead click nothing that counts as a reaction happens for this long.
pub const DEAD_QUIET_MS: i64 = 15_000;
/// Pointer samples: at most one per this many ms (the SDK's rate) ...
const MOVE_SAMPLE_MS: i64 = 50;
/// ... each at most this far per axis from the last ...
const MOVE_STEP_PX: i64 = 60;
/// ... gliding to targets at least this far away horizontally.
const MOVE_TARGET_PX: i64 = 300;
/// Delay from the error click to its `error` event.
pub const ERROR_DELAY_MS: i64 = 300;

/// A kind of injected frustration, named as the server names its incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InjectKind {
    /// Four clicks within 600 ms on one spot, nothing reacting.
    Rage,
    /// One click, then no reaction for 15 s.
    Dead,
    /// A click followed 300 ms later by an uncaught error.
    Error,
}

impl InjectKind {
    /// Every kind, in round-robin order.
    pub const ALL: [InjectKind; 3] = [InjectKind::Rage, InjectKind::Dead, InjectKind::Error];

    /// The incident kind the server reports.
    pub fn as_str(self) -> &'static str {
        match self {
            InjectKind::Rage => "rage_click",
            InjectKind::Dead => "dead_click",
            InjectKind::Error => "error_click",
        }
    }

    /// Client time a pattern takes beyond ordinary traffic (its quiet
    /// period), so paced sessions can leave room for it and still end on time.
    pub fn extra_ms(self) -> i64 {
        match self {
            InjectKind::Dead => DEAD_QUIET_MS + 1_000,
            InjectKind::Rage | InjectKind::Error => PATTERN_QUIET_MS + 1_000,
        }
    }

    fn selector(self, session: usize) -> String {
        match self {
            InjectKind::Rage => format!("button#rage-{session}"),
            InjectKind::Dead => format!("button#dead-{session}"),
            InjectKind::Error => format!("button#err-{session}"),
        }
    }
}

/// The kind-specific part of a generated event.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Page view (`load`) or route change (`push`).
    Nav { url: String, nav: &'static str },
    /// A click.
    Click { x: i64, y: i64, sel: String, tag: &'static str, txt: Option<&'static str> },
    /// Typing into a field.
    Input { sel: &'static str },
    /// Scroll position.
    Scroll { y: i64 },
    /// DOM mutations.
    Mutation { n: u64 },
    /// Pointer sample.
    Move { x: i64, y: i64 },
    /// A finished request.
    Net { method: &'static str, url: &'static str, status: u16, dur: i64 },
    /// An uncaught error.
    Error { msg: &'static str },
    /// Visibility change.
    Vis { state: &'static str },
}

impl Kind {
    /// When the dead-click rule counts this as the page reacting, if ever
    /// (`net` reacts at its start, `ts - dur`; only `hidden` visibility counts).
    /// Used by the tests to check patterns against the rule's definition.
    #[cfg(test)]
    pub fn reacts_at(&self, ts: i64) -> Option<i64> {
        match self {
            Kind::Mutation { .. } | Kind::Nav { .. } | Kind::Scroll { .. } | Kind::Input { .. } => Some(ts),
            Kind::Vis { state } if *state == "hidden" => Some(ts),
            Kind::Net { dur, .. } => Some(ts - dur),
            _ => None,
        }
    }
}

/// One generated event.
#[derive(Debug, Clone, PartialEq)]
pub struct Ev {
    /// Client time, ms since the epoch.
    pub ts: i64,
    /// Per-session sequence number, from 1.
    pub seq: u64,
    /// What happened.
    pub kind: Kind,
}

/// The ground truth of one injected pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    /// What was injected.
    pub kind: InjectKind,
    /// The selector of its clicks.
    pub sel: String,
    /// `seq` of its first event.
    pub first_seq: u64,
    /// `seq` of its last event (the last click, or the error).
    pub last_seq: u64,
}

/// What a session is asked to look like.
#[derive(Debug, Clone)]
pub struct SessionSpec {
    /// Index in the run; part of the sid and of injected selectors.
    pub index: usize,
    /// Events to generate (a group in progress may overshoot by a few).
    pub n_events: usize,
    /// Client time of the first event.
    pub start_ts: i64,
    /// Mean client time between events, ms.
    pub mean_dt_ms: f64,
    /// The pattern to inject, if any.
    pub inject: Option<InjectKind>,
}

/// A generated session's events and its ground truth.
#[derive(Debug, Clone)]
pub struct SessionEvents {
    /// In `seq` order, `ts` strictly increasing.
    pub events: Vec<Ev>,
    /// The injected pattern.
    pub injection: Option<Injection>,
}

/// Normal click targets: selector, tag, label.
const CLICK_TARGETS: &[(&str, &str, Option<&str>)] = &[
    ("div.cart > button#checkout.btn", "button", Some("Checkout")),
    ("div.product > button.add-to-cart", "button", Some("Add to cart")),
    ("nav.top > ul > li > a.menu", "a", Some("Shop")),
    ("main > section.list > div.card > a", "a", None),
    ("div.filters > label > span.chip", "span", Some("Size M")),
    ("footer > div.links > a.help", "a", Some("Help")),
    ("div.gallery > img.thumb", "img", None),
];
const INPUT_SEL: &str = "form#search > input.q";
const NET_CALLS: &[(&str, &str)] = &[
    ("GET", "https://shop.example.com/api/products?page=2"),
    ("POST", "https://shop.example.com/api/cart"),
    ("GET", "https://shop.example.com/api/recommendations"),
    ("POST", "https://collect.example.com/beacon"),
];
const ERROR_MSG: &str = "TypeError: Cannot read properties of undefined (reading 'id')";

/// Builds one session's events, keeping the invariants in the module doc.
struct Builder<'r> {
    rng: &'r mut Rng,
    t: i64,
    events: Vec<Ev>,
    last_click: Option<(i64, i64, i64)>,
    page: u32,
    scroll_y: i64,
    mouse: (i64, i64),
    /// Where the pointer is gliding to.
    target: (i64, i64),
    /// Time of the last pointer sample.
    last_move: i64,
    /// Where the session's clock should be for its pace.
    ideal: f64,
    /// Scales the delays inside a group down for fast-paced sessions, so
    /// they can reach their rate (a reaction still comes within 100 ms).
    scale: f64,
}

impl Builder<'_> {
    fn push(&mut self, kind: Kind) {
        // Strictly increasing `ts` keeps `(ts, seq)` order equal to `seq` order.
        if let Some(last) = self.events.last() {
            self.t = self.t.max(last.ts + 1);
        }
        let seq = self.events.len() as u64 + 1;
        self.events.push(Ev { ts: self.t, seq, kind });
    }

    /// A delay inside a group, scaled to the session's pace.
    fn delay(&mut self, lo: i64, hi: i64) -> i64 {
        ((self.rng.range(lo, hi) as f64 * self.scale) as i64).max(1)
    }

    fn click_ok(&self, ts: i64, x: i64, y: i64) -> bool {
        self.last_click.is_none_or(|(lt, lx, ly)| {
            ts - lt >= CLICK_MIN_GAP_MS
                || (((x - lx).pow(2) + (y - ly).pow(2)) as f64).sqrt() >= CLICK_MIN_DIST_PX
        })
    }

    /// A click the page answers: the click, a mutation within 100 ms, sometimes a request.
    fn normal_click(&mut self, sel: String, tag: &'static str, txt: Option<&'static str>) {
        if let Some(last) = self.events.last() {
            self.t = self.t.max(last.ts + 1);
        }
        let (x, y) = loop {
            let (x, y) = (self.rng.range(8, 1272), self.rng.range(8, 792));
            if self.click_ok(self.t, x, y) {
                break (x, y);
            }
        };
        self.push(Kind::Click { x, y, sel, tag, txt });
        self.last_click = Some((self.t, x, y));
        self.mouse = (x, y);
        self.t += self.delay(4, 90);
        let n = self.rng.range(1, 40) as u64;
        self.push(Kind::Mutation { n });
    }

    fn group(&mut self, mean_dt: f64) {
        let before = self.events.len();
        match self.rng.below(100) {
            0..=29 => {
                for _ in 0..self.rng.range(1, 3) {
                    self.glide();
                    self.t += self.delay(16, 80);
                }
            }
            30..=41 => {
                self.scroll_y = (self.scroll_y + self.rng.range(-200, 600)).max(0);
                self.push(Kind::Scroll { y: self.scroll_y });
            }
            42..=58 => {
                let &(sel, tag, txt) = self.rng.pick(CLICK_TARGETS);
                self.normal_click(sel.to_owned(), tag, txt);
                if self.rng.chance(0.3) {
                    self.t += self.delay(40, 400);
                    let &(method, url) = self.rng.pick(NET_CALLS);
                    let dur = self.rng.range(20, 300);
                    self.push(Kind::Net { method, url, status: 200, dur });
                }
            }
            59..=65 => {
                // Clicking into the search field, then typing.
                self.normal_click(INPUT_SEL.to_owned(), "input", None);
                for _ in 0..self.rng.range(1, 3) {
                    self.t += self.delay(80, 300);
                    self.push(Kind::Input { sel: INPUT_SEL });
                }
            }
            66..=75 => {
                let &(method, url) = self.rng.pick(NET_CALLS);
                let dur = self.rng.range(20, 800);
                let status = *self.rng.pick(&[200, 200, 200, 204, 304, 404]);
                self.push(Kind::Net { method, url, status, dur });
            }
            76..=89 => {
                let n = self.rng.range(1, 60) as u64;
                self.push(Kind::Mutation { n });
            }
            90..=96 => {
                self.page += 1;
                let url = format!("https://shop.example.com/p/{}", self.rng.range(1, 5000));
                self.push(Kind::Nav { url, nav: "push" });
                self.scroll_y = 0;
            }
            _ => {
                self.push(Kind::Vis { state: "hidden" });
                self.t += self.delay(500, 4000);
                self.push(Kind::Vis { state: "visible" });
            }
        }
        // Pace the session on an ideal clock that advances by `mean_dt` per
        // event (jittered); a group that ran long is absorbed by the next
        // gaps instead of stretching the whole session.
        let n = (self.events.len() - before) as f64;
        self.ideal += n * mean_dt * (0.2 + 1.6 * self.rng.unit());
        self.t = (self.t + 1).max(self.ideal as i64);
    }

    /// One pointer sample on a smooth path, as the SDK reports a hand: at
    /// most one sample per 50 ms, gliding at most `MOVE_STEP_PX` per axis
    /// per sample towards a target at least `MOVE_TARGET_PX` away
    /// horizontally, then on to a new one. So the pointer turns at most
    /// once per five samples and never looks like a thrashed cursor (ten
    /// turns in 2 s); random jumps every few ms would make every session one.
    fn glide(&mut self) {
        if self.t - self.last_move < MOVE_SAMPLE_MS {
            return;
        }
        self.last_move = self.t;
        let step = |from: i64, to: i64| from + (to - from).clamp(-MOVE_STEP_PX, MOVE_STEP_PX);
        let ((x, y), (tx, ty)) = (self.mouse, self.target);
        self.mouse = (step(x, tx), step(y, ty));
        if self.mouse.0 == tx {
            let x = self.mouse.0;
            let tx = loop {
                let tx = self.rng.range(0, 1279);
                if (tx - x).abs() >= MOVE_TARGET_PX {
                    break tx;
                }
            };
            self.target = (tx, self.rng.range(0, 799));
        }
        self.push(Kind::Move { x: self.mouse.0, y: self.mouse.1 });
    }

    /// Only pointer moves until `until`: nothing the rules count as a
    /// reaction, nothing that clicks.
    fn quiet(&mut self, until: i64) {
        loop {
            let step = self.rng.range(300, 1500);
            if self.t + step >= until {
                break;
            }
            self.t += step;
            self.glide();
        }
        self.t = until;
    }

    fn pattern(&mut self, kind: InjectKind, index: usize) -> Injection {
        if let Some(last) = self.events.last() {
            self.t = self.t.max(last.ts + 1);
        }
        // Far enough from the last normal click that it cannot join a run.
        if let Some((lt, _, _)) = self.last_click {
            self.t = self.t.max(lt + CLICK_MIN_GAP_MS);
        }
        let sel = kind.selector(index);
        let first_seq = self.events.len() as u64 + 1;
        let (x0, y0) = (self.rng.range(100, 1180), self.rng.range(100, 700));
        let click = |b: &mut Self, x, y| {
            b.push(Kind::Click { x, y, sel: sel.clone(), tag: "button", txt: Some("Apply") });
            b.last_click = Some((b.t, x, y));
            b.mouse = (x, y);
        };
        let click_ts = self.t;
        match kind {
            InjectKind::Rage => {
                for i in 0..4 {
                    if i > 0 {
                        // Three gaps of at most 180 ms: the run spans at most 540 ms.
                        self.t += self.rng.range(90, 180);
                    }
                    let (x, y) = (x0 + self.rng.range(-3, 3), y0 + self.rng.range(-3, 3));
                    click(self, x, y);
                }
            }
            InjectKind::Dead => click(self, x0, y0),
            InjectKind::Error => {
                click(self, x0, y0);
                self.t += ERROR_DELAY_MS;
                self.push(Kind::Error { msg: ERROR_MSG });
            }
        }
        let last_seq = self.events.len() as u64;
        let quiet = if kind == InjectKind::Dead { DEAD_QUIET_MS } else { PATTERN_QUIET_MS };
        let until = self.t.max(click_ts + quiet) + 1;
        self.quiet(until);
        Injection { kind, sel, first_seq, last_seq }
    }
}

/// Generates one session: a `load` navigation, normal groups, and the
/// injected pattern placed between 20% and 45% of the way through (so it
/// is in an early batch and has ordinary traffic after it).
pub fn session_events(rng: &mut Rng, spec: &SessionSpec) -> SessionEvents {
    let mut b = Builder {
        rng,
        t: spec.start_ts,
        events: Vec::with_capacity(spec.n_events + 8),
        last_click: None,
        page: 0,
        scroll_y: 0,
        mouse: (640, 400),
        target: (640, 400),
        last_move: i64::MIN / 2,
        ideal: spec.start_ts as f64,
        scale: (spec.mean_dt_ms / 250.0).clamp(0.05, 1.0),
    };
    let url = format!("https://shop.example.com/p/{}", b.rng.range(1, 5000));
    b.push(Kind::Nav { url, nav: "load" });
    b.t += b.rng.range(200, 1500);
    let n = spec.n_events.max(2);
    let insert_at = n / 5 + b.rng.below((n / 4).max(1) as u64) as usize;
    let mut injection = None;
    while b.events.len() < n {
        match spec.inject {
            Some(kind) if injection.is_none() && b.events.len() >= insert_at => {
                injection = Some(b.pattern(kind, spec.index));
                // The pattern's quiet time is extra; it does not eat the pace.
                b.ideal = b.ideal.max(b.t as f64);
            }
            _ => b.group(spec.mean_dt_ms),
        }
    }
    if let (Some(kind), None) = (spec.inject, &injection) {
        injection = Some(b.pattern(kind, spec.index));
    }
    SessionEvents { events: b.events, injection }
}

/// One batch of a session, before encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchCut {
    /// Indices into the session's events.
    pub range: Range<usize>,
    /// Client time at which the SDK sends it.
    pub send_ts: i64,
}

/// Cuts a session into batches the way the SDK flushes: when `max_events`
/// are buffered, or `flush_ms` after the first buffered event (when paced;
/// `None` sends full batches back to back).
pub fn cut_batches(events: &[Ev], max_events: usize, flush_ms: Option<i64>) -> Vec<BatchCut> {
    let max_events = max_events.max(1);
    let mut out = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let first = events[i].ts;
        let mut j = i;
        while j < events.len() && j - i < max_events && flush_ms.is_none_or(|f| events[j].ts < first + f) {
            j += 1;
        }
        let full = j - i == max_events;
        let send_ts = match flush_ms {
            Some(f) if !full => first + f,
            _ => events[j - 1].ts,
        };
        out.push(BatchCut { range: i..j, send_ts });
        i = j;
    }
    out
}

fn json_str(out: &mut String, s: &str) {
    // serde_json escapes; our strings are plain but selectors may grow quotes one day.
    out.push_str(&serde_json::to_string(s).expect("a str serializes"));
}

/// The wire-format v1 JSON of one batch.
pub fn batch_json(sid: &str, uid: &str, sent_at: i64, events: &[Ev]) -> String {
    let mut o = String::with_capacity(64 + events.len() * 90);
    o.push_str("{\"v\":1,\"sid\":");
    json_str(&mut o, sid);
    o.push_str(",\"uid\":");
    json_str(&mut o, uid);
    let _ = write!(o, ",\"sent_at\":{sent_at},\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let (ts, seq) = (e.ts, e.seq);
        match &e.kind {
            Kind::Nav { url, nav } => {
                let _ = write!(o, "{{\"t\":\"nav\",\"ts\":{ts},\"seq\":{seq},\"url\":");
                json_str(&mut o, url);
                let _ = write!(o, ",\"nav\":\"{nav}\"}}");
            }
            Kind::Click { x, y, sel, tag, txt } => {
                let _ = write!(o, "{{\"t\":\"click\",\"ts\":{ts},\"seq\":{seq},\"x\":{x},\"y\":{y},\"sel\":");
                json_str(&mut o, sel);
                let _ = write!(o, ",\"el\":{{\"tag\":\"{tag}\"}}");
                if let Some(txt) = txt {
                    o.push_str(",\"txt\":");
                    json_str(&mut o, txt);
                }
                o.push('}');
            }
            Kind::Input { sel } => {
                let _ = write!(o, "{{\"t\":\"input\",\"ts\":{ts},\"seq\":{seq},\"sel\":");
                json_str(&mut o, sel);
                o.push('}');
            }
            Kind::Scroll { y } => {
                let _ = write!(o, "{{\"t\":\"scroll\",\"ts\":{ts},\"seq\":{seq},\"y\":{y}}}");
            }
            Kind::Mutation { n } => {
                let _ = write!(o, "{{\"t\":\"mutation\",\"ts\":{ts},\"seq\":{seq},\"n\":{n}}}");
            }
            Kind::Move { x, y } => {
                let _ = write!(o, "{{\"t\":\"move\",\"ts\":{ts},\"seq\":{seq},\"x\":{x},\"y\":{y}}}");
            }
            Kind::Net { method, url, status, dur } => {
                let _ =
                    write!(o, "{{\"t\":\"net\",\"ts\":{ts},\"seq\":{seq},\"method\":\"{method}\",\"url\":");
                json_str(&mut o, url);
                let _ = write!(o, ",\"status\":{status},\"dur\":{dur}}}");
            }
            Kind::Error { msg } => {
                let _ = write!(o, "{{\"t\":\"error\",\"ts\":{ts},\"seq\":{seq},\"msg\":");
                json_str(&mut o, msg);
                o.push_str(",\"kind\":\"error\"}");
            }
            Kind::Vis { state } => {
                let _ = write!(o, "{{\"t\":\"vis\",\"ts\":{ts},\"seq\":{seq},\"state\":\"{state}\"}}");
            }
        }
    }
    o.push_str("]}");
    o
}

/// Gzips `data` at `level` (0-9).
pub fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), Compression::new(level.min(9)));
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

//! The sessionizer: per-session state between the log and the rule engine.
//!
//! This crate owns everything DESIGN.md section 4 says about sessions: one
//! state per `(project, sid)`, events deduplicated by `seq` and ordered by
//! `(ts, seq)` inside a bounded reorder window, late events counted and not
//! evaluated, sessions split after 30 minutes without events or 24 hours of
//! length, and windows closed by the session's own client time or, when the
//! browser goes quiet, by silence measured with log append times. It is
//! synchronous and deterministic: replaying the same log records gives the
//! same decisions, and [`Sessionizer`] serializes whole for snapshots.
//!
//! - [`Sessionizer`]: the sessions of one log partition (or of one `detect` run).
//! - [`Output`]: what one step produced: signals, unique events, drop counts.
//! - [`SessionSummary`]: start, end, pages, counts per kind, signals.
//! - [`detect`]: the offline `ufse detect` pipeline over newline-delimited batches.
//! - `seqset`: the compact per-session record of seen `seq`s.

mod detect;
mod evaluate;
mod live;
mod seqset;
mod table;

pub use detect::{detect, detect_batches, DetectReport};
pub use evaluate::{evaluate, Evaluation, KindScore, Label, Miss};

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ufse_engine::{RuleSet, SessionEngine, Signal};
use ufse_schema::{corrected_ts, Body, DropReason, Event, LogBatch};

use live::Live;
use seqset::{Seen, SeqSet};
use table::Sessions;

/// Session boundaries and ordering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionizerConfig {
    /// How far (client time) an event may arrive behind the newest one of
    /// its session and still be evaluated in order; later ones are `late`.
    pub reorder_ms: i64,
    /// A session ends after this long without events.
    pub idle_timeout_ms: i64,
    /// A session part ends after this long; the sid continues as a new part.
    pub max_duration_ms: i64,
    /// How often (in log time) silent sessions are looked for.
    pub silence_scan_ms: i64,
    /// Most events one session may hold in its reorder buffer; past it the
    /// oldest are evaluated early, so a client with a stuck clock cannot
    /// grow it without bound.
    pub max_buffered_events: usize,
}

impl SessionizerConfig {
    /// How often (in log time) sessions are checked for the idle timeout:
    /// a thirtieth of it (a minute for 30 minutes), at least one silence
    /// scan. It needs a pass over every live session, so it is kept rarer
    /// than the silence scans, which visit only sessions with work pending.
    pub fn idle_scan_ms(&self) -> i64 {
        (self.idle_timeout_ms / 30).max(self.silence_scan_ms).max(1)
    }
}

impl Default for SessionizerConfig {
    fn default() -> Self {
        SessionizerConfig {
            reorder_ms: 5_000,
            idle_timeout_ms: 30 * 60 * 1000,
            max_duration_ms: 24 * 3600 * 1000,
            silence_scan_ms: 1_000,
            max_buffered_events: 10_000,
        }
    }
}

/// What a session looked like, stored while it is live and when it ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// Project name.
    pub project: String,
    /// Session id.
    pub sid: String,
    /// Part number: 0, then 1 after the first 24 h or 30 min gap, and so on.
    pub part: u32,
    /// Last user id seen.
    pub uid: Option<String>,
    /// Client time of the first evaluated event.
    pub start_ts: i64,
    /// Client time of the last evaluated event.
    pub end_ts: i64,
    /// Page views (`nav` events).
    pub pages: u32,
    /// First page.
    pub first_url: Option<String>,
    /// Evaluated events per kind.
    pub counts: BTreeMap<String, u64>,
    /// Signals per kind.
    pub signals: BTreeMap<String, u64>,
    /// The session ended (no more events will be added to this part).
    pub ended: bool,
}

impl SessionSummary {
    /// `end_ts - start_ts`.
    pub fn duration_ms(&self) -> i64 {
        self.end_ts - self.start_ts
    }
}

/// A signal with what the store needs beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSignal {
    /// Project name.
    pub project: String,
    /// User id of the session, if known.
    pub uid: Option<String>,
    /// Skew-corrected time of the signal's `ts`, for first/last seen.
    pub seen_ms: i64,
    /// The signal.
    pub signal: Signal,
}

/// What one batch of one session added to the raw event store: how many
/// new unique events, where they are in the batch, and their time range.
/// The events themselves stay in the log record they came in, which the
/// store points at (and which an archive copies them from).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredEvents {
    /// Project name.
    pub project: String,
    /// Session id.
    pub sid: String,
    /// Positions in the batch of its new unique events, ascending.
    pub positions: Vec<u32>,
    /// Smallest client time.
    pub first_ts: i64,
    /// Largest skew-corrected time.
    pub max_cts: i64,
}

/// What the sessionizer produced; the caller drains it after each step.
#[derive(Debug, Default)]
pub struct Output {
    /// Signals, in emission order.
    pub signals: Vec<SessionSignal>,
    /// New unique events per batch (only when [`Sessionizer::keep_events`] is on).
    pub events: Vec<StoredEvents>,
    /// Summaries as they changed, oldest first (a session may appear more
    /// than once; the last copy of each part is the current one).
    pub summaries: Vec<SessionSummary>,
    /// Events not evaluated or not stored, by reason.
    pub drops: BTreeMap<DropReason, u64>,
}

impl Output {
    fn drop(&mut self, reason: DropReason) {
        *self.drops.entry(reason).or_default() += 1;
    }
}

/// Why snapshot bytes could not be restored.
#[derive(Debug, thiserror::Error)]
#[error("not a sessionizer snapshot of this version: {0}")]
pub struct RestoreError(#[from] postcard::Error);

/// A writer that keeps the first i/o error, which postcard's writer
/// flavour replaces with a generic one.
struct KeepError<W> {
    inner: W,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write> std::io::Write for KeepError<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.keep(e))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().map_err(|e| self.keep(e))
    }
}

impl<W> KeepError<W> {
    fn keep(&mut self, e: std::io::Error) -> std::io::Error {
        let copy = std::io::Error::new(e.kind(), e.to_string());
        self.error.get_or_insert(e);
        copy
    }
}

/// A session's reorder buffer: boxed, and absent while empty (most live
/// sessions sit idle with nothing buffered; an empty deque inline would
/// cost each of them 32 bytes instead of 8). It reads as an empty deque
/// and allocates on first write.
#[derive(Debug, Clone, Default)]
#[allow(clippy::box_collection)]
struct Buffer(Option<Box<VecDeque<Event>>>);

static EMPTY: VecDeque<Event> = VecDeque::new();

impl std::ops::Deref for Buffer {
    type Target = VecDeque<Event>;
    fn deref(&self) -> &VecDeque<Event> {
        self.0.as_deref().unwrap_or(&EMPTY)
    }
}

impl std::ops::DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut VecDeque<Event> {
        self.0.get_or_insert_with(Default::default)
    }
}

impl<'a> IntoIterator for &'a Buffer {
    type Item = &'a Event;
    type IntoIter = std::collections::vec_deque::Iter<'a, Event>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl FromIterator<Event> for Buffer {
    fn from_iter<I: IntoIterator<Item = Event>>(iter: I) -> Self {
        let events: VecDeque<Event> = iter.into_iter().collect();
        Buffer((!events.is_empty()).then(|| Box::new(events)))
    }
}

/// One live session.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Session {
    /// `project:sid`, the log key.
    key: Box<str>,
    seen: SeqSet,
    /// Events waiting for the reorder bound, kept sorted by `(ts, seq)`.
    /// A deque: events mostly arrive in order at the back and leave at the
    /// front, and moving large events along a vector cost more than the rules.
    #[serde(with = "ufse_schema::event_list")]
    buffer: Buffer,
    /// Newest client time seen.
    max_ts: i64,
    /// Everything before this has been released; earlier arrivals are late.
    released_to: i64,
    /// Append time of the last record with events of this session.
    last_append: i64,
    /// `(skew_ms, received_ms)` of the newest batch, to correct signal times.
    skew: (i64, i64),
    engine: SessionEngine,
    live: Live,
}

/// The sessions of one log partition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sessionizer {
    /// Not in snapshots: a restart runs with the configuration it is given.
    #[serde(skip)]
    config: SessionizerConfig,
    #[serde(skip)]
    rules: Arc<RuleSet>,
    /// The live sessions.
    sessions: Sessions,
    /// The live sessions with buffered events or open windows: the only
    /// ones a silence scan visits, so a scan costs what is pending, not
    /// what is live. The others only need their bound moved, which is done
    /// when they are next touched ([`Session::catch_up`]), and an eye on
    /// the idle timeout, kept by a slower pass over all of them. Derived
    /// from `sessions`, so rebuilt on restore.
    #[serde(skip)]
    pending: BTreeSet<Box<str>>,
    /// Sessions that ended by silence: the part a returning sid continues
    /// with, and the log time it ended (forgotten after `max_duration_ms`).
    ended: HashMap<Box<str>, (u32, i64)>,
    /// Newest append time seen in the partition.
    clock: i64,
    /// Log time of the last silence scan, rounded down to its period.
    last_scan: i64,
    /// The log clock at that scan.
    scan_clock: i64,
    /// Log time of the last idle-timeout pass, rounded down to its period.
    last_idle_scan: i64,
    /// Report unique events in [`Output::events`] for storage.
    keep_events: bool,
}

impl Sessionizer {
    /// An empty sessionizer.
    pub fn new(config: SessionizerConfig, rules: Arc<RuleSet>) -> Self {
        Sessionizer {
            config,
            rules,
            sessions: Sessions::default(),
            pending: BTreeSet::new(),
            ended: HashMap::new(),
            clock: 0,
            last_scan: 0,
            scan_clock: 0,
            last_idle_scan: 0,
            keep_events: false,
        }
    }

    /// Whether unique events are copied to [`Output::events`] (for the raw store).
    pub fn keep_events(mut self, on: bool) -> Self {
        self.keep_events = on;
        self
    }

    /// Restores a snapshot written by [`Sessionizer::snapshot`] or
    /// [`Sessionizer::write_snapshot`].
    ///
    /// # Errors
    ///
    /// When the bytes are not a snapshot of this version.
    pub fn restore(
        snapshot: &[u8],
        config: SessionizerConfig,
        rules: Arc<RuleSet>,
    ) -> Result<Self, RestoreError> {
        let mut s: Sessionizer = postcard::from_bytes(snapshot)?;
        s.config = config;
        s.rules = rules;
        s.pending = s.sessions.iter().filter(|x| x.is_pending()).map(|x| x.key.clone()).collect();
        Ok(s)
    }

    /// Serializes the whole state in a compact binary form (postcard, with
    /// buffered events in their log binary form): snapshots of busy
    /// partitions hold millions of buffered events, and JSON made writing
    /// them cost as much as processing.
    pub fn snapshot(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("sessionizer state serializes")
    }

    /// Like [`Sessionizer::snapshot`], streamed to `w` instead of built in memory.
    ///
    /// # Errors
    ///
    /// When writing to `w` fails.
    pub fn write_snapshot<W: std::io::Write>(&self, w: W) -> std::io::Result<W> {
        let mut w = KeepError { inner: w, error: None };
        match postcard::to_io(self, &mut w) {
            Ok(_) => Ok(w.inner),
            Err(e) => Err(w.error.take().unwrap_or_else(|| std::io::Error::other(e))),
        }
    }

    /// Live sessions.
    pub fn live_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Takes in one batch. `append_ms` is the log record's append time
    /// (`None` where there is no log, as in `ufse detect`).
    pub fn on_batch(&mut self, batch: &LogBatch, append_ms: Option<i64>, out: &mut Output) {
        self.on_batch_raw(batch.clone(), &[], append_ms, out);
    }

    /// Like [`Sessionizer::on_batch`], with each event's binary form as the
    /// log record holds it (`raw[i]`, see `LogBatch::decode_raw`), which
    /// tells duplicates from conflicts without encoding every event again.
    /// With `raw` empty (no log, as in `detect`) events are encoded here,
    /// the same way.
    pub fn on_batch_raw(&mut self, batch: LogBatch, raw: &[&[u8]], append_ms: Option<i64>, out: &mut Output) {
        let key = ufse_schema::log_key(&batch.project, &batch.sid);
        let now = append_ms.unwrap_or(self.clock);
        let rules = Arc::clone(&self.rules);
        let ended = &mut self.ended;
        let session = self.sessions.get_or_insert_with(&key, || {
            let mut s = Session::new(&key, &batch, now);
            // A sid back after its session ended by silence continues as the next part.
            if let Some((part, _)) = ended.remove(key.as_str()) {
                s.live.part = part;
            }
            s
        });
        session.catch_up(self.scan_clock, &self.config);
        session.last_append = session.last_append.max(now);
        session.skew = (batch.skew_ms, batch.received_ms);
        if batch.uid.is_some() {
            session.live.uid = batch.uid.as_deref().map(Box::from);
        }
        let mut stored = StoredEvents { first_ts: i64::MAX, max_cts: i64::MIN, ..StoredEvents::default() };
        // Scroll legs are measured in viewports: an event without its own
        // `vh` takes the batch's (after its identity is taken, so what is
        // stored stays as sent).
        let batch_vh = batch.ctx.as_ref().and_then(|c| c.get("vh")).and_then(serde_json::Value::as_f64);
        for (i, mut ev) in batch.events.into_iter().enumerate() {
            let encoded;
            let identity: &[u8] = match raw.get(i).copied() {
                Some(bytes) => bytes,
                None => {
                    encoded = ev.to_binary();
                    &encoded
                }
            };
            match session.seen.insert(ev.seq, digest(identity)) {
                Seen::New => {}
                Seen::Duplicate => {
                    out.drop(DropReason::Duplicate);
                    continue;
                }
                Seen::Conflict => {
                    out.drop(DropReason::SeqConflict);
                    continue;
                }
            }
            if let Body::Scroll { vh: vh @ None, .. } = &mut ev.body {
                *vh = batch_vh;
            }
            if self.keep_events {
                stored.positions.push(i as u32);
                stored.first_ts = stored.first_ts.min(ev.ts);
                stored.max_cts = stored.max_cts.max(corrected_ts(ev.ts, batch.skew_ms, batch.received_ms));
            }
            // Late against everything seen before it, not against the last
            // batch's bound, so how batches are split changes nothing.
            let bound = session.released_to.max(session.max_ts.saturating_sub(self.config.reorder_ms));
            if ev.ts < bound {
                out.drop(DropReason::Late);
                continue;
            }
            session.max_ts = session.max_ts.max(ev.ts);
            match session.buffer.back() {
                Some(last) if (last.ts, last.seq) > (ev.ts, ev.seq) => {
                    let at = session.buffer.partition_point(|e| (e.ts, e.seq) < (ev.ts, ev.seq));
                    session.buffer.insert(at, ev);
                }
                _ => session.buffer.push_back(ev),
            }
        }
        if !stored.positions.is_empty() {
            stored.project = batch.project;
            stored.sid = batch.sid;
            out.events.push(stored);
        }
        let bound = session.max_ts.saturating_sub(self.config.reorder_ms);
        session.release(&self.config, &rules, &key, bound, out);
        session.release_overflow(&self.config, &rules, &key, out);
        // Reported even when nothing was released yet: the uid may be new.
        session.report(&key, out);
        if session.is_pending() {
            if !self.pending.contains(key.as_str()) {
                self.pending.insert(key.into());
            }
        } else {
            self.pending.remove(key.as_str());
        }
        if let Some(t) = append_ms {
            self.on_clock(t, out);
        }
    }

    /// The partition's log time reached `append_ms` (a tick or any record):
    /// sessions silent long enough get their windows closed or end.
    pub fn on_clock(&mut self, append_ms: i64, out: &mut Output) {
        self.clock = self.clock.max(append_ms);
        // Scans happen at fixed points of log time, so a replay scans at
        // the same moments and decides the same.
        let every = self.config.silence_scan_ms.max(1);
        if self.clock - self.last_scan < every {
            return;
        }
        self.last_scan = self.clock - self.clock % every;
        self.scan_clock = self.clock;
        let every = self.config.idle_scan_ms();
        if self.clock - self.last_idle_scan >= every {
            self.last_idle_scan = self.clock - self.clock % every;
            self.end_idle(out);
        }
        self.release_silent(out);
    }

    /// Ends the sessions silent for the idle timeout, in key order; forgets
    /// ended sessions past the longest session.
    fn end_idle(&mut self, out: &mut Output) {
        let (clock, timeout) = (self.clock, self.config.idle_timeout_ms);
        let mut idle: Vec<Box<str>> = self
            .sessions
            .iter()
            .filter(|s| clock - s.last_append >= timeout)
            .map(|s| s.key.clone())
            .collect();
        idle.sort_unstable();
        let rules = Arc::clone(&self.rules);
        for key in idle {
            let mut s = self.sessions.remove(&key).expect("key was just listed");
            self.pending.remove(&key);
            s.end(&self.config, &rules, &key, out);
            self.ended.insert(key, (s.live.part + 1, clock));
        }
        let horizon = clock - self.config.max_duration_ms;
        self.ended.retain(|_, (_, at)| *at >= horizon);
    }

    /// Lets the pending sessions' time move on by their silence, in key order.
    fn release_silent(&mut self, out: &mut Output) {
        let (clock, cfg, rules) = (self.clock, &self.config, &*self.rules);
        let sessions = &mut self.sessions;
        self.pending.retain(|key| {
            let s = sessions.get_mut(key).expect("pending sessions are live");
            let silence = clock - s.last_append;
            if silence < cfg.reorder_ms {
                return true;
            }
            // The browser has been quiet for `silence` ms of server time, so
            // its clock has moved on about as much: nothing more can fall
            // before `max_ts + silence - reorder_ms`.
            let bound = s.max_ts.saturating_add(silence - cfg.reorder_ms);
            if s.release(cfg, rules, key, bound, out) {
                s.report(key, out);
            }
            // Sessions going quiet are about to be the many idle ones: keep them small.
            s.seen.shrink();
            s.is_pending()
        });
    }

    /// End of input: every session ends and every window closes.
    pub fn finish(&mut self, out: &mut Output) {
        let rules = Arc::clone(&self.rules);
        let mut keys: Vec<Box<str>> = self.sessions.iter().map(|s| s.key.clone()).collect();
        keys.sort();
        self.pending.clear();
        for key in keys {
            let mut s = self.sessions.remove(&key).expect("key was just listed");
            s.end(&self.config, &rules, &key, out);
        }
    }
}

impl Session {
    fn new(key: &str, batch: &LogBatch, now: i64) -> Self {
        Session {
            key: key.into(),
            seen: SeqSet::default(),
            buffer: Buffer::default(),
            max_ts: i64::MIN,
            released_to: i64::MIN,
            last_append: now,
            skew: (batch.skew_ms, batch.received_ms),
            engine: SessionEngine::new(),
            live: Live::default(),
        }
    }

    /// Has buffered events or open windows: silence scans must visit it.
    fn is_pending(&self) -> bool {
        !self.buffer.is_empty() || !self.engine.is_idle()
    }

    /// Moves the bound as far as the silence scans since this session was
    /// last touched would have. Those scans skip sessions with nothing
    /// pending, and for them a scan only moves the bound, which grows with
    /// the scan's clock: applying the latest scan alone is the same as
    /// applying every one.
    fn catch_up(&mut self, scan_clock: i64, cfg: &SessionizerConfig) {
        let silence = scan_clock - self.last_append;
        if silence >= cfg.reorder_ms && !self.is_pending() {
            self.released_to = self.released_to.max(self.max_ts.saturating_add(silence - cfg.reorder_ms));
        }
    }

    /// Evaluates the oldest buffered events early when the buffer is over
    /// its cap (a client whose clock does not move would otherwise never
    /// let them go); later arrivals before them are then late.
    fn release_overflow(&mut self, cfg: &SessionizerConfig, rules: &RuleSet, key: &str, out: &mut Output) {
        let over = self.buffer.len().saturating_sub(cfg.max_buffered_events);
        if over == 0 {
            return;
        }
        // Exactly the oldest `over`; events at the same time as the last of
        // them still count as in order.
        let ts = self.buffer[over - 1].ts;
        self.release_at_least(cfg, rules, key, ts, over, out);
    }

    /// Reports the live summary once it has evaluated events.
    fn report(&self, key: &str, out: &mut Output) {
        if self.live.has_events() {
            out.summaries.push(self.live.summary(key_project(key), key_sid(key), false));
        }
    }

    /// Evaluates, in order, every buffered event before `bound`, then lets
    /// session time reach `bound`. Returns whether anything was evaluated
    /// or emitted (whether the summary changed).
    fn release(
        &mut self,
        cfg: &SessionizerConfig,
        rules: &RuleSet,
        key: &str,
        bound: i64,
        out: &mut Output,
    ) -> bool {
        if bound <= self.released_to {
            return false;
        }
        self.release_at_least(cfg, rules, key, bound, 0, out)
    }

    /// [`Session::release`], evaluating at least the `at_least` oldest
    /// buffered events even if they are not before `bound`.
    fn release_at_least(
        &mut self,
        cfg: &SessionizerConfig,
        rules: &RuleSet,
        key: &str,
        bound: i64,
        at_least: usize,
        out: &mut Output,
    ) -> bool {
        self.released_to = self.released_to.max(bound);
        let sid = key_sid(key);
        let n = self.buffer.partition_point(|e| e.ts < bound).max(at_least.min(self.buffer.len()));
        // Evaluated in place: events are large, and moving them costs more
        // than the rules do.
        let mut buffer = std::mem::take(&mut self.buffer);
        let mut signals = Vec::new();
        for ev in buffer.range(..n) {
            // Events are released in time order, so the part's last event
            // is the last one released.
            if self.live.has_events() {
                let gap = ev.ts - self.live.end_ts > cfg.idle_timeout_ms;
                let long = ev.ts - self.live.start_ts > cfg.max_duration_ms;
                if gap || long {
                    let before = signals.len();
                    self.engine.on_end(rules, sid, &mut signals);
                    self.live.count_signals(&signals[before..]);
                    out.summaries.push(self.live.summary(key_project(key), sid, true));
                    self.engine = self.engine.next_part();
                    self.live.next_part();
                }
            }
            let before = signals.len();
            self.engine.on_event(rules, sid, ev, &mut signals);
            self.live.count_event(ev, self.engine.page());
            self.live.count_signals(&signals[before..]);
        }
        if n > 0 {
            buffer.drain(..n);
        }
        // Most sessions sit idle with an empty buffer: give its memory back.
        if buffer.is_empty() {
            buffer = Buffer::default();
        } else if buffer.capacity() > 4 * buffer.len() {
            buffer.shrink_to_fit();
        }
        self.buffer = buffer;
        let before = signals.len();
        self.engine.on_watermark(rules, sid, bound, &mut signals);
        self.live.count_signals(&signals[before..]);
        let changed = n > 0 || !signals.is_empty();
        self.emit(key, signals, out);
        changed
    }

    fn emit(&self, key: &str, signals: Vec<Signal>, out: &mut Output) {
        let (skew, received) = self.skew;
        out.signals.extend(signals.into_iter().map(|signal| SessionSignal {
            project: key_project(key).to_owned(),
            uid: self.live.uid.as_deref().map(str::to_owned),
            seen_ms: corrected_ts(signal.ts, skew, received),
            signal,
        }));
    }

    /// The session is over: release everything, close every window.
    fn end(&mut self, cfg: &SessionizerConfig, rules: &RuleSet, key: &str, out: &mut Output) {
        let _ = self.release(cfg, rules, key, self.max_ts.saturating_add(1), out);
        let mut signals = Vec::new();
        self.engine.on_end(rules, key_sid(key), &mut signals);
        self.live.count_signals(&signals);
        self.emit(key, signals, out);
        if self.live.has_events() {
            out.summaries.push(self.live.summary(key_project(key), key_sid(key), true));
        }
    }
}

fn key_project(key: &str) -> &str {
    key.split_once(':').map_or("", |(project, _)| project)
}

fn key_sid(key: &str) -> &str {
    // Project names never contain ':' (the store refuses them), so the sid
    // is everything after the first one.
    key.split_once(':').map_or(key, |(_, sid)| sid)
}

/// A 32-bit content digest, stable across processes, builds and
/// platforms (unlike std's hasher), taking eight bytes a step: it runs over
/// every event, and byte-at-a-time FNV showed up in profiles.
fn digest(bytes: &[u8]) -> u32 {
    const K: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("chunks of eight bytes"));
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(K);
    }
    h = (h ^ (h >> 31)).wrapping_mul(K);
    (h ^ (h >> 32)) as u32
}

#[cfg(test)]
mod tests;

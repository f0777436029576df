//! The pre-built run: every session's batches, gzipped and framed as
//! complete HTTP/1.1 requests, with the time each is due and the ground
//! truth of what was injected where.
//!
//! Everything is built before the clock starts (like wrk replaying one
//! request) so the generator costs the server's cores nothing during the
//! run. Nothing is ever replayed twice: the server deduplicates by
//! `(sid, seq)`, so a cycled batch would measure the dedup path, not ingest.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Result};

use crate::gen::{batch_json, cut_batches, gzip, session_events, InjectKind, Injection, SessionSpec};
use crate::rng::Rng;

/// Mean time between events of a session when the run is unpaced; only
/// the session's own clock sees it, so any plausible value will do.
const UNPACED_DT_MS: f64 = 250.0;

/// What to build.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    /// Concurrent sessions.
    pub sessions: usize,
    /// Most events in one batch.
    pub events_per_batch: usize,
    /// Events over all sessions.
    pub total_events: u64,
    /// Paced: sessions span `duration_ms` of client time, which the run
    /// follows in wall time; unpaced: batches go out as fast as answered.
    pub paced: bool,
    /// Run length when paced.
    pub duration_ms: i64,
    /// SDK flush interval when paced.
    pub flush_ms: i64,
    /// Fraction of sessions that get one injected pattern.
    pub inject: f64,
    /// PRNG seed.
    pub seed: u64,
    /// Prefix of every sid, unique per run so runs against one data dir do not mix.
    pub run_id: String,
    /// Client time of the run's start, ms since the epoch.
    pub base_ts: i64,
    /// gzip level.
    pub gzip_level: u32,
    /// Request line and headers up to `Content-Length: `.
    pub request_head: String,
    /// Pre-built bytes allowed.
    pub max_bytes: u64,
    /// Threads used to build (the build happens before the run).
    pub build_threads: usize,
}

/// One ready-to-write request.
#[derive(Debug)]
pub struct PlannedBatch {
    /// When to send it, ms after the run starts (0 when unpaced).
    pub due_ms: u64,
    /// Request line, headers and gzipped body.
    pub request: Box<[u8]>,
}

/// One session's batches and ground truth.
#[derive(Debug)]
pub struct PlannedSession {
    /// Session id.
    pub sid: String,
    /// In send order.
    pub batches: Vec<PlannedBatch>,
    /// The injected pattern.
    pub injection: Option<Injection>,
    /// Batches holding the pattern's events: all must be acknowledged for
    /// the pattern to count as expected.
    pub pattern_batches: Option<Range<usize>>,
}

/// The whole run.
#[derive(Debug)]
pub struct Plan {
    /// All sessions.
    pub sessions: Vec<PlannedSession>,
    /// Events over all batches.
    pub events: u64,
    /// Batches.
    pub batches: u64,
    /// Bytes of all requests.
    pub bytes: u64,
    /// Gzipped body bytes.
    pub body_bytes: u64,
    /// Uncompressed JSON bytes.
    pub json_bytes: u64,
}

/// Whether session `i` is injected, and with what: spread evenly over the
/// sessions, kinds in round-robin order.
pub fn injection_for(i: usize, fraction: f64) -> Option<InjectKind> {
    let f = fraction.clamp(0.0, 1.0);
    let before = (i as f64 * f).floor() as usize;
    let after = ((i + 1) as f64 * f).floor() as usize;
    (after > before).then(|| InjectKind::ALL[before % InjectKind::ALL.len()])
}

struct Built {
    session: PlannedSession,
    events: u64,
    json_bytes: u64,
    body_bytes: u64,
}

fn build_session(cfg: &PlanConfig, index: usize, n_events: usize) -> Built {
    let mut rng = Rng::new(cfg.seed ^ (index as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    // Paced sessions start at spread-out moments so their flushes do not
    // all fall on the same tick.
    let offset = if cfg.paced { rng.range(0, cfg.flush_ms.max(1) - 1) } else { 0 };
    let inject = injection_for(index, cfg.inject);
    let mean_dt_ms = if cfg.paced {
        // The pattern's quiet period comes out of the session's time, so
        // injected sessions end with the others instead of trailing the run.
        let extra = inject.map_or(0, InjectKind::extra_ms);
        ((cfg.duration_ms - offset - extra).max(1000) as f64) / n_events.max(1) as f64
    } else {
        UNPACED_DT_MS
    };
    let spec = SessionSpec { index, n_events, start_ts: cfg.base_ts + offset, mean_dt_ms, inject };
    let generated = session_events(&mut rng, &spec);
    let cuts = cut_batches(&generated.events, cfg.events_per_batch, cfg.paced.then_some(cfg.flush_ms));
    let sid = format!("{}-{index}", cfg.run_id);
    let uid = format!("u{index}");
    let mut batches = Vec::with_capacity(cuts.len());
    let (mut json_bytes, mut body_bytes) = (0, 0);
    for cut in &cuts {
        let json = batch_json(&sid, &uid, cut.send_ts, &generated.events[cut.range.clone()]);
        let body = gzip(json.as_bytes(), cfg.gzip_level);
        json_bytes += json.len() as u64;
        body_bytes += body.len() as u64;
        let mut req = Vec::with_capacity(cfg.request_head.len() + 16 + body.len());
        req.extend_from_slice(cfg.request_head.as_bytes());
        req.extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        req.extend_from_slice(&body);
        let due_ms = if cfg.paced { (cut.send_ts - cfg.base_ts).max(0) as u64 } else { 0 };
        batches.push(PlannedBatch { due_ms, request: req.into_boxed_slice() });
    }
    let pattern_batches = generated.injection.as_ref().map(|inj| {
        let at = |seq: u64| {
            cuts.iter().position(|c| c.range.contains(&((seq - 1) as usize))).expect("seq is in a batch")
        };
        at(inj.first_seq)..at(inj.last_seq) + 1
    });
    Built {
        events: generated.events.len() as u64,
        session: PlannedSession { sid, batches, injection: generated.injection, pattern_batches },
        json_bytes,
        body_bytes,
    }
}

fn events_of(total: u64, sessions: usize, index: usize) -> usize {
    let per = total / sessions as u64;
    let extra = u64::from((index as u64) < total % sessions as u64);
    (per + extra) as usize
}

/// Builds every session, on `build_threads` threads; deterministic for a
/// seed whatever the thread count, since each session has its own PRNG.
///
/// # Errors
///
/// When the run does not fit in `max_bytes` even after scaling down.
pub fn build(cfg: &PlanConfig) -> Result<(Plan, Option<u64>)> {
    if cfg.sessions == 0 {
        bail!("--sessions must be at least 1");
    }
    let mut cfg = cfg.clone();
    // Estimate the size from a sample and scale the run down to the memory
    // budget up front, rather than discovering it halfway through.
    let mut scaled = None;
    let sample: Vec<Built> = (0..cfg.sessions.min(8))
        .map(|i| build_session(&cfg, i, events_of(cfg.total_events, cfg.sessions, i)))
        .collect();
    let (s_events, s_bytes) = sample.iter().fold((0u64, 0u64), |(e, b), s| {
        (e + s.events, b + s.session.batches.iter().map(|b| b.request.len() as u64).sum::<u64>())
    });
    let per_event = s_bytes as f64 / s_events.max(1) as f64;
    let estimate = per_event * cfg.total_events as f64;
    if estimate > cfg.max_bytes as f64 {
        let fit = ((cfg.max_bytes as f64 / per_event) * 0.95) as u64;
        if fit < cfg.sessions as u64 * 2 {
            bail!("--max-prebuilt-mb is too small for even two events per session");
        }
        scaled = Some(fit);
        cfg.total_events = fit;
    }
    let n = cfg.sessions;
    let threads = cfg.build_threads.clamp(1, n);
    let used = AtomicU64::new(0);
    let chunk = n.div_ceil(threads);
    let cfg_ref = &cfg;
    let parts: Vec<Result<Vec<Built>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let used = &used;
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for i in (t * chunk)..((t + 1) * chunk).min(n) {
                        let b = build_session(cfg_ref, i, events_of(cfg_ref.total_events, n, i));
                        let bytes: u64 = b.session.batches.iter().map(|b| b.request.len() as u64).sum();
                        // The estimate may be off; never let it run away.
                        if used.fetch_add(bytes, Ordering::Relaxed) + bytes
                            > cfg_ref.max_bytes + cfg_ref.max_bytes / 4
                        {
                            bail!("the pre-built batches exceed --max-prebuilt-mb; lower the event count");
                        }
                        out.push(b);
                    }
                    Ok(out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("build thread panicked")).collect()
    });
    let mut plan = Plan {
        sessions: Vec::with_capacity(n),
        events: 0,
        batches: 0,
        bytes: 0,
        body_bytes: 0,
        json_bytes: 0,
    };
    for part in parts {
        for b in part? {
            plan.events += b.events;
            plan.batches += b.session.batches.len() as u64;
            plan.bytes += b.session.batches.iter().map(|b| b.request.len() as u64).sum::<u64>();
            plan.body_bytes += b.body_bytes;
            plan.json_bytes += b.json_bytes;
            plan.sessions.push(b.session);
        }
    }
    Ok((plan, scaled))
}

//! Memory per idle live session: not a timing but a measurement.
//!
//! Creates N sessions (100,000 under `cargo bench`, 1,000 as a smoke run
//! under `cargo test`; `UFSE_SESSIONS` overrides) each with a realistic short
//! history (one batch of 20 events: a page load, moves, scrolls, three
//! clicks each answered by a mutation or a request, a field edit), then
//! advances log time until every reorder buffer is released and every rule
//! window is closed, without reaching the idle timeout, so all N stay live.
//! It reports:
//!
//! - the heap growth per session, from a counting global allocator (bytes
//!   requested, so the allocator's own per-block overhead comes on top;
//!   the live block count is printed to estimate it), the sessionizer and
//!   its map included;
//! - the resident set growth per session, with mimalloc underneath as in
//!   the `ufse` binary;
//! - the serialized snapshot bytes per session (`Sessionizer::snapshot`).
//!
//! The targets: at most 1 KiB per idle live session, all state included
//! (the hot path), and at most 512 bytes (the engine: a million live
//! sessions in under 1 GiB).
//!
//! Run: `cargo bench -p ufse-benches --bench session_memory`.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ufse_benches::{log_batch, short_history_json, sid, T0};
use ufse_engine::RuleSet;
use ufse_sessionizer::{Output, Sessionizer, SessionizerConfig};

/// The `ufse` binary's allocator, counting live bytes and live blocks.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE_BYTES.fetch_add(by, Ordering::Relaxed) + by;
    PEAK_BYTES.fetch_max(now, Ordering::Relaxed);
}

static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;

// SAFETY: every call is forwarded unchanged to `INNER`; the counters are
// only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { INNER.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
            LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { INNER.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
            LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { INNER.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> (usize, usize) {
    (LIVE_BYTES.load(Ordering::Relaxed), LIVE_BLOCKS.load(Ordering::Relaxed))
}

/// Resident set size from `/proc/self/statm`, where there is one.
fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n: usize = match std::env::var("UFSE_SESSIONS") {
        Ok(v) => v.parse().expect("UFSE_SESSIONS is a number"),
        Err(_) if bench => 100_000,
        Err(_) => 1_000,
    };
    let rules = Arc::new(RuleSet::default());
    let config = SessionizerConfig::default();
    let idle_timeout_ms = config.idle_timeout_ms;
    // One validated batch is reused for every session with its sid changed,
    // so the fixture itself adds nothing to the heap growth measured.
    let started = Instant::now();
    let template = short_history_json(&sid(0));
    let mut sessions = Sessionizer::new(config, Arc::clone(&rules));
    let mut out = Output::default();
    let (bytes0, blocks0) = live();
    let rss0 = rss_bytes();

    // One batch per session, appended 1 ms apart in log time.
    let mut batch = log_batch(&template);
    let mut append_ms = T0 + 10_000;
    for i in 0..n {
        batch.sid = sid(i);
        append_ms += 1;
        sessions.on_batch(&batch, Some(append_ms), &mut out);
        out.signals.clear();
        out.summaries.clear();
    }
    let created = started.elapsed();
    // Log time moves on 60 s past the last batch (well before the 30 min
    // idle timeout): every buffered event is released, every window closes.
    sessions.on_clock(append_ms + 60_000, &mut out);
    let signals = out.signals.len();
    drop(out);
    drop(batch);
    assert_eq!(sessions.live_sessions(), n, "every session is still live");
    assert!(60_000 < idle_timeout_ms);
    let (bytes1, blocks1) = live();
    let rss1 = rss_bytes();

    let snapshot = sessions.snapshot();
    let heap = bytes1.saturating_sub(bytes0);
    let blocks = blocks1.saturating_sub(blocks0);
    let per_session = heap as f64 / n as f64;
    println!(
        "session_memory: {n} idle live sessions, 20 events each ({signals} signals), built in {created:.2?}"
    );
    println!("heap bytes per idle session: {per_session:.0}");
    println!("heap blocks per idle session: {:.1}", blocks as f64 / n as f64);
    println!("snapshot bytes per idle session: {:.0}", snapshot.len() as f64 / n as f64);
    if let (Some(a), Some(b)) = (rss0, rss1) {
        println!(
            "rss growth per idle session: {:.0} (includes allocator overhead and freed-but-kept pages)",
            b.saturating_sub(a) as f64 / n as f64
        );
    }
    println!(
        "peak heap during the run: {:.1} MiB",
        PEAK_BYTES.load(Ordering::Relaxed) as f64 / (1 << 20) as f64
    );
    println!(
        "for reference: size_of Event {} B, SessionEngine {} B, SessionSummary {} B",
        std::mem::size_of::<ufse_schema::Event>(),
        std::mem::size_of::<ufse_engine::SessionEngine>(),
        std::mem::size_of::<ufse_sessionizer::SessionSummary>()
    );
    // The hot path's target (1 KiB), and the engine's (512 B: a million
    // live sessions in under 1 GiB).
    for target in [1024.0, 512.0] {
        let verdict = if per_session <= target { "within" } else { "OVER" };
        println!("target <= {target} heap bytes per idle session: {verdict}");
    }
    drop(snapshot);
    drop(sessions);
}

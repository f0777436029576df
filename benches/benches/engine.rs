//! The processor's evaluation work on pre-decoded batches: the sessionizer
//! (dedup, reorder buffer, summaries, silence scans, rules) over many
//! interleaved sessions, and the rule engine alone on one session.
//!
//! Run: `cargo bench -p ufse-benches --bench engine`. Throughput is in events.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ufse_benches::{full_batch, sid, BATCH_EVENTS, BATCH_SPAN_MS, T0};
use ufse_engine::{RuleSet, SessionEngine};
use ufse_schema::LogBatch;
use ufse_sessionizer::{Output, Sessionizer, SessionizerConfig};

/// Sessions interleaved in one sessionizer (one log partition).
const SESSIONS: usize = 1_000;
/// Batches per session, each of [`BATCH_EVENTS`] events.
const BATCHES: u64 = 10;

/// Drains `out` as the processor does after each step.
fn drain(out: &mut Output) -> usize {
    let n = out.signals.len() + out.summaries.len();
    out.signals.clear();
    out.summaries.clear();
    out.events.clear();
    n
}

/// Every session sends its batch `r` in round `r`, sessions round-robin,
/// log time advancing so one round takes as long as a batch spans. The
/// batch contents are shared by all sessions (only the sid differs), so the
/// fixture stays small while every session gets its own state.
fn run_sessions(rules: &Arc<RuleSet>, rounds: &mut [LogBatch], sids: &[String]) -> usize {
    let mut s = Sessionizer::new(SessionizerConfig::default(), Arc::clone(rules));
    let mut out = Output::default();
    let mut produced = 0;
    let per_batch_ms = (BATCH_SPAN_MS / sids.len() as i64).max(1);
    let mut append_ms = T0 + 1_000;
    for batch in rounds.iter_mut() {
        for sid in sids {
            batch.sid.clone_from(sid);
            append_ms += per_batch_ms;
            s.on_batch(batch, Some(append_ms), &mut out);
            produced += drain(&mut out);
        }
    }
    s.finish(&mut out);
    produced + drain(&mut out)
}

fn engine(c: &mut Criterion) {
    let rules = Arc::new(RuleSet::default());
    let mut rounds: Vec<LogBatch> = (0..BATCHES).map(|r| full_batch(&sid(0), r)).collect();
    let sids: Vec<String> = (0..SESSIONS).map(sid).collect();

    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(SESSIONS as u64 * BATCHES * BATCH_EVENTS as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("sessionizer_1000x10x100", |b| b.iter(|| run_sessions(&rules, &mut rounds, &sids)));
    g.finish();

    // One session's events in (ts, seq) order straight into the rule engine.
    let events: Vec<_> = rounds.iter().flat_map(|b| b.events.iter().cloned()).collect();
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(30);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("session_engine_on_event_1000", |b| {
        b.iter_batched_ref(
            || (SessionEngine::new(), Vec::with_capacity(64)),
            |(engine, out)| {
                for ev in &events {
                    engine.on_event(&rules, "s", black_box(ev), out);
                }
                engine.on_end(&rules, "s", out);
                out.len()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);

//! Determinism, proven on generated sessions: the signals are the same
//! whether a session's events arrive in one batch or many, shuffled within
//! the reorder bound, interleaved with other sessions, repeated, split
//! across partitions, with the state snapshotted and restored in the
//! middle, or fed as `serve` feeds them (with log append times, so windows
//! close by silence).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Value};
use ufse_engine::{RuleSet, Signal};
use ufse_schema::{parse_event, Event, LogBatch};
use ufse_sessionizer::{Output, Sessionizer, SessionizerConfig};

const T0: i64 = 1_732_750_000_000;

/// One generated event: a kind, the gap since the previous one, and a
/// position (coarse, so clicks land close together and rage runs happen).
fn event_strategy() -> impl Strategy<Value = (u8, i64, u8)> {
    (0u8..14, prop_oneof![3 => 0i64..400, 2 => 400i64..1600, 1 => 1600i64..6000], 0u8..4)
}

fn make_event(seq: u64, ts: i64, kind: u8, pos: u8) -> Event {
    let p = f64::from(pos) * 30.0;
    let page = |n: u8| format!("https://shop.example.com/p/{}", n % 2);
    let v: Value = match kind {
        0..=3 => json!({"t":"click","ts":ts,"seq":seq,"x":p,"y":p,"sel":format!("button#b{}", pos % 2),
            "el":{"tag":"button"},"txt":if pos == 3 { "+" } else { "Go" }}),
        4 => json!({"t":"mutation","ts":ts,"seq":seq,"n":1}),
        5 => json!({"t":"nav","ts":ts,"seq":seq,"url":page(pos),"nav":if pos == 0 { "pop" } else { "push" }}),
        6 => json!({"t":"scroll","ts":ts,"seq":seq,"y":f64::from(pos) * 600.0,"vh":800}),
        7 | 8 => {
            json!({"t":"move","ts":ts,"seq":seq,"x":if seq.is_multiple_of(2) { 0.0 } else { 100.0 + p },"y":10})
        }
        9 => json!({"t":"error","ts":ts,"seq":seq,"msg":"boom","kind":"error"}),
        10 => json!({"t":"net","ts":ts,"seq":seq,"method":"POST","url":"https://api.example.com/x",
            "status":if pos < 2 { 503 } else { 200 },"dur":u64::from(pos) * 700}),
        11 => json!({"t":"submit","ts":ts,"seq":seq,"sel":"form#f"}),
        12 => json!({"t":"longtask","ts":ts,"seq":seq,"dur":800 + u64::from(pos) * 300}),
        _ => json!({"t":"select","ts":ts,"seq":seq}),
    };
    parse_event(v.as_object().expect("an object").clone()).expect("generated events are valid")
}

/// Sessions as (sid, events in time order).
fn sessions_strategy() -> impl Strategy<Value = Vec<(String, Vec<Event>)>> {
    prop::collection::vec(prop::collection::vec(event_strategy(), 1..40), 1..4).prop_map(|sessions| {
        sessions
            .into_iter()
            .enumerate()
            .map(|(i, evs)| {
                let mut ts = T0;
                let events = evs
                    .into_iter()
                    .enumerate()
                    .map(|(j, (kind, gap, pos))| {
                        ts += gap;
                        make_event(j as u64 + 1, ts, kind, pos)
                    })
                    .collect();
                (format!("s{i}"), events)
            })
            .collect()
    })
}

fn batch(sid: &str, events: Vec<Event>) -> LogBatch {
    LogBatch {
        project: "default".into(),
        sid: sid.into(),
        uid: None,
        received_ms: T0,
        skew_ms: 0,
        sdk_dropped: 0,
        ctx: None,
        events,
    }
}

fn sessionizer() -> Sessionizer {
    Sessionizer::new(SessionizerConfig::default(), Arc::new(RuleSet::default()))
}

fn sorted(mut v: Vec<Signal>) -> Vec<Signal> {
    v.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    v
}

fn signals(out: Output) -> Vec<Signal> {
    out.signals.into_iter().map(|s| s.signal).collect()
}

/// Each session in one batch, one after the other, as `ufse detect` reads a file.
fn reference(sessions: &[(String, Vec<Event>)]) -> Vec<Signal> {
    let mut s = sessionizer();
    let mut out = Output::default();
    for (sid, events) in sessions {
        s.on_batch(&batch(sid, events.clone()), None, &mut out);
    }
    s.finish(&mut out);
    sorted(signals(out))
}

/// How a run cuts and delivers the sessions.
#[derive(Debug, Clone)]
struct Delivery {
    /// Chunk sizes, cycled.
    chunk: Vec<usize>,
    /// Seed for shuffling within chunks, interleaving and repeats.
    seed: u64,
    partitions: u64,
    /// Snapshot and restore every sessionizer before this many batches.
    cut: usize,
}

fn delivery_strategy() -> impl Strategy<Value = Delivery> {
    (prop::collection::vec(1usize..5, 1..4), any::<u64>(), 1u64..4, 0usize..30)
        .prop_map(|(chunk, seed, partitions, cut)| Delivery { chunk, seed, partitions, cut })
}

/// A small deterministic generator for the delivery's choices.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn partition_of(sid: &str, n: u64) -> usize {
    let mut h = DefaultHasher::new();
    sid.hash(&mut h);
    (h.finish() % n) as usize
}

/// Cuts every session into chunks (reversed inside where the chunk spans
/// less than the reorder bound), interleaves the sessions' chunk streams,
/// repeats some chunks, and feeds them to per-partition sessionizers,
/// snapshotting and restoring them all at the cut.
fn delivered(sessions: &[(String, Vec<Event>)], d: &Delivery) -> Vec<Signal> {
    let mut mix = Mix(d.seed);
    let reorder = SessionizerConfig::default().reorder_ms;
    let mut streams: Vec<Vec<LogBatch>> = sessions
        .iter()
        .map(|(sid, events)| {
            let mut out = Vec::new();
            let (mut i, mut k) = (0, 0);
            while i < events.len() {
                let n = d.chunk[k % d.chunk.len()].min(events.len() - i);
                k += 1;
                let mut chunk: Vec<Event> = events[i..i + n].to_vec();
                i += n;
                let span = chunk[chunk.len() - 1].ts - chunk[0].ts;
                if span < reorder && mix.next().is_multiple_of(2) {
                    chunk.reverse();
                }
                out.push(batch(sid, chunk));
            }
            out.reverse();
            out
        })
        .collect();
    let mut order = Vec::new();
    while streams.iter().any(|s| !s.is_empty()) {
        let live: Vec<usize> = (0..streams.len()).filter(|&i| !streams[i].is_empty()).collect();
        let pick = live[(mix.next() as usize) % live.len()];
        let b = streams[pick].pop().expect("a live stream");
        if mix.next().is_multiple_of(5) {
            order.push(b.clone());
        }
        order.push(b);
    }
    let mut parts: Vec<Sessionizer> = (0..d.partitions).map(|_| sessionizer()).collect();
    let mut out = Output::default();
    for (i, b) in order.iter().enumerate() {
        if i == d.cut {
            parts = parts
                .iter()
                .map(|p| {
                    Sessionizer::restore(
                        &p.snapshot(),
                        SessionizerConfig::default(),
                        Arc::new(RuleSet::default()),
                    )
                    .expect("a snapshot restores")
                })
                .collect();
        }
        parts[partition_of(&b.sid, d.partitions)].on_batch(b, None, &mut out);
    }
    for p in &mut parts {
        p.finish(&mut out);
    }
    sorted(signals(out))
}

/// As `serve` runs: batches cut as the SDK sends them (each spanning less
/// than the reorder bound, delivered when its last event happened), in log
/// order across sessions, each with its append time, the sessionizer
/// snapshotted and restored before record `cut`; then log time moves on,
/// tick by tick, until every session has ended by silence.
fn served(sessions: &[(String, Vec<Event>)], cut: usize) -> Vec<Signal> {
    let reorder = SessionizerConfig::default().reorder_ms;
    let mut records: Vec<(i64, LogBatch)> = Vec::new();
    for (sid, events) in sessions {
        let mut chunk: Vec<Event> = Vec::new();
        for ev in events {
            if chunk.first().is_some_and(|f| ev.ts - f.ts >= reorder - 1000) {
                let at = chunk[chunk.len() - 1].ts;
                records.push((at, batch(sid, std::mem::take(&mut chunk))));
            }
            chunk.push(ev.clone());
        }
        let at = chunk[chunk.len() - 1].ts;
        records.push((at, batch(sid, chunk)));
    }
    records.sort_by_key(|(at, b)| (*at, b.sid.clone()));
    let mut s = sessionizer();
    let mut out = Output::default();
    let last = records.last().map_or(T0, |r| r.0);
    for (i, (at, b)) in records.iter().enumerate() {
        if i == cut {
            s = Sessionizer::restore(
                &s.snapshot(),
                SessionizerConfig::default(),
                Arc::new(RuleSet::default()),
            )
            .expect("a snapshot restores");
        }
        s.on_batch(b, Some(*at), &mut out);
    }
    let mut t = last;
    while t < last + 31 * 60 * 1000 {
        t += 1000;
        s.on_clock(t, &mut out);
    }
    assert_eq!(s.live_sessions(), 0, "every session ended by silence");
    sorted(signals(out))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn however_sessions_are_delivered_the_signals_are_the_same(
        sessions in sessions_strategy(),
        d in delivery_strategy(),
    ) {
        let want = reference(&sessions);
        prop_assert_eq!(delivered(&sessions, &d), want.clone(), "delivery {:?}", d);
        prop_assert_eq!(served(&sessions, usize::MAX), want.clone(), "served with append times");
        prop_assert_eq!(served(&sessions, d.cut), want, "served, restored before record {}", d.cut);
    }
}

//! The store's hot-path write: one processor poll's signals stored as
//! incidents and counted into their issues, on SQLite and on PostgreSQL.
//! Each write holds 200 new incidents over 40 issues that exist already
//! (the steady state: issues recur), so every one moves counters.
//!
//! Run: `cargo bench -p ufse-benches --bench store_write`. Throughput is in
//! incidents. PostgreSQL is `UFSE_BENCH_POSTGRES_URL` (else
//! `UFSE_TEST_POSTGRES_URL`), in a schema of its own that the benchmark
//! drops; without either it measures SQLite alone and says so.

use std::io::Write;
use std::sync::atomic::{AtomicI64, Ordering};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ufse_engine::{Signal, SignalKind};
use ufse_incident_store::{IncidentStore, PgStore, SqliteStore, WriteBatch};
use ufse_sessionizer::SessionSignal;

const SIGNALS: usize = 200;
const ISSUES: usize = 40;

/// A write of new incidents: `round` makes their ids new.
fn batch(round: i64) -> WriteBatch {
    let signals = (0..SIGNALS)
        .map(|i| {
            let ts = 1_732_750_000_000 + round * 1000 + i as i64;
            SessionSignal {
                project: "default".into(),
                uid: Some(format!("u{}", i % 60)),
                seen_ms: ts,
                signal: Signal {
                    kind: if i % 2 == 0 { SignalKind::DeadClick } else { SignalKind::RageClick },
                    sid: format!("s{round}-{}", i % 80),
                    ts,
                    end_ts: ts + 500,
                    count: 3,
                    evidence: vec![1, 2, 3],
                    sel: Some(format!("button#b{}", i % (ISSUES / 2))),
                    url: Some("https://shop.example.com/cart".into()),
                },
            }
        })
        .collect();
    WriteBatch { signals, summaries: Vec::new() }
}

fn bench_store<S: IncidentStore>(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, store: &S) {
    let round = AtomicI64::new(0);
    rt.block_on(store.ensure_default_project(0)).unwrap();
    rt.block_on(store.write("ufse", &batch(-1))).unwrap();
    let mut g = c.benchmark_group("store_write");
    g.throughput(Throughput::Elements(SIGNALS as u64));
    g.bench_function(BenchmarkId::from_parameter(name), |b| {
        b.iter_batched(
            || batch(round.fetch_add(1, Ordering::Relaxed)),
            |batch| {
                let stats = rt.block_on(store.write("ufse", &batch)).unwrap();
                assert_eq!(stats.new_incidents, SIGNALS as u64);
            },
            criterion::BatchSize::SmallInput,
        );
    });
    g.finish();
}

fn store_write(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = rt.block_on(SqliteStore::open(&dir.path().join("ufse.db"))).unwrap();
    bench_store(c, &rt, "sqlite", &sqlite);

    let Some(url) =
        std::env::var("UFSE_BENCH_POSTGRES_URL").or_else(|_| std::env::var("UFSE_TEST_POSTGRES_URL")).ok()
    else {
        let _ =
            writeln!(std::io::stderr(), "store_write: no UFSE_BENCH_POSTGRES_URL, PostgreSQL not measured");
        return;
    };
    let schema = format!("ufse_bench_store_{}", std::process::id());
    let pg = rt.block_on(PgStore::connect(&url, &schema)).unwrap();
    bench_store(c, &rt, "postgres", &pg);
    rt.block_on(pg.close());
    let out = std::process::Command::new("psql")
        .args([url.as_str(), "-qc", &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")])
        .output();
    if !out.is_ok_and(|o| o.status.success()) {
        let _ = writeln!(std::io::stderr(), "store_write: could not drop schema {schema}");
    }
}

criterion_group!(benches, store_write);
criterion_main!(benches);

//! Durable append throughput of the embedded event log with group commit:
//! 256 appends of ~4 KiB are queued at once (as concurrent edge requests
//! would), then all are awaited; the writer thread batches them into a few
//! write + fsync rounds.
//!
//! Run: `cargo bench -p ufse-benches --bench log_append`. Throughput is in
//! records. The log lives in a temporary directory (`$TMPDIR`, else `/tmp`),
//! and every round ends in `fsync`, so the figures depend on that disk.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ufse_benches::{batch_json, log_batch, sid, BATCH_EVENTS};
use ufse_event_log::{system_clock, EmbeddedLog, EmbeddedLogConfig};

/// Appends in flight per iteration.
const IN_FLIGHT: usize = 256;
/// Distinct session keys the appends are spread over.
const KEYS: usize = 1024;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread, parking between polls.
fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

fn log_append(c: &mut Criterion) {
    // A real ~4 KiB record: an encoded log batch of as many events as fit.
    let record = |n| log_batch(&batch_json(&sid(3), 0, n)).encode();
    let events = (1..BATCH_EVENTS).take_while(|&n| record(n + 1).len() <= 4096).last().unwrap_or(1);
    let payload = Bytes::from(record(events));
    let keys: Vec<Vec<u8>> = (0..KEYS).map(|i| format!("default:{}", sid(i)).into_bytes()).collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = EmbeddedLogConfig { tick_interval_ms: 0, ..EmbeddedLogConfig::default() };
    let log = EmbeddedLog::open(dir.path(), config.clone(), system_clock()).expect("log opens");
    let producer = log.producer();
    eprintln!(
        "log_append: {} B payloads ({events} events), {IN_FLIGHT} in flight, {} partitions, log in {}",
        payload.len(),
        config.partitions,
        dir.path().display()
    );

    let mut g = c.benchmark_group("log_append");
    g.throughput(Throughput::Elements(IN_FLIGHT as u64));
    g.sample_size(20);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
    let mut next = 0usize;
    g.bench_function("append_4k_x256_group_commit", |b| {
        b.iter(|| {
            let futures: Vec<_> = (0..IN_FLIGHT)
                .map(|i| {
                    let key = &keys[(next + i) % KEYS];
                    producer.append(key, payload.clone()).expect("queued")
                })
                .collect();
            next = next.wrapping_add(IN_FLIGHT);
            for f in futures {
                block_on(f).expect("durable");
            }
        })
    });
    g.finish();

    let stats = log.stats();
    eprintln!(
        "log_append: {} appends in {} commit rounds ({:.1} records/round), {} fsyncs",
        stats.appends,
        stats.commit_rounds,
        stats.appends as f64 / stats.commit_rounds.max(1) as f64,
        stats.fsyncs
    );
    log.close();
}

criterion_group!(benches, log_append);
criterion_main!(benches);

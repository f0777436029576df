//! The edge's per-batch work on a realistic 100-event batch: inflate and
//! validate the body, build and encode the log record; and the processor's
//! first step, decoding the record back.
//!
//! Run: `cargo bench -p ufse-benches --bench ingest_path`. Throughput is in
//! events (100 per batch).

use std::hint::black_box;
use std::io::Read;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ufse_benches::{batch_json, gzip, sid, BATCH_EVENTS, PROJECT, T0};
use ufse_schema::{parse_batch, Limits, LogBatch};

fn inflate(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(gz.len() * 4);
    flate2::read::MultiGzDecoder::new(gz).read_to_end(&mut out).expect("fixture inflates");
    out
}

fn ingest_path(c: &mut Criterion) {
    let json = batch_json(&sid(7), 0, BATCH_EVENTS);
    let gz = gzip(&json);
    let limits = Limits::default();
    let parsed = parse_batch(&json, &limits).expect("fixture is valid");
    assert_eq!(parsed.events.len(), BATCH_EVENTS);
    let received = T0 + 15_100;
    let encoded = LogBatch::from_parsed(PROJECT, received, parsed.clone()).encode();
    eprintln!(
        "ingest_path fixture: {BATCH_EVENTS} events, {} B JSON, {} B gzip, {} B log record",
        json.len(),
        gz.len(),
        encoded.len()
    );

    let mut g = c.benchmark_group("ingest_path");
    g.throughput(Throughput::Elements(BATCH_EVENTS as u64));
    g.bench_function("gunzip", |b| b.iter(|| inflate(black_box(&gz))));
    g.bench_function("parse_batch", |b| b.iter(|| parse_batch(black_box(&json), &limits).expect("valid")));
    g.bench_function("gunzip_parse_batch", |b| {
        b.iter(|| parse_batch(&inflate(black_box(&gz)), &limits).expect("valid"))
    });
    g.bench_function("from_parsed_encode", |b| {
        b.iter_batched(
            || parsed.clone(),
            |p| LogBatch::from_parsed(PROJECT, received, p).encode(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("decode", |b| b.iter(|| LogBatch::decode(black_box(&encoded)).expect("decodes")));
    g.bench_function("edge_total", |b| {
        b.iter(|| {
            let p = parse_batch(&inflate(black_box(&gz)), &limits).expect("valid");
            LogBatch::from_parsed(PROJECT, received, p).encode()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = ingest_path
}
criterion_main!(benches);

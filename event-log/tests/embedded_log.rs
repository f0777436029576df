//! End-to-end tests of the embedded log through its public API.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ufse_event_log::{
    system_clock, Clock, EmbeddedLog, EmbeddedLogConfig, LogConsumer, LogError, Polled, Record,
};

/// Drives a future on the current thread, parking until its waker fires.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct ParkWaker(Thread);
    impl Wake for ParkWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ParkWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

fn no_ticks(partitions: u32) -> EmbeddedLogConfig {
    EmbeddedLogConfig { partitions, tick_interval_ms: 0, retain_ms: 0, ..Default::default() }
}

fn manual_clock(start: u64) -> (Arc<AtomicU64>, Clock) {
    let now = Arc::new(AtomicU64::new(start));
    let reader = Arc::clone(&now);
    (now, Arc::new(move || reader.load(Ordering::SeqCst)))
}

/// Polls until `n` data records (ticks skipped) have arrived; fails after 10 s.
fn read_data(consumer: &mut dyn LogConsumer, n: usize) -> Vec<Record> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(Instant::now() < deadline, "only {} of {n} records arrived", out.len());
        match consumer.poll(n - out.len(), Duration::from_millis(100)).unwrap() {
            Polled::Records(rs) => out.extend(rs.into_iter().filter(|r| !r.is_tick())),
            Polled::Assigned(_) | Polled::Idle => {}
            Polled::Revoked(_) => panic!("unexpected revoke"),
        }
    }
    out
}

fn append_all(log: &EmbeddedLog, records: &[(String, String)]) -> Vec<ufse_event_log::Appended> {
    let producer = log.producer();
    let futures: Vec<_> =
        records.iter().map(|(k, v)| producer.append(k.as_bytes(), Bytes::from(v.clone())).unwrap()).collect();
    futures.into_iter().map(|f| block_on(f).unwrap()).collect()
}

fn numbered(keys: usize, n: usize) -> Vec<(String, String)> {
    (0..n).map(|i| (format!("session-{}", i % keys), format!("batch-{i}"))).collect()
}

fn segment_files(dir: &Path, p: u32) -> Vec<PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir.join(format!("p-{p}")))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

#[test]
fn round_trip_keeps_keyed_order_across_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), no_ticks(4), system_clock()).unwrap();
    let input = numbered(10, 200);
    let appended = append_all(&log, &input);
    for ((k, _), a) in input.iter().zip(&appended) {
        assert_eq!(a.partition, log.partition_for(k.as_bytes()));
    }
    let ends = log.end_offsets();
    assert_eq!(ends.iter().sum::<u64>(), 200);
    assert!(ends.iter().filter(|&&e| e > 0).count() >= 2, "keys spread over partitions: {ends:?}");

    let mut consumer = log.consumer("proc").unwrap();
    assert_eq!(consumer.poll(10, Duration::ZERO).unwrap(), Polled::Assigned(vec![0, 1, 2, 3]));
    let records = read_data(consumer.as_mut(), 200);
    let mut next_offset: HashMap<u32, u64> = HashMap::new();
    let mut per_key: HashMap<Bytes, Vec<usize>> = HashMap::new();
    for r in &records {
        let expected = next_offset.entry(r.partition).or_insert(0);
        assert_eq!(r.offset, *expected, "dense, ordered offsets per partition");
        *expected += 1;
        assert_eq!(r.partition, log.partition_for(&r.key));
        let n: usize = std::str::from_utf8(&r.payload).unwrap()["batch-".len()..].parse().unwrap();
        per_key.entry(r.key.clone()).or_default().push(n);
    }
    assert_eq!(per_key.len(), 10);
    for (key, seq) in per_key {
        assert_eq!(seq.len(), 20, "{key:?}");
        assert!(seq.windows(2).all(|w| w[0] < w[1]), "key {key:?} out of order: {seq:?}");
    }
    assert_eq!(consumer.poll(10, Duration::from_millis(20)).unwrap(), Polled::Idle);
}

#[test]
fn appends_survive_drop_without_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let input = numbered(7, 50);
    {
        let log = EmbeddedLog::open(dir.path(), no_ticks(3), system_clock()).unwrap();
        append_all(&log, &input);
    }
    let log = EmbeddedLog::open(dir.path(), no_ticks(3), system_clock()).unwrap();
    assert_eq!(log.end_offsets().iter().sum::<u64>(), 50);
    let mut consumer = log.consumer("proc").unwrap();
    let mut got: Vec<_> = read_data(consumer.as_mut(), 50)
        .into_iter()
        .map(|r| String::from_utf8(r.payload.to_vec()).unwrap())
        .collect();
    got.sort();
    let mut want: Vec<_> = input.into_iter().map(|(_, v)| v).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn torn_tail_is_truncated_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir.path(), no_ticks(1), system_clock()).unwrap();
        append_all(&log, &numbered(1, 10));
        log.close();
    }
    let segment = segment_files(dir.path(), 0).pop().unwrap();
    let good_len = fs::metadata(&segment).unwrap().len();
    {
        // Half a frame claiming 100 body bytes, as a kill -9 mid-write would leave.
        let mut f = OpenOptions::new().append(true).open(&segment).unwrap();
        f.write_all(&100u32.to_le_bytes()).unwrap();
        f.write_all(&[0xAB; 37]).unwrap();
    }
    let log = EmbeddedLog::open(dir.path(), no_ticks(1), system_clock()).unwrap();
    assert_eq!(fs::metadata(&segment).unwrap().len(), good_len);
    assert_eq!(log.end_offsets(), vec![10]);
    let appended = append_all(&log, &[("session-0".into(), "after-crash".into())]);
    assert_eq!(appended[0].offset, 10);

    let mut consumer = log.consumer("proc").unwrap();
    let records = read_data(consumer.as_mut(), 11);
    assert_eq!(records.iter().map(|r| r.offset).collect::<Vec<_>>(), (0..11).collect::<Vec<_>>());
    assert_eq!(records[9].payload, Bytes::from("batch-9"));
    assert_eq!(records[10].payload, Bytes::from("after-crash"));
}

#[test]
fn garbage_after_valid_frames_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir.path(), no_ticks(1), system_clock()).unwrap();
        append_all(&log, &numbered(1, 3));
    }
    let segment = segment_files(dir.path(), 0).pop().unwrap();
    let good_len = fs::metadata(&segment).unwrap().len();
    OpenOptions::new().append(true).open(&segment).unwrap().write_all(b"\x01\x02\x03").unwrap();
    let log = EmbeddedLog::open(dir.path(), no_ticks(1), system_clock()).unwrap();
    assert_eq!(fs::metadata(&segment).unwrap().len(), good_len);
    assert_eq!(log.end_offsets(), vec![3]);
}

#[test]
fn committed_offsets_survive_reopen_and_consumers_resume() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir.path(), no_ticks(1), system_clock()).unwrap();
        append_all(&log, &numbered(1, 20));
        let mut consumer = log.consumer("proc").unwrap();
        assert_eq!(consumer.committed(0).unwrap(), None);
        let first = read_data(consumer.as_mut(), 8);
        assert_eq!(first.last().unwrap().offset, 7);
        consumer.commit(0, 8).unwrap();
        assert_eq!(consumer.committed(0).unwrap(), Some(8));
        assert!(matches!(log.consumer("proc"), Err(LogError::GroupInUse(g)) if g == "proc"));
        assert!(matches!(
            consumer.commit(0, 21),
            Err(LogError::OffsetOutOfRange { partition: 0, offset: 21, end: 20 })
        ));
        assert!(matches!(consumer.commit(3, 1), Err(LogError::UnknownPartition { partition: 3, .. })));
        log.close();
    }
    let log = EmbeddedLog::open(dir.path(), no_ticks(1), system_clock()).unwrap();
    let mut consumer = log.consumer("proc").unwrap();
    assert_eq!(consumer.committed(0).unwrap(), Some(8));
    let rest = read_data(consumer.as_mut(), 12);
    assert_eq!(rest.first().unwrap().offset, 8);
    assert_eq!(rest.last().unwrap().offset, 19);

    // Other groups are independent and start at 0.
    let mut other = log.consumer("audit").unwrap();
    assert_eq!(read_data(other.as_mut(), 1)[0].offset, 0);
    assert!(matches!(log.consumer("../etc"), Err(LogError::InvalidGroup(_))));
}

#[test]
fn seek_reads_across_rolled_segments() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedLogConfig { segment_bytes: 150, ..no_ticks(1) };
    let log = EmbeddedLog::open(dir.path(), cfg, system_clock()).unwrap();
    append_all(&log, &numbered(1, 30));
    assert!(segment_files(dir.path(), 0).len() >= 5, "small segments roll");

    let mut consumer = log.consumer("proc").unwrap();
    let all = read_data(consumer.as_mut(), 30);
    assert_eq!(all.iter().map(|r| r.offset).collect::<Vec<_>>(), (0..30).collect::<Vec<_>>());
    consumer.seek(0, 17).unwrap();
    let from_17 = read_data(consumer.as_mut(), 13);
    assert_eq!(from_17[0].offset, 17);
    assert_eq!(from_17[0].payload, Bytes::from("batch-17"));
    assert!(matches!(consumer.seek(0, 31), Err(LogError::OffsetOutOfRange { end: 30, .. })));
}

#[test]
fn full_queue_rejects_immediately_instead_of_blocking() {
    // A clock that blocks while `gate` is true stalls the writer inside its round.
    let gate = Arc::new((Mutex::new(true), Condvar::new()));
    let clock_gate = Arc::clone(&gate);
    let clock: Clock = Arc::new(move || {
        let (lock, cv) = &*clock_gate;
        let mut blocked = lock.lock().unwrap();
        while *blocked {
            blocked = cv.wait(blocked).unwrap();
        }
        1_000
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedLogConfig { queue_records: 2, ..no_ticks(2) };
    let log = EmbeddedLog::open(dir.path(), cfg, clock).unwrap();
    let producer = log.producer();

    let stalled = producer.append(b"a", Bytes::from("0")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while producer.queue_depth() != 0 {
        assert!(Instant::now() < deadline, "writer never took the first record");
        thread::sleep(Duration::from_millis(1));
    }
    let queued: Vec<_> =
        (1..=2).map(|i| producer.append(b"a", Bytes::from(i.to_string())).unwrap()).collect();
    assert_eq!(producer.queue_depth(), 2);
    let started = Instant::now();
    assert!(matches!(producer.append(b"a", Bytes::from("3")), Err(LogError::Full)));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(producer.queue_depth(), 2);

    *gate.0.lock().unwrap() = false;
    gate.1.notify_all();
    let offsets: Vec<u64> =
        std::iter::once(stalled).chain(queued).map(|f| block_on(f).unwrap().offset).collect();
    assert_eq!(offsets, vec![0, 1, 2]);
    assert_eq!(producer.queue_depth(), 0);
}

#[test]
fn retention_frees_only_segments_below_every_committed_group() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedLogConfig { segment_bytes: 200, ..no_ticks(1) };
    let log = EmbeddedLog::open(dir.path(), cfg, system_clock()).unwrap();
    append_all(&log, &numbered(1, 40));
    let bases = |dir: &Path| -> Vec<u64> {
        segment_files(dir, 0)
            .iter()
            .map(|p| p.file_stem().unwrap().to_str().unwrap().parse().unwrap())
            .collect()
    };
    let before = bases(dir.path());
    assert!(before.len() >= 6, "{before:?}");
    assert_eq!(log.enforce_retention().unwrap(), 0, "nothing committed, nothing freed");

    let mut a = log.consumer("a").unwrap();
    let mut b = log.consumer("b").unwrap();
    a.commit(0, 30).unwrap();
    b.commit(0, 12).unwrap();
    let size_of = |bases: &[u64]| -> u64 {
        bases
            .iter()
            .map(|base| fs::metadata(dir.path().join(format!("p-0/{base:020}.log"))).unwrap().len())
            .sum()
    };
    let doomed: Vec<u64> = before.windows(2).filter(|w| w[1] <= 12).map(|w| w[0]).collect();
    assert!(!doomed.is_empty());
    let expected_freed = size_of(&doomed);
    assert_eq!(log.enforce_retention().unwrap(), expected_freed);
    let after = bases(dir.path());
    assert_eq!(after, before[doomed.len()..].to_vec());
    assert!(after[0] <= 12, "the segment holding offset 12 is kept: {after:?}");

    // Once every group is at the end, all but the active segment may go.
    a.commit(0, 40).unwrap();
    b.commit(0, 40).unwrap();
    assert!(log.enforce_retention().unwrap() > 0);
    let last = bases(dir.path());
    assert_eq!(last, vec![*before.last().unwrap()]);

    // A group without commits starts at the oldest retained record; committed groups resume.
    let mut fresh = log.consumer("fresh").unwrap();
    let first = read_data(fresh.as_mut(), 1);
    assert_eq!(first[0].offset, last[0]);
    drop(b);
    let mut b = log.consumer("b").unwrap();
    assert_eq!(b.poll(10, Duration::ZERO).unwrap(), Polled::Assigned(vec![0]));
    assert_eq!(b.poll(10, Duration::from_millis(20)).unwrap(), Polled::Idle);
}

#[test]
fn ticks_follow_the_injected_clock_on_active_partitions_only() {
    let dir = tempfile::tempdir().unwrap();
    let (now, clock) = manual_clock(1_000_000);
    let cfg = EmbeddedLogConfig {
        partitions: 2,
        tick_interval_ms: 50,
        tick_active_ms: 10_000,
        ..Default::default()
    };
    let log = EmbeddedLog::open(dir.path(), cfg, clock).unwrap();
    let data = append_all(&log, &[("k".into(), "v".into())])[0];
    assert_eq!(data.append_ms, 1_000_000);
    let mut consumer = log.consumer("proc").unwrap();
    assert!(matches!(consumer.poll(10, Duration::ZERO).unwrap(), Polled::Assigned(_)));
    assert_eq!(read_data(consumer.as_mut(), 1)[0].offset, 0);

    // The clock stands still: no ticks, whatever the real time.
    thread::sleep(Duration::from_millis(150));
    assert_eq!(log.stats().ticks, 0);

    now.store(1_000_100, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    let tick = loop {
        assert!(Instant::now() < deadline, "no tick arrived");
        if let Polled::Records(rs) = consumer.poll(10, Duration::from_millis(100)).unwrap() {
            if let Some(t) = rs.into_iter().find(Record::is_tick) {
                break t;
            }
        }
    };
    assert_eq!(tick.partition, data.partition);
    assert_eq!((tick.offset, tick.append_ms), (1, 1_000_100));
    assert!(tick.payload.is_empty());

    // Past tick_active_ms without data the partition goes quiet for good.
    now.store(1_000_100 + 20_000, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(200));
    assert_eq!(log.stats().ticks, 1);
    let mut ends = log.end_offsets();
    ends.sort();
    assert_eq!(ends, vec![0, 2], "only the partition with data got a tick");
    assert_eq!(consumer.poll(10, Duration::from_millis(20)).unwrap(), Polled::Idle);
}

#[test]
fn group_commit_batches_many_appends_per_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), no_ticks(4), system_clock()).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let producer = log.producer();
            thread::spawn(move || {
                let futures: Vec<_> = (0..250)
                    .map(|i| {
                        producer
                            .append(format!("s-{t}-{}", i % 5).as_bytes(), Bytes::from(vec![7u8; 200]))
                            .unwrap()
                    })
                    .collect();
                let mut done = 0;
                for f in futures {
                    block_on(f).unwrap();
                    done += 1;
                }
                done
            })
        })
        .collect();
    let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, 2000);
    let stats = log.stats();
    assert_eq!(stats.appends, 2000);
    assert_eq!(log.end_offsets().iter().sum::<u64>(), 2000);
    println!("group commit: {stats:?}");
    assert!(stats.fsyncs * 5 < 2000, "expected far fewer fsyncs than records, got {stats:?}");
    assert!(stats.commit_rounds < 2000 / 4, "{stats:?}");
}

#[test]
fn close_flushes_pending_then_consumers_see_revoked_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), no_ticks(2), system_clock()).unwrap();
    let producer = log.producer();
    let pending: Vec<_> =
        (0..20).map(|i| producer.append(b"k", Bytes::from(format!("{i}"))).unwrap()).collect();
    log.close();
    log.close();
    for f in pending {
        block_on(f).unwrap();
    }
    assert!(matches!(producer.append(b"k", Bytes::new()), Err(LogError::Closed)));

    let mut consumer = log.consumer("proc").unwrap();
    assert_eq!(read_data(consumer.as_mut(), 20).len(), 20);
    assert_eq!(consumer.poll(10, Duration::from_secs(5)).unwrap(), Polled::Revoked(vec![0, 1]));
    assert!(matches!(consumer.poll(10, Duration::ZERO), Err(LogError::Closed)));
}

#[test]
fn blocked_poll_wakes_when_records_become_durable() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), no_ticks(1), system_clock()).unwrap();
    let mut consumer = log.consumer("proc").unwrap();
    assert!(matches!(consumer.poll(1, Duration::ZERO).unwrap(), Polled::Assigned(_)));
    let waiter = thread::spawn(move || {
        let started = Instant::now();
        let polled = consumer.poll(10, Duration::from_secs(10)).unwrap();
        (polled, started.elapsed())
    });
    thread::sleep(Duration::from_millis(100));
    append_all(&log, &[("k".into(), "hello".into())]);
    let (polled, waited) = waiter.join().unwrap();
    match polled {
        Polled::Records(rs) => assert_eq!(rs[0].payload, Bytes::from("hello")),
        other => panic!("unexpected {other:?}"),
    }
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn read_records_serves_random_offsets_read_only_while_the_log_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedLogConfig { segment_bytes: 150, ..no_ticks(1) };
    let log = EmbeddedLog::open(dir.path(), cfg, system_clock()).unwrap();
    append_all(&log, &numbered(1, 30));
    assert!(segment_files(dir.path(), 0).len() > 3, "spread over several segments");
    let got = ufse_event_log::read_records(dir.path(), 0, &[29, 3, 17, 3, 500]).unwrap();
    let offsets: Vec<u64> = got.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![3, 17, 29], "sorted, deduplicated, unwritten offsets absent");
    assert_eq!(got[1].payload, Bytes::from("batch-17"));
    // A torn tail being written right now just ends the read.
    let last = segment_files(dir.path(), 0).pop().unwrap();
    OpenOptions::new().append(true).open(&last).unwrap().write_all(&[9, 0, 0]).unwrap();
    assert_eq!(ufse_event_log::read_records(dir.path(), 0, &[29]).unwrap().len(), 1);
    assert!(ufse_event_log::read_records(dir.path(), 7, &[0]).unwrap().is_empty(), "no such partition");
}

#[test]
fn committed_segments_stay_for_replay_until_too_old_or_too_many_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(system_clock()()));
    let clock: Clock = {
        let now = Arc::clone(&now);
        Arc::new(move || now.load(Ordering::SeqCst))
    };
    let cfg = EmbeddedLogConfig {
        segment_bytes: 150,
        retain_ms: 60_000,
        retain_bytes: u64::MAX,
        ..EmbeddedLogConfig { partitions: 1, tick_interval_ms: 0, ..Default::default() }
    };
    let log = EmbeddedLog::open(dir.path(), cfg, clock).unwrap();
    append_all(&log, &numbered(1, 30));
    assert!(segment_files(dir.path(), 0).len() > 3);
    let mut c = log.consumer("g").unwrap();
    c.commit(0, 30).unwrap();
    assert_eq!(log.enforce_retention().unwrap(), 0, "committed but younger than retain_ms");
    assert_eq!(log.start_offsets(), vec![0]);
    now.fetch_add(61_000, Ordering::SeqCst);
    assert!(log.enforce_retention().unwrap() > 0, "older than retain_ms");
    assert_eq!(segment_files(dir.path(), 0).len(), 1, "only the active segment is left");
    assert!(log.start_offsets()[0] > 0);
    assert!(ufse_event_log::read_records(dir.path(), 0, &[0]).unwrap().is_empty(), "gone for replay too");
}

#[test]
fn the_byte_cap_frees_committed_segments_oldest_first_and_never_uncommitted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedLogConfig {
        segment_bytes: 150,
        retain_ms: u64::MAX / 2,
        retain_bytes: 400,
        ..EmbeddedLogConfig { partitions: 1, tick_interval_ms: 0, ..Default::default() }
    };
    let log = EmbeddedLog::open(dir.path(), cfg, system_clock()).unwrap();
    append_all(&log, &numbered(1, 30));
    let mut c = log.consumer("g").unwrap();
    c.commit(0, 10).unwrap();
    let freed = log.enforce_retention().unwrap();
    assert!(freed > 0);
    // Only segments wholly below offset 10 may go, however far over the cap the log is.
    let start = log.start_offsets()[0];
    assert!(start > 0 && start <= 10, "{start}");
    assert_eq!(ufse_event_log::read_records(dir.path(), 0, &[10]).unwrap().len(), 1);
}

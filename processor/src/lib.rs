//! The processor: the event log in, stored results out.
//!
//! This crate owns the loop between the log and the store: it consumes
//! records partition by partition, feeds each partition's [`Sessionizer`]
//! (and through it the rule engine), writes raw events, incidents, issues
//! and session summaries, and only then — at snapshot time — commits
//! offsets. A snapshot of each partition's state is written together with
//! the offset it belongs to, so a restart resumes from there; every write
//! is idempotent, so records processed again after a crash store nothing
//! twice (DESIGN.md section 3).
//!
//! - [`ProcessorConfig`]: the `[processor]` section.
//! - [`Processor`]: the loop; run it on its own thread with [`Processor::run`].
//! - [`Snapshots`]: where the per-partition snapshots live (files or the store).
//! - [`session_batches`], [`session_events`], [`batch_events`]: a session's stored events, read back from the log.
//!
//! With an archive ([`Processor::archive`], ClickHouse), the new unique
//! events and the signals are also copied there, in batches that end before
//! each snapshot, so an offset is committed only after its rows are stored.

mod replay;
mod snapshot;

pub use replay::{batch_events, session_batches, session_events};
pub use snapshot::Snapshots;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{counter, gauge};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use ufse_clickhouse::{Archive, ClickHouseError};
use ufse_engine::RuleSet;
use ufse_event_log::{LogConsumer, LogError, Polled, Record};
use ufse_incident_store::{EventRef, IncidentStore, RawEventStore, StoreError, WriteBatch};
use ufse_schema::{decode_event, LogBatch};
use ufse_sessionizer::{Output, SessionSummary, Sessionizer, SessionizerConfig};

/// `[processor]`: how the log is consumed and results stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessorConfig {
    /// Records taken per poll (and stored per transaction, at most).
    pub poll_max_records: usize,
    /// How often partition state is snapshotted and offsets committed.
    pub snapshot_interval_ms: u64,
    /// How often log retention runs (and the raw-event index follows it).
    pub retention_interval_ms: u64,
    /// Where `ufse process` serves `/metrics` (`HOST:PORT`); unset, nowhere.
    /// (`ufse serve` has them on its API's address.)
    pub metrics_listen: Option<String>,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            poll_max_records: 2000,
            snapshot_interval_ms: 30_000,
            retention_interval_ms: 60_000,
            metrics_listen: None,
        }
    }
}

/// Why the processor stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessorError {
    /// The log failed.
    #[error("event log: {0}")]
    Log(#[from] LogError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The archive failed.
    #[error("archive: {0}")]
    Archive(#[from] ClickHouseError),
    /// A snapshot could not be written or read.
    #[error("snapshot in {place}: {detail}")]
    Snapshot {
        /// The file, or the store's scope and partition.
        place: String,
        /// What went wrong.
        detail: String,
    },
    /// A stored log record could not be read back.
    #[error("log record in {path}: {detail}")]
    Record {
        /// The partition directory.
        path: std::path::PathBuf,
        /// What went wrong.
        detail: String,
    },
}

impl ProcessorError {
    /// Whether a service that may come back failed (the store's database, the archive): the
    /// processor then waits and resumes from its snapshots instead of stopping.
    fn is_outage(&self) -> bool {
        matches!(self, ProcessorError::Store(StoreError::Db { .. }) | ProcessorError::Archive(_))
    }
}

/// The first pause after a failed write; it doubles while the outage lasts, up to [`MAX_PAUSE`].
const MIN_PAUSE: Duration = Duration::from_millis(200);
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// One partition's state and progress.
struct Partition {
    sessions: Sessionizer,
    /// Offset of the next record to process.
    next: u64,
    /// `next` as of the last snapshot.
    snapshotted: u64,
}

/// Applies the log's retention; returns each partition's oldest retained offset.
type RetentionHook = Box<dyn FnMut() -> Result<Vec<u64>, LogError> + Send>;

/// The consume-evaluate-store loop.
pub struct Processor<S, E> {
    config: ProcessorConfig,
    sessionizer: SessionizerConfig,
    rules: Arc<RuleSet>,
    consumer: Box<dyn LogConsumer>,
    store: S,
    events: E,
    snapshots: Snapshots,
    partitions: BTreeMap<u32, Partition>,
    rt: Handle,
    /// Applies log retention and returns each partition's oldest retained offset.
    retention: Option<RetentionHook>,
    archive: Option<Archive>,
}

/// Events of one log record on their way to the archive.
struct Archived {
    /// The batch, holding only its new unique events.
    batch: LogBatch,
    /// Where each of them was in the record.
    positions: Vec<u32>,
    partition: u32,
    offset: u64,
}

impl<S: IncidentStore, E: RawEventStore> Processor<S, E> {
    /// A processor over `consumer`, storing into `store` and `events`,
    /// keeping partition snapshots in `snapshots`. Store calls run on `rt`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: ProcessorConfig,
        sessionizer: SessionizerConfig,
        rules: Arc<RuleSet>,
        consumer: Box<dyn LogConsumer>,
        store: S,
        events: E,
        snapshots: Snapshots,
        rt: Handle,
    ) -> Self {
        Processor {
            config,
            sessionizer,
            rules,
            consumer,
            store,
            events,
            snapshots,
            partitions: BTreeMap::new(),
            rt,
            retention: None,
            archive: None,
        }
    }

    /// Also copies events and signals to `archive`.
    pub fn archive(mut self, archive: Archive) -> Self {
        self.archive = Some(archive);
        self
    }

    /// Runs `f` every `retention_interval_ms`: it applies the log's
    /// retention and returns each partition's oldest retained offset, and
    /// the raw-event index forgets what the log no longer has.
    pub fn retention(mut self, f: impl FnMut() -> Result<Vec<u64>, LogError> + Send + 'static) -> Self {
        self.retention = Some(Box::new(f));
        self
    }

    /// Consumes until `stop` is set and everything durable has been
    /// processed, then snapshots and commits. Blocking: run it on its own thread.
    ///
    /// # Errors
    ///
    /// When the log or a snapshot fails, or `stop` is set while the store or
    /// the archive is down (an outage of those is waited out: the processor
    /// pauses and resumes from its snapshots); what was stored stays stored
    /// and a restart resumes from the last snapshot.
    pub fn run(mut self, stop: Arc<AtomicBool>) -> Result<(), ProcessorError> {
        let mut pause = MIN_PAUSE;
        loop {
            let started = Instant::now();
            let failed = match self.run_until_failure(&stop) {
                Ok(()) => return Ok(()),
                Err(e) if e.is_outage() => e,
                Err(e) => return Err(e),
            };
            // Nothing processed since the last snapshots is known to be stored: forget it, wait,
            // and resume from the snapshots, as a restart would (every write is idempotent).
            counter!("ufse_processor_outages_total").increment(1);
            if started.elapsed() > 2 * MAX_PAUSE {
                pause = MIN_PAUSE; // a new outage, not the same one going on
            }
            let owned: Vec<u32> = self.partitions.keys().copied().collect();
            let mut error = failed;
            loop {
                if stop.load(Ordering::Acquire) {
                    return Err(error);
                }
                tracing::error!(%error, pause_ms = pause.as_millis() as u64, "storing failed; resuming from the last snapshots");
                std::thread::sleep(pause);
                pause = (pause * 2).min(MAX_PAUSE);
                match self.rewind(&owned) {
                    Ok(()) => break,
                    Err(e) if e.is_outage() => error = e,
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// Forgets the state of partitions `owned` and restores each from its snapshot.
    fn rewind(&mut self, owned: &[u32]) -> Result<(), ProcessorError> {
        if let Some(a) = self.archive.as_mut() {
            a.reset();
        }
        self.partitions.clear();
        self.assign(owned)
    }

    /// The loop, until `stop` (and caught up) or the first failure.
    fn run_until_failure(&mut self, stop: &AtomicBool) -> Result<(), ProcessorError> {
        let interval = Duration::from_millis(self.config.snapshot_interval_ms);
        let retention = Duration::from_millis(self.config.retention_interval_ms);
        let (mut last_snapshot, mut last_retention) = (Instant::now(), Instant::now());
        loop {
            let polled = match self.consumer.poll(self.config.poll_max_records, Duration::from_millis(100)) {
                Ok(p) => p,
                Err(LogError::Closed) => break,
                Err(e) => return Err(e.into()),
            };
            let idle = matches!(polled, Polled::Idle);
            match polled {
                Polled::Assigned(ps) => self.assign(&ps)?,
                Polled::Revoked(ps) => self.revoke(&ps)?,
                Polled::Records(recs) => self.process(recs)?,
                Polled::Idle => {}
            }
            if let Some(a) = self.archive.as_mut() {
                self.rt.block_on(a.commit())?;
            }
            if last_snapshot.elapsed() >= interval {
                self.checkpoint()?;
                last_snapshot = Instant::now();
            }
            if last_retention.elapsed() >= retention {
                self.retain()?;
                last_retention = Instant::now();
            }
            // Stop only once caught up, so a graceful shutdown leaves nothing unprocessed.
            if idle && stop.load(Ordering::Acquire) {
                break;
            }
        }
        self.checkpoint()
    }

    fn assign(&mut self, partitions: &[u32]) -> Result<(), ProcessorError> {
        for &p in partitions {
            let restored = self.load_snapshot(p)?;
            let (sessions, next) = match restored {
                Some((sessions, next)) => (sessions, next),
                None => (
                    Sessionizer::new(self.sessionizer.clone(), Arc::clone(&self.rules)).keep_events(true),
                    self.consumer.committed(p)?.unwrap_or(0),
                ),
            };
            // Also where the consumer is already, on a fresh assignment; not after a rewind.
            self.consumer.seek(p, next)?;
            tracing::info!(
                partition = p,
                offset = next,
                sessions = sessions.live_sessions(),
                "partition assigned"
            );
            self.partitions.insert(p, Partition { sessions, next, snapshotted: next });
        }
        Ok(())
    }

    fn revoke(&mut self, partitions: &[u32]) -> Result<(), ProcessorError> {
        let saved = self.checkpoint();
        // Gone either way: without the snapshot, the next owner resumes from an older one.
        for p in partitions {
            self.partitions.remove(p);
        }
        saved
    }

    fn process(&mut self, records: Vec<Record>) -> Result<(), ProcessorError> {
        let mut out = Output::default();
        let mut refs = Vec::new();
        let mut archived = Vec::new();
        for rec in &records {
            let Some(part) = self.partitions.get_mut(&rec.partition) else {
                // Not ours (a revocation raced the poll): another member will process it.
                continue;
            };
            if rec.offset < part.next {
                // Already in the restored state: a snapshot newer than the group's commit.
                continue;
            }
            part.next = rec.offset + 1;
            let at = rec.append_ms as i64;
            if rec.is_tick() {
                part.sessions.on_clock(at, &mut out);
                continue;
            }
            let (batch, raw) = match LogBatch::decode_raw(&rec.payload) {
                Ok(b) => b,
                Err(e) => {
                    // Counted and skipped: one unreadable record must not stop the partition.
                    counter!("ufse_processor_records_unreadable_total").increment(1);
                    tracing::error!(partition = rec.partition, offset = rec.offset, error = %e, "unreadable log record");
                    continue;
                }
            };
            counter!("ufse_processor_events_total").increment(batch.events.len() as u64);
            let mut header = self.archive.is_some().then(|| without_events(&batch));
            part.sessions.on_batch_raw(batch, &raw, Some(at), &mut out);
            for events in out.events.drain(..) {
                if let Some(mut batch) = header.take() {
                    // The events as the record holds them (the sessionizer may adjust its copies);
                    // `decode_raw` decoded these same bytes already.
                    batch.events = events
                        .positions
                        .iter()
                        .map(|&i| decode_event(raw[i as usize]).expect("decoded once already"))
                        .collect();
                    let positions = events.positions.clone();
                    archived.push(Archived {
                        batch,
                        positions,
                        partition: rec.partition,
                        offset: rec.offset,
                    });
                }
                refs.push(EventRef { partition: rec.partition, offset: rec.offset, events });
            }
        }
        self.store(out, refs, archived)
    }

    fn store(
        &mut self,
        out: Output,
        refs: Vec<EventRef>,
        archived: Vec<Archived>,
    ) -> Result<(), ProcessorError> {
        for (reason, n) in &out.drops {
            counter!("ufse_processor_events_dropped_total", "reason" => reason.as_str()).increment(*n);
        }
        // A session's summary may have changed many times in one poll: store the last.
        let mut latest: BTreeMap<(String, String, u32), SessionSummary> = BTreeMap::new();
        for s in out.summaries {
            latest.insert((s.project.clone(), s.sid.clone(), s.part), s);
        }
        let batch = WriteBatch { signals: out.signals, summaries: latest.into_values().collect() };
        let profile = self.rules.name().to_owned();
        let (events, store, archive) = (&self.events, &self.store, self.archive.as_mut());
        let stats = self.rt.block_on(async {
            if let Some(a) = archive {
                for x in &archived {
                    a.add_events(&x.batch, &x.positions, x.partition, x.offset).await?;
                }
                a.add_signals(&batch.signals).await?;
            }
            events.write_refs(&refs).await?;
            Ok::<_, ProcessorError>(store.write(&profile, &batch).await?)
        })?;
        counter!("ufse_incidents_stored_total").increment(stats.new_incidents);
        counter!("ufse_incidents_replayed_total").increment(stats.known_incidents);
        counter!("ufse_issues_opened_total").increment(stats.new_issues);
        counter!("ufse_issues_regressed_total").increment(stats.regressed_issues);
        counter!("ufse_cold_path_jobs_queued_total").increment(stats.jobs_queued);
        let live: usize = self.partitions.values().map(|p| p.sessions.live_sessions()).sum();
        gauge!("ufse_sessions_live").set(live as f64);
        Ok(())
    }

    /// Snapshots every partition that moved, then commits its offset.
    fn checkpoint(&mut self) -> Result<(), ProcessorError> {
        // What the snapshots cover must be stored first.
        if let Some(a) = self.archive.as_mut() {
            self.rt.block_on(a.flush())?;
        }
        for (&p, part) in self.partitions.iter_mut() {
            if part.next == part.snapshotted {
                continue;
            }
            let bytes = snapshot::encode(&part.sessions, part.next)
                .map_err(|e| snapshot::error(self.snapshots.place(p), e))?;
            match &self.snapshots {
                Snapshots::Dir(dir) => snapshot::write_file(dir, p, &bytes)
                    .map_err(|e| snapshot::error(self.snapshots.place(p), e))?,
                Snapshots::Store(scope) => {
                    self.rt.block_on(self.store.save_partition_state(scope, p, part.next, &bytes))?;
                }
            }
            self.consumer.commit(p, part.next)?;
            part.snapshotted = part.next;
        }
        Ok(())
    }

    /// Partition `p`'s snapshot and the offset it resumes at, if there is one.
    fn load_snapshot(&self, p: u32) -> Result<Option<(Sessionizer, u64)>, ProcessorError> {
        let place = || self.snapshots.place(p);
        let bytes = match &self.snapshots {
            Snapshots::Dir(dir) => snapshot::read_file(dir, p).map_err(|e| snapshot::error(place(), e))?,
            Snapshots::Store(scope) => {
                self.rt.block_on(self.store.load_partition_state(scope, p))?.map(|(_, state)| state)
            }
        };
        bytes
            .map(|b| snapshot::decode(&b, place, self.sessionizer.clone(), Arc::clone(&self.rules)))
            .transpose()
    }

    fn retain(&mut self) -> Result<(), ProcessorError> {
        let Some(f) = self.retention.as_mut() else { return Ok(()) };
        let start = f()?;
        let pruned = self.rt.block_on(self.events.prune(&start))?;
        counter!("ufse_raw_event_refs_pruned_total").increment(pruned);
        Ok(())
    }
}

/// A copy of `batch` with what the edge knew, without its events.
fn without_events(batch: &LogBatch) -> LogBatch {
    LogBatch {
        project: batch.project.clone(),
        sid: batch.sid.clone(),
        uid: batch.uid.clone(),
        received_ms: batch.received_ms,
        skew_ms: batch.skew_ms,
        sdk_dropped: batch.sdk_dropped,
        ctx: batch.ctx.clone(),
        events: Vec::new(),
    }
}

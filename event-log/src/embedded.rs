//! [`EmbeddedLog`]: opening and recovering the directory, the producer handle, retention and
//! shutdown. The writer thread lives in `writer`, readers in `consumer`.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};

use bytes::Bytes;

use crate::consumer::EmbeddedConsumer;
use crate::error::LogError;
use crate::offsets;
use crate::oneshot;
use crate::segment::{
    list_segments, partition_dir, scan_segment, segment_file_name, sync_dir, MAX_RECORD_BYTES,
};
use crate::writer::{PartitionWriter, Request, Writer, WriterSettings};
use crate::{lock, AppendFuture, LogConsumer, LogProducer};

/// Wall-clock source in milliseconds since the Unix epoch; injectable so tests control time.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The real wall clock, for production use with [`EmbeddedLog::open`].
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    })
}

const META_FILE: &str = "meta";
const META_HEADER: &str = "ufse-event-log v1";
const OFFSETS_DIR: &str = "offsets";
/// Sanity cap: each partition costs a directory, an open file and a slot in every scan.
const MAX_PARTITIONS: u32 = 4096;

/// Settings of an [`EmbeddedLog`]; also the `[log]` configuration section.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedLogConfig {
    /// Number of partitions (default 4). Fixed when the directory is created; reopening with a
    /// different number is an error.
    pub partitions: u32,
    /// A segment file is rolled once the next record would take it past this size (default 64 MiB).
    pub segment_bytes: u64,
    /// Capacity of the bounded hand-off queue to the writer, in records (default 4096).
    pub queue_records: usize,
    /// Most frame bytes one group-commit round takes before it fsyncs (default 8 MiB).
    pub max_group_commit_bytes: usize,
    /// Interval between tick records on quiet partitions, in ms (default 1000; 0 = no ticks).
    pub tick_interval_ms: u64,
    /// Only partitions that received a data record within this many ms get ticks (default 2 h).
    pub tick_active_ms: u64,
    /// Committed segments are kept this long (by the time of their last write) so the
    /// log doubles as the raw-event store for replay (default 7 days; 0 frees them as soon as
    /// every group has committed them).
    pub retain_ms: u64,
    /// ...unless the log is over this many bytes: then committed segments go oldest first
    /// (default 10 GiB). Uncommitted data is never deleted.
    pub retain_bytes: u64,
}

impl Default for EmbeddedLogConfig {
    fn default() -> Self {
        Self {
            partitions: 4,
            segment_bytes: 64 << 20,
            queue_records: 4096,
            max_group_commit_bytes: 8 << 20,
            tick_interval_ms: 1000,
            tick_active_ms: 2 * 60 * 60 * 1000,
            retain_ms: 7 * 24 * 60 * 60 * 1000,
            retain_bytes: 10 << 30,
        }
    }
}

impl EmbeddedLogConfig {
    fn validate(&self) -> Result<(), LogError> {
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            return Err(LogError::Config(format!(
                "partitions must be between 1 and {MAX_PARTITIONS}, got {}",
                self.partitions
            )));
        }
        if self.segment_bytes == 0 {
            return Err(LogError::Config("segment_bytes must be positive".into()));
        }
        if self.queue_records == 0 {
            return Err(LogError::Config("queue_records must be positive".into()));
        }
        if self.max_group_commit_bytes == 0 {
            return Err(LogError::Config("max_group_commit_bytes must be positive".into()));
        }
        Ok(())
    }
}

/// Counters describing the writer's work since the log was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogStats {
    /// Data records made durable.
    pub appends: u64,
    /// Tick records written.
    pub ticks: u64,
    /// `fsync`s issued on segment files and directories by the writer.
    pub fsyncs: u64,
    /// Group-commit rounds (each ends with the fsyncs of the files it touched).
    pub commit_rounds: u64,
}

#[derive(Default)]
pub(crate) struct AtomicStats {
    pub(crate) appends: AtomicU64,
    pub(crate) ticks: AtomicU64,
    pub(crate) fsyncs: AtomicU64,
    pub(crate) commit_rounds: AtomicU64,
}

/// State shared by the writer thread and every handle. It deliberately holds no sender and no
/// thread handle, so the writer keeping it alive never keeps the log open.
pub(crate) struct State {
    pub(crate) dir: PathBuf,
    pub(crate) partitions: u32,
    /// Durable end (next offset) per partition; readers never go past it.
    pub(crate) durable: Box<[AtomicU64]>,
    /// Segment base offsets per partition, ascending; the last one is the active segment.
    pub(crate) segments: Mutex<Vec<Vec<u64>>>,
    /// Bumped on every publish; consumers wait on `changed` for it to move.
    pub(crate) generation: Mutex<u64>,
    pub(crate) changed: Condvar,
    /// Set by the writer as it exits: nothing more will become durable.
    pub(crate) closed: AtomicBool,
    pub(crate) poisoned: Mutex<Option<String>>,
    pub(crate) queue_depth: AtomicUsize,
    pub(crate) stats: AtomicStats,
}

impl State {
    /// Wakes every consumer blocked in `poll`.
    pub(crate) fn notify(&self) {
        *lock(&self.generation) += 1;
        self.changed.notify_all();
    }

    pub(crate) fn offsets_dir(&self) -> PathBuf {
        self.dir.join(OFFSETS_DIR)
    }

    pub(crate) fn check_partition(&self, partition: u32) -> Result<(), LogError> {
        if partition < self.partitions {
            Ok(())
        } else {
            Err(LogError::UnknownPartition { partition, partitions: self.partitions })
        }
    }

    pub(crate) fn durable_end(&self, partition: u32) -> u64 {
        self.durable[partition as usize].load(Ordering::Acquire)
    }
}

/// What the handles share; dropping the last one closes the log.
pub(crate) struct Core {
    pub(crate) state: Arc<State>,
    sender: Mutex<Option<SyncSender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Groups with a live consumer (the embedded log has one member per group).
    pub(crate) groups: Mutex<HashSet<String>>,
    retention: Mutex<()>,
    retain_ms: u64,
    retain_bytes: u64,
    clock: Clock,
}

impl Core {
    fn close(&self) {
        drop(lock(&self.sender).take());
        // The lock is held across the join on purpose: a concurrent `close` must not return
        // before the writer has flushed. Nothing else takes this lock.
        let mut writer = lock(&self.writer);
        if let Some(handle) = writer.take() {
            if handle.thread().id() == thread::current().id() {
                return; // dropped from inside the writer (a waker callback): it exits on its own
            }
            if handle.join().is_err() {
                tracing::error!(dir = %self.state.dir.display(), "event log writer thread panicked");
            }
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.close();
    }
}

/// The embedded, on-disk implementation of the log. Cloning is cheap and shares the same log;
/// the writer stops when [`close`](Self::close) is called or the last handle (including
/// producers and consumers) is dropped.
#[derive(Clone)]
pub struct EmbeddedLog {
    core: Arc<Core>,
}

impl std::fmt::Debug for EmbeddedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedLog")
            .field("dir", &self.core.state.dir)
            .field("partitions", &self.core.state.partitions)
            .finish_non_exhaustive()
    }
}

impl EmbeddedLog {
    /// Opens or creates the log under `dir`, recovering from a crash: the last segment of each
    /// partition is scanned and anything after its last complete, CRC-valid record (a torn
    /// write) is truncated away. Starts the writer thread.
    ///
    /// # Errors
    /// [`LogError::Config`] for an invalid `config` or a directory created with a different
    /// partition count; [`LogError::Io`] / [`LogError::Corrupt`] naming the offending path.
    pub fn open(dir: &Path, config: EmbeddedLogConfig, clock: Clock) -> Result<Self, LogError> {
        config.validate()?;
        fs::create_dir_all(dir).map_err(|e| LogError::io(dir, e))?;
        let created = check_meta(dir, config.partitions)?;

        let offsets_dir = dir.join(OFFSETS_DIR);
        fs::create_dir_all(&offsets_dir).map_err(|e| LogError::io(&offsets_dir, e))?;
        offsets::remove_stale_temps(&offsets_dir)?;

        let mut parts = Vec::with_capacity(config.partitions as usize);
        let mut segments = Vec::with_capacity(config.partitions as usize);
        for p in 0..config.partitions {
            let (pw, bases) = recover_partition(dir, p)?;
            parts.push(pw);
            segments.push(bases);
        }
        if created {
            sync_dir(dir)?;
        }

        let state = Arc::new(State {
            dir: dir.to_owned(),
            partitions: config.partitions,
            durable: parts.iter().map(|pw| AtomicU64::new(pw.next_offset)).collect(),
            segments: Mutex::new(segments),
            generation: Mutex::new(0),
            changed: Condvar::new(),
            closed: AtomicBool::new(false),
            poisoned: Mutex::new(None),
            queue_depth: AtomicUsize::new(0),
            stats: AtomicStats::default(),
        });
        let (tx, rx) = mpsc::sync_channel(config.queue_records);
        let writer = Writer {
            state: Arc::clone(&state),
            rx,
            parts,
            settings: WriterSettings {
                segment_bytes: config.segment_bytes,
                max_group_commit_bytes: config.max_group_commit_bytes,
                tick_interval_ms: config.tick_interval_ms,
                tick_active_ms: config.tick_active_ms,
            },
            clock: Arc::clone(&clock),
        };
        let handle = thread::Builder::new()
            .name("ufse-log-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| LogError::io(dir, e))?;
        tracing::info!(
            dir = %dir.display(),
            partitions = config.partitions,
            end_offsets = ?state.durable.iter().map(|a| a.load(Ordering::Relaxed)).collect::<Vec<_>>(),
            "event log opened"
        );
        Ok(Self {
            core: Arc::new(Core {
                state,
                sender: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(handle)),
                groups: Mutex::new(HashSet::new()),
                retention: Mutex::new(()),
                retain_ms: config.retain_ms,
                retain_bytes: config.retain_bytes,
                clock,
            }),
        })
    }

    /// A producer handle for the ingest edge.
    pub fn producer(&self) -> Arc<dyn LogProducer> {
        Arc::new(EmbeddedProducer { core: Arc::clone(&self.core) })
    }

    /// A consumer in `group`, starting each partition at the group's committed offset (0, or the
    /// oldest retained record, if none).
    ///
    /// # Errors
    /// [`LogError::InvalidGroup`] for a name unusable as a file name, [`LogError::GroupInUse`]
    /// while another consumer of the group is alive, [`LogError::Io`] / [`LogError::Corrupt`]
    /// naming the group's offsets file.
    pub fn consumer(&self, group: &str) -> Result<Box<dyn LogConsumer>, LogError> {
        Ok(Box::new(EmbeddedConsumer::new(Arc::clone(&self.core), group)?))
    }

    /// Number of partitions.
    pub fn partitions(&self) -> u32 {
        self.core.state.partitions
    }

    /// The partition `key` maps to: FNV-1a 64 of the key modulo the partition count, stable
    /// across processes and releases.
    pub fn partition_for(&self, key: &[u8]) -> u32 {
        partition_for(key, self.core.state.partitions)
    }

    /// Deletes whole segments that every group that has committed is past (a group with no commit
    /// for a partition holds it at 0; never the active
    /// segment, never uncommitted data), once they are older than `retain_ms` (by the time of
    /// their last write) or, oldest first, while the log is over `retain_bytes`. Until then the
    /// log is also the raw-event store that `read_records` serves replays from. Returns the
    /// bytes freed, also counted in metrics.
    ///
    /// # Errors
    ///
    /// When offsets cannot be read or a segment cannot be removed.
    pub fn enforce_retention(&self) -> Result<u64, LogError> {
        let state = &self.core.state;
        let _one_at_a_time = lock(&self.core.retention);
        let groups = offsets::load_all(&state.offsets_dir())?;
        if groups.is_empty() {
            return Ok(0);
        }
        let now = (self.core.clock)();
        // Every segment's size and age, and which ones all groups have committed.
        let mut total = 0u64;
        let mut committed: Vec<Vec<(u64, u64, u64)>> = Vec::new(); // per partition: (base, bytes, mtime ms)
        for p in 0..state.partitions {
            let floor = groups.iter().map(|(_, map)| map.get(&p).copied().unwrap_or(0)).min().unwrap_or(0);
            let list = lock(&state.segments)[p as usize].clone();
            let pdir = partition_dir(&state.dir, p);
            let mut eligible = Vec::new();
            for (i, &base) in list.iter().enumerate() {
                let path = pdir.join(segment_file_name(base));
                let meta = fs::metadata(&path).map_err(|e| LogError::io(&path, e))?;
                total += meta.len();
                // Segment i holds [base_i, base_{i+1}); it may go once base_{i+1} <= floor.
                if list.get(i + 1).is_some_and(|&next| next <= floor) {
                    let mtime = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_millis() as u64);
                    eligible.push((base, meta.len(), mtime));
                }
            }
            committed.push(eligible);
        }
        // Decide oldest first across partitions; within a partition only a prefix can go.
        let mut order: Vec<(u64, u32, usize)> = committed
            .iter()
            .enumerate()
            .flat_map(|(p, segs)| segs.iter().enumerate().map(move |(i, s)| (s.2, p as u32, i)))
            .collect();
        order.sort_unstable();
        let mut doomed_upto = vec![0usize; state.partitions as usize];
        let (mut by_age, mut by_size) = (0u64, 0u64);
        for (mtime, p, i) in order {
            let expired = mtime.saturating_add(self.core.retain_ms) <= now;
            let over = total > self.core.retain_bytes;
            if !(expired || over) || doomed_upto[p as usize] != i {
                continue;
            }
            doomed_upto[p as usize] = i + 1;
            total -= committed[p as usize][i].1;
            if expired {
                by_age += 1;
            } else {
                by_size += 1;
            }
        }
        let mut freed = 0u64;
        for p in 0..state.partitions {
            let n = doomed_upto[p as usize];
            if n == 0 {
                continue;
            }
            // Entries leave the list before their files vanish, so readers stop finding them first.
            let doomed: Vec<u64> = lock(&state.segments)[p as usize].drain(..n).collect();
            let pdir = partition_dir(&state.dir, p);
            for base in doomed {
                let path = pdir.join(segment_file_name(base));
                let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                match fs::remove_file(&path) {
                    Ok(()) => freed += len,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(LogError::io(&path, e)),
                }
                tracing::debug!(partition = p, base, bytes = len, "retention deleted segment");
            }
            sync_dir(&pdir)?;
        }
        metrics::counter!("ufse_log_retention_freed_bytes_total").increment(freed);
        metrics::counter!("ufse_log_retention_segments_total", "reason" => "age").increment(by_age);
        metrics::counter!("ufse_log_retention_segments_total", "reason" => "size").increment(by_size);
        if freed > 0 {
            tracing::info!(dir = %state.dir.display(), freed, by_age, by_size, "retention freed segments");
        }
        Ok(freed)
    }

    /// The oldest retained offset per partition: records below it are gone.
    pub fn start_offsets(&self) -> Vec<u64> {
        lock(&self.core.state.segments).iter().map(|l| l.first().copied().unwrap_or(0)).collect()
    }

    /// Durable high watermark (next offset to be written) per partition.
    pub fn end_offsets(&self) -> Vec<u64> {
        let state = &self.core.state;
        (0..state.partitions).map(|p| state.durable_end(p)).collect()
    }

    /// Counters of the writer's work since open.
    pub fn stats(&self) -> LogStats {
        let s = &self.core.state.stats;
        LogStats {
            appends: s.appends.load(Ordering::Relaxed),
            ticks: s.ticks.load(Ordering::Relaxed),
            fsyncs: s.fsyncs.load(Ordering::Relaxed),
            commit_rounds: s.commit_rounds.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting appends, lets the writer flush and fsync everything already queued (those
    /// appends resolve normally) and waits for it to exit. Consumers then drain what is durable,
    /// see `Revoked`, then [`LogError::Closed`]. Idempotent; blocks while the writer finishes.
    pub fn close(&self) {
        self.core.close();
    }
}

/// FNV-1a 64 of `key`, modulo `partitions`.
pub(crate) fn partition_for(key: &[u8], partitions: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // The remainder is < partitions, which is a u32.
    (h % u64::from(partitions.max(1))) as u32
}

/// Reads the meta file, or writes it for a fresh directory. Returns whether it was created.
fn check_meta(dir: &Path, partitions: u32) -> Result<bool, LogError> {
    let path = dir.join(META_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let stored = text
                .strip_prefix(META_HEADER)
                .and_then(|rest| rest.trim().strip_prefix("partitions="))
                .and_then(|n| n.trim().parse::<u32>().ok())
                .ok_or_else(|| LogError::corrupt(&path, "unrecognised meta file"))?;
            if stored != partitions {
                return Err(LogError::Config(format!(
                    "log at {} has {stored} partitions, configured {partitions}",
                    dir.display()
                )));
            }
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let tmp = dir.join("meta.tmp");
            let text = format!("{META_HEADER}\npartitions={partitions}\n");
            fs::write(&tmp, text)
                .and_then(|()| fs::File::open(&tmp)?.sync_all())
                .map_err(|e| LogError::io(&tmp, e))?;
            fs::rename(&tmp, &path).map_err(|e| LogError::io(&path, e))?;
            Ok(true)
        }
        Err(e) => Err(LogError::io(&path, e)),
    }
}

/// Brings partition `p` to a consistent state and opens its active segment for appending.
fn recover_partition(dir: &Path, p: u32) -> Result<(PartitionWriter, Vec<u64>), LogError> {
    let pdir = partition_dir(dir, p);
    fs::create_dir_all(&pdir).map_err(|e| LogError::io(&pdir, e))?;
    let mut bases = list_segments(&pdir)?;
    let base = match bases.last() {
        Some(&b) => b,
        None => {
            let path = pdir.join(segment_file_name(0));
            fs::File::create(&path).map_err(|e| LogError::io(&path, e))?;
            sync_dir(&pdir)?;
            bases.push(0);
            0
        }
    };
    let path = pdir.join(segment_file_name(base));
    let scan = scan_segment(&path, base)?;
    let file = OpenOptions::new().read(true).append(true).open(&path).map_err(|e| LogError::io(&path, e))?;
    let on_disk = file.metadata().map_err(|e| LogError::io(&path, e))?.len();
    if on_disk > scan.valid_len {
        tracing::warn!(
            path = %path.display(),
            kept = scan.valid_len,
            dropped = on_disk - scan.valid_len,
            reason = scan.torn.as_deref().unwrap_or("trailing bytes"),
            "truncating torn tail of segment"
        );
        file.set_len(scan.valid_len).and_then(|()| file.sync_all()).map_err(|e| LogError::io(&path, e))?;
    }
    let pw = PartitionWriter {
        dir: pdir,
        path,
        file,
        size: scan.valid_len,
        next_offset: scan.next_offset,
        last_append_ms: scan.last_append_ms,
        last_data_ms: scan.last_data_ms,
        buf: Vec::new(),
    };
    Ok((pw, bases))
}

/// The producer handle: validates and hands records to the writer without blocking.
struct EmbeddedProducer {
    core: Arc<Core>,
}

impl LogProducer for EmbeddedProducer {
    fn partitions(&self) -> u32 {
        self.core.state.partitions
    }

    fn append(&self, key: &[u8], payload: Bytes) -> Result<AppendFuture, LogError> {
        if key.is_empty() {
            return Err(LogError::InvalidRecord("empty key (reserved for ticks)".into()));
        }
        if key.len() > usize::from(u16::MAX) {
            return Err(LogError::InvalidRecord(format!(
                "key of {} bytes exceeds {} bytes",
                key.len(),
                u16::MAX
            )));
        }
        if key.len() + payload.len() > MAX_RECORD_BYTES {
            return Err(LogError::InvalidRecord(format!(
                "record of {} bytes exceeds {MAX_RECORD_BYTES} bytes",
                key.len() + payload.len()
            )));
        }
        let state = &self.core.state;
        let (done, wait) = oneshot::channel();
        let req = Request {
            partition: partition_for(key, state.partitions),
            key: Bytes::copy_from_slice(key),
            payload,
            done,
        };
        // Counted before sending so the writer's decrement can never run first.
        let depth = state.queue_depth.fetch_add(1, Ordering::AcqRel) + 1;
        let sent = match lock(&self.core.sender).as_ref() {
            Some(tx) => tx.try_send(req),
            None => Err(TrySendError::Disconnected(req)),
        };
        if let Err(e) = sent {
            state.queue_depth.fetch_sub(1, Ordering::AcqRel);
            let err = match e {
                TrySendError::Full(_) => LogError::Full,
                TrySendError::Disconnected(_) => match lock(&state.poisoned).clone() {
                    Some(detail) => LogError::Poisoned(detail),
                    None => LogError::Closed,
                },
            };
            // Returning the request drops its completer, which resolves nothing anyone holds.
            return Err(err);
        }
        metrics::gauge!("ufse_log_queue_depth").set(depth as f64);
        Ok(Box::pin(wait))
    }

    fn queue_depth(&self) -> usize {
        self.core.state.queue_depth.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_partitioning_is_stable() {
        // Reference FNV-1a 64 values.
        assert_eq!(partition_for(b"", u32::MAX), (0xcbf2_9ce4_8422_2325u64 % u64::from(u32::MAX)) as u32);
        assert_eq!(partition_for(b"a", 1 << 31), (0xaf63_dc4c_8601_ec8cu64 % (1 << 31)) as u32);
        for p in [1, 3, 4, 16] {
            assert!(partition_for(b"session-42", p) < p);
            assert_eq!(partition_for(b"session-42", p), partition_for(b"session-42", p));
        }
    }

    #[test]
    fn invalid_config_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        for cfg in [
            EmbeddedLogConfig { partitions: 0, ..Default::default() },
            EmbeddedLogConfig { queue_records: 0, ..Default::default() },
            EmbeddedLogConfig { segment_bytes: 0, ..Default::default() },
            EmbeddedLogConfig { max_group_commit_bytes: 0, ..Default::default() },
        ] {
            assert!(matches!(EmbeddedLog::open(dir.path(), cfg, system_clock()), Err(LogError::Config(_))));
        }
    }

    #[test]
    fn meta_mismatch_names_dir() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = EmbeddedLogConfig { partitions: 3, ..Default::default() };
        EmbeddedLog::open(dir.path(), cfg, system_clock()).unwrap().close();
        let cfg = EmbeddedLogConfig { partitions: 5, ..Default::default() };
        match EmbeddedLog::open(dir.path(), cfg, system_clock()) {
            Err(LogError::Config(msg)) => {
                assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
                assert!(msg.contains("3 partitions"), "{msg}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bad_keys_are_rejected_synchronously() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path(), EmbeddedLogConfig::default(), system_clock()).unwrap();
        let producer = log.producer();
        assert!(matches!(producer.append(b"", Bytes::new()), Err(LogError::InvalidRecord(_))));
        let long = vec![b'k'; 70_000];
        assert!(
            matches!(producer.append(&long, Bytes::new()), Err(LogError::InvalidRecord(m)) if m.contains("70000"))
        );
        log.close();
        assert!(matches!(producer.append(b"k", Bytes::new()), Err(LogError::Closed)));
    }
}

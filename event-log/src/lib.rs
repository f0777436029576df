//! The durable, partitioned, append-only event log between the ingest edge and the processor:
//! the embedded, local-disk stand-in for Kafka. This crate owns the Kafka-shaped traits
//! ([`LogProducer`], [`LogConsumer`]) that the `ufse-kafka` crate also implements, and the
//! embedded implementation ([`EmbeddedLog`]): segment files with CRC-checked frames, crash
//! recovery that truncates torn tails, a single writer thread doing group commit (one fsync per
//! touched file per round, futures resolve only once durable), consumer groups with atomically
//! stored offsets, retention behind the slowest committed group, and tick records that let
//! consumers measure silence from log time rather than their own clock.
//!
//! Module map:
//! - `error` — [`LogError`], the one error type.
//! - `segment` — frame codec, segment naming and listing, the recovery scan.
//! - `writer` — the writer thread: group commit, segment rolling, ticks.
//! - `oneshot` — the runtime-free channel behind [`AppendFuture`].
//! - `offsets` — per-group committed-offset files.
//! - `consumer` — the embedded [`LogConsumer`].
//! - `embedded` — [`EmbeddedLog`]: open/recover, producer, retention, close.
//! - `reader` — [`read_records`]: read-only random access, for replays from another process.

mod consumer;
mod embedded;
mod error;
mod offsets;
mod oneshot;
mod reader;
mod segment;
mod writer;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;

pub use embedded::{system_clock, Clock, EmbeddedLog, EmbeddedLogConfig, LogStats};
pub use error::LogError;
pub use reader::read_records;
pub use segment::MAX_RECORD_BYTES;

/// One record read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Partition the record lives in.
    pub partition: u32,
    /// Position within the partition, dense from 0.
    pub offset: u64,
    /// Wall time (ms since the Unix epoch) at which the writer appended it; non-decreasing per
    /// partition.
    pub append_ms: u64,
    /// Partitioning key; empty for ticks.
    pub key: Bytes,
    /// Opaque payload; empty for ticks.
    pub payload: Bytes,
}

impl Record {
    /// Whether this is a tick: a record with an empty key (and payload) that the writer appends
    /// to quiet partitions so consumers can see log time advance without data.
    pub fn is_tick(&self) -> bool {
        self.key.is_empty()
    }
}

/// Where a durable append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Partition chosen from the key.
    pub partition: u32,
    /// Offset assigned within the partition.
    pub offset: u64,
    /// Append time assigned by the writer (ms since the Unix epoch).
    pub append_ms: u64,
}

/// Resolves once the appended record is durable (or the append failed). Like most futures it
/// panics if polled again after returning `Ready`.
pub type AppendFuture = Pin<Box<dyn Future<Output = Result<Appended, LogError>> + Send + 'static>>;

/// Producer side of the log; object-safe, shared as `Arc<dyn LogProducer>`.
pub trait LogProducer: Send + Sync + 'static {
    /// Number of partitions.
    fn partitions(&self) -> u32;

    /// Queues `payload` under `key`. Records with the same key go to the same partition, in
    /// call order. Never blocks; the returned future resolves once the record is durable.
    ///
    /// # Errors
    /// Synchronously, before any future exists: [`LogError::Full`] when the bounded hand-off
    /// queue is full (answer 503), [`LogError::InvalidRecord`] for an empty or oversized key or
    /// record, [`LogError::Closed`] / [`LogError::Poisoned`] when the log no longer accepts
    /// appends. The future yields [`LogError::Io`] when writing or syncing failed.
    fn append(&self, key: &[u8], payload: Bytes) -> Result<AppendFuture, LogError>;

    /// Current depth of the hand-off queue, in records.
    fn queue_depth(&self) -> usize;
}

/// What one [`LogConsumer::poll`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled {
    /// These partitions are now owned by this consumer. Until the next poll the owner may
    /// [`LogConsumer::seek`] each to where its restored state resumes; reading starts there, or
    /// at the group's committed offset. No record of them comes before this report.
    Assigned(Vec<u32>),
    /// These partitions are being taken away: every record of them already returned has been
    /// handed over, and until the next poll a [`LogConsumer::commit`] for them still counts.
    /// The next poll completes the handover, so another member can take them.
    Revoked(Vec<u32>),
    /// Durable records, in offset order within each partition.
    Records(Vec<Record>),
    /// Nothing happened within the timeout.
    Idle,
}

/// Consumer side of the log, used from one dedicated (blocking) thread.
pub trait LogConsumer: Send {
    /// Blocks up to `timeout` for something to report. The first poll reports
    /// [`Polled::Assigned`]; then records in offset order per partition, starting at the
    /// group's committed offset (0 if none), at most `max_records` per call, and only records
    /// that are already durable.
    ///
    /// The embedded log has one member per group, so it assigns all partitions. Once the log is
    /// closed and this consumer has read everything durable, it reports [`Polled::Revoked`] for
    /// all partitions once, then [`LogError::Closed`].
    ///
    /// # Errors
    /// [`LogError::Closed`] after the final `Revoked`; [`LogError::Io`] / [`LogError::Corrupt`]
    /// naming the segment file that could not be read.
    fn poll(&mut self, max_records: usize, timeout: Duration) -> Result<Polled, LogError>;

    /// Durably stores `next_offset` (the offset of the next record to read) for `partition` in
    /// this consumer's group.
    ///
    /// # Errors
    /// [`LogError::UnknownPartition`], [`LogError::OffsetOutOfRange`] past the durable end, or
    /// [`LogError::Io`] naming the offsets file.
    fn commit(&mut self, partition: u32, next_offset: u64) -> Result<(), LogError>;

    /// Moves the read position of an assigned partition (e.g. to restart from a snapshot).
    ///
    /// # Errors
    /// [`LogError::UnknownPartition`], or [`LogError::OffsetOutOfRange`] past the durable end.
    fn seek(&mut self, partition: u32, offset: u64) -> Result<(), LogError>;

    /// The committed offset of `partition` for this group, if any.
    ///
    /// # Errors
    /// [`LogError::UnknownPartition`].
    fn committed(&self, partition: u32) -> Result<Option<u64>, LogError>;
}

/// Locks `m`, ignoring poisoning: every critical section in this crate leaves its data
/// consistent at each step, so a panic elsewhere does not invalidate it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_records_with_empty_keys() {
        let mut r =
            Record { partition: 0, offset: 0, append_ms: 1, key: Bytes::new(), payload: Bytes::new() };
        assert!(r.is_tick());
        r.key = Bytes::from_static(b"s");
        assert!(!r.is_tick());
    }

    #[test]
    fn traits_are_object_safe_and_sendable() {
        fn assert_send_sync<T: Send + Sync + ?Sized>() {}
        fn assert_send<T: Send + ?Sized>() {}
        assert_send_sync::<dyn LogProducer>();
        assert_send::<Box<dyn LogConsumer>>();
        assert_send::<AppendFuture>();
        assert_send_sync::<EmbeddedLog>();
    }
}

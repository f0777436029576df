//! The embedded consumer: per-partition readers over the segment files, bounded by the durable
//! end offsets, plus the group's committed offsets.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::embedded::{Core, State};
use crate::error::LogError;
use crate::offsets::{self, GroupOffsets};
use crate::segment::{partition_dir, read_frame, segment_file_name, FrameRead};
use crate::{lock, LogConsumer, Polled, Record};

/// Read buffer per open segment.
const READ_BUF: usize = 64 << 10;

/// An open segment positioned at the frame of the reader's next offset.
struct OpenSegment {
    base: u64,
    path: PathBuf,
    reader: BufReader<File>,
}

/// Read position of one partition.
struct PartitionReader {
    partition: u32,
    /// Offset of the next record to return.
    next: u64,
    segment: Option<OpenSegment>,
}

impl PartitionReader {
    /// Appends records from `next` up to (excluding) `end` to `out`, at most `max` in total.
    fn read(&mut self, state: &State, end: u64, max: usize, out: &mut Vec<Record>) -> Result<(), LogError> {
        while self.next < end && out.len() < max {
            let Some(seg) = self.segment.as_mut() else {
                self.open_segment(state, None)?;
                continue;
            };
            let mut body = Vec::new();
            let read = read_frame(&mut seg.reader, &mut body).map_err(|e| LogError::io(&seg.path, e))?;
            match read {
                FrameRead::Eof => {
                    // Everything below `end` is on disk, so this segment is sealed and the next
                    // offset starts the following one.
                    let finished = seg.base;
                    self.segment = None;
                    self.open_segment(state, Some(finished))?;
                }
                FrameRead::Torn(detail) => {
                    return Err(LogError::corrupt(
                        &seg.path,
                        format!("durable record at offset {}: {detail}", self.next),
                    ));
                }
                FrameRead::Frame(head) if head.offset != self.next => {
                    return Err(LogError::corrupt(
                        &seg.path,
                        format!("found offset {} where {} was expected", head.offset, self.next),
                    ));
                }
                FrameRead::Frame(head) => {
                    let body = Bytes::from(body);
                    let key_end = head.key_range().end;
                    out.push(Record {
                        partition: self.partition,
                        offset: head.offset,
                        append_ms: head.append_ms,
                        key: body.slice(head.key_range()),
                        payload: body.slice(key_end..),
                    });
                    self.next += 1;
                }
            }
        }
        Ok(())
    }

    /// Opens the segment containing `next` and skips to it. `finished` is a segment just read to
    /// its end, which must not be chosen again.
    fn open_segment(&mut self, state: &State, finished: Option<u64>) -> Result<(), LogError> {
        let pdir = partition_dir(&state.dir, self.partition);
        // Retention may delete a segment between looking it up and opening it; look again then.
        for _ in 0..16 {
            let base = {
                let segs = lock(&state.segments);
                let list = &segs[self.partition as usize];
                match list.iter().rev().find(|&&b| b <= self.next) {
                    Some(&b) => b,
                    None => match list.first() {
                        Some(&first) => {
                            tracing::warn!(
                                partition = self.partition,
                                from = self.next,
                                to = first,
                                "records below the oldest retained segment were deleted; skipping ahead"
                            );
                            self.next = first;
                            first
                        }
                        None => return Err(LogError::corrupt(pdir, "partition has no segments")),
                    },
                }
            };
            let path = pdir.join(segment_file_name(base));
            if Some(base) == finished {
                return Err(LogError::corrupt(
                    path,
                    format!("segment ends before durable offset {}", self.next),
                ));
            }
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(LogError::io(&path, e)),
            };
            let mut reader = BufReader::with_capacity(READ_BUF, file);
            // Skip the records before `next`; all of them are durable since `next <= end`.
            let mut body = Vec::new();
            for expected in base..self.next {
                match read_frame(&mut reader, &mut body).map_err(|e| LogError::io(&path, e))? {
                    FrameRead::Frame(head) if head.offset == expected => {}
                    FrameRead::Frame(head) => {
                        return Err(LogError::corrupt(
                            &path,
                            format!("found offset {} where {expected} was expected", head.offset),
                        ));
                    }
                    FrameRead::Eof => {
                        return Err(LogError::corrupt(
                            &path,
                            format!("segment ends at offset {expected} before {}", self.next),
                        ));
                    }
                    FrameRead::Torn(detail) => {
                        return Err(LogError::corrupt(&path, format!("offset {expected}: {detail}")));
                    }
                }
            }
            self.segment = Some(OpenSegment { base, path, reader });
            return Ok(());
        }
        Err(LogError::corrupt(pdir, format!("segment holding offset {} keeps vanishing", self.next)))
    }
}

/// The single member of a consumer group; owns every partition.
pub(crate) struct EmbeddedConsumer {
    core: Arc<Core>,
    group: String,
    offsets_path: PathBuf,
    committed: GroupOffsets,
    readers: Vec<PartitionReader>,
    assigned_reported: bool,
    revoked_reported: bool,
    /// Partition to read first on the next poll, rotated so a busy partition cannot starve others.
    start: usize,
}

impl EmbeddedConsumer {
    pub(crate) fn new(core: Arc<Core>, group: &str) -> Result<Self, LogError> {
        offsets::validate_group(group)?;
        let offsets_path = offsets::group_path(&core.state.offsets_dir(), group);
        let committed = offsets::load(&offsets_path)?;
        if !lock(&core.groups).insert(group.to_owned()) {
            return Err(LogError::GroupInUse(group.to_owned()));
        }
        let readers = (0..core.state.partitions)
            .map(|p| PartitionReader {
                partition: p,
                next: committed.get(&p).copied().unwrap_or(0),
                segment: None,
            })
            .collect();
        Ok(Self {
            core,
            group: group.to_owned(),
            offsets_path,
            committed,
            readers,
            assigned_reported: false,
            revoked_reported: false,
            start: 0,
        })
    }

    fn all_partitions(&self) -> Vec<u32> {
        (0..self.core.state.partitions).collect()
    }

    fn read_available(&mut self, max: usize) -> Result<Vec<Record>, LogError> {
        let state = &self.core.state;
        let n = self.readers.len();
        let mut out = Vec::new();
        for i in 0..n {
            if out.len() >= max {
                break;
            }
            let reader = &mut self.readers[(self.start + i) % n];
            let end = state.durable_end(reader.partition);
            reader.read(state, end, max, &mut out)?;
        }
        self.start = (self.start + 1) % n;
        Ok(out)
    }
}

impl Drop for EmbeddedConsumer {
    fn drop(&mut self) {
        lock(&self.core.groups).remove(&self.group);
    }
}

impl LogConsumer for EmbeddedConsumer {
    fn poll(&mut self, max_records: usize, timeout: Duration) -> Result<Polled, LogError> {
        if !self.assigned_reported {
            self.assigned_reported = true;
            return Ok(Polled::Assigned(self.all_partitions()));
        }
        if max_records == 0 {
            return Ok(Polled::Idle);
        }
        let deadline = Instant::now() + timeout;
        let state = Arc::clone(&self.core.state);
        loop {
            // Sample the generation before reading so a publish in between is never missed.
            let generation = *lock(&state.generation);
            // Read before the end offsets: once the writer has exited, the ends are final, so an
            // empty read below means this consumer has drained the log.
            let closed = state.closed.load(Ordering::Acquire);
            let records = self.read_available(max_records)?;
            if !records.is_empty() {
                return Ok(Polled::Records(records));
            }
            if closed {
                if self.revoked_reported {
                    return Err(LogError::Closed);
                }
                self.revoked_reported = true;
                return Ok(Polled::Revoked(self.all_partitions()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Polled::Idle);
            }
            let guard = lock(&state.generation);
            if *guard == generation {
                // Spurious wake-ups and timeouts both just loop back to re-check.
                drop(
                    state
                        .changed
                        .wait_timeout(guard, deadline - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                );
            }
        }
    }

    fn commit(&mut self, partition: u32, next_offset: u64) -> Result<(), LogError> {
        let state = &self.core.state;
        state.check_partition(partition)?;
        let end = state.durable_end(partition);
        if next_offset > end {
            return Err(LogError::OffsetOutOfRange { partition, offset: next_offset, end });
        }
        let mut updated = self.committed.clone();
        updated.insert(partition, next_offset);
        offsets::store(&self.offsets_path, &updated)?;
        self.committed = updated;
        Ok(())
    }

    fn seek(&mut self, partition: u32, offset: u64) -> Result<(), LogError> {
        let state = &self.core.state;
        state.check_partition(partition)?;
        let end = state.durable_end(partition);
        if offset > end {
            return Err(LogError::OffsetOutOfRange { partition, offset, end });
        }
        let reader = &mut self.readers[partition as usize];
        reader.next = offset;
        reader.segment = None;
        Ok(())
    }

    fn committed(&self, partition: u32) -> Result<Option<u64>, LogError> {
        self.core.state.check_partition(partition)?;
        Ok(self.committed.get(&partition).copied())
    }
}

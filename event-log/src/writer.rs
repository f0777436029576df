//! The single writer thread: group commit, segment rolling and ticks.
//!
//! It owns every partition's active segment file. Each round it takes one request (blocking),
//! drains whatever else is queued up to a byte budget, writes all of it, fsyncs each touched
//! file once, publishes the new durable end offsets, wakes consumers, and only then resolves the
//! producers' futures, so "resolved" always means "on disk".

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::embedded::{Clock, State};
use crate::error::LogError;
use crate::oneshot::Completer;
use crate::segment::{encode_frame, frame_len, segment_file_name, sync_dir};
use crate::{lock, Appended};

/// One queued append.
pub(crate) struct Request {
    pub(crate) partition: u32,
    pub(crate) key: Bytes,
    pub(crate) payload: Bytes,
    pub(crate) done: Completer,
}

/// Writer-side state of one partition.
pub(crate) struct PartitionWriter {
    pub(crate) dir: PathBuf,
    pub(crate) path: PathBuf,
    /// Active segment, opened in append mode.
    pub(crate) file: File,
    /// Bytes already written to `file`.
    pub(crate) size: u64,
    pub(crate) next_offset: u64,
    /// Last append time handed out (data or tick); keeps per-partition time non-decreasing.
    pub(crate) last_append_ms: Option<u64>,
    /// Last data (non-tick) append time; decides whether the partition still gets ticks.
    pub(crate) last_data_ms: Option<u64>,
    /// Frames encoded this round, not yet written.
    pub(crate) buf: Vec<u8>,
}

impl PartitionWriter {
    /// Append time for a record written at wall time `now`, never earlier than the previous one,
    /// so consumers measuring silence from the log never see time run backwards.
    fn stamp(&mut self, now: u64) -> u64 {
        let ms = now.max(self.last_append_ms.unwrap_or(0));
        self.last_append_ms = Some(ms);
        ms
    }

    /// Writes the pending frames and fsyncs the file. Returns whether an fsync happened.
    fn flush(&mut self) -> Result<bool, (PathBuf, io::Error)> {
        if self.buf.is_empty() {
            return Ok(false);
        }
        self.file
            .write_all(&self.buf)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| (self.path.clone(), e))?;
        self.size += self.buf.len() as u64;
        self.buf.clear();
        Ok(true)
    }
}

/// Knobs the writer needs from the log configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriterSettings {
    pub(crate) segment_bytes: u64,
    pub(crate) max_group_commit_bytes: usize,
    pub(crate) tick_interval_ms: u64,
    pub(crate) tick_active_ms: u64,
}

pub(crate) struct Writer {
    pub(crate) state: Arc<State>,
    pub(crate) rx: Receiver<Request>,
    pub(crate) parts: Vec<PartitionWriter>,
    pub(crate) settings: WriterSettings,
    pub(crate) clock: Clock,
}

enum Next {
    Request(Request),
    Timeout,
    Disconnected,
}

impl Writer {
    /// Runs until every sender is gone (close) or an i/o error poisons the log.
    pub(crate) fn run(mut self) {
        loop {
            let first = match self.next_request() {
                Next::Request(r) => Some(r),
                Next::Timeout => None,
                Next::Disconnected => break,
            };
            let mut batch = Vec::new();
            if let Some(first) = first {
                let mut bytes = frame_len(first.key.len(), first.payload.len());
                batch.push(first);
                while bytes < self.settings.max_group_commit_bytes {
                    match self.rx.try_recv() {
                        Ok(r) => {
                            bytes += frame_len(r.key.len(), r.payload.len());
                            batch.push(r);
                        }
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                }
                let depth = self.state.queue_depth.fetch_sub(batch.len(), Ordering::AcqRel) - batch.len();
                metrics::gauge!("ufse_log_queue_depth").set(depth as f64);
            }
            let started = Instant::now();
            let round = self.commit_round(&batch);
            if !batch.is_empty() {
                // Write plus fsyncs: what every acknowledgement waits for at least.
                metrics::histogram!("ufse_log_commit_seconds").record(started.elapsed().as_secs_f64());
            }
            match round {
                Ok(appended) => {
                    for (req, a) in batch.into_iter().zip(appended) {
                        req.done.complete(Ok(a));
                    }
                }
                Err((path, e)) => {
                    self.poison(batch, path, e);
                    break;
                }
            }
        }
        // Everything durable is published; consumers may now report the end of the stream.
        self.state.closed.store(true, Ordering::Release);
        self.state.notify();
    }

    fn next_request(&self) -> Next {
        let outcome = match self.tick_wait() {
            None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(wait) => self.rx.recv_timeout(wait),
        };
        match outcome {
            Ok(r) => Next::Request(r),
            Err(RecvTimeoutError::Timeout) => Next::Timeout,
            Err(RecvTimeoutError::Disconnected) => Next::Disconnected,
        }
    }

    /// How long to wait for a request before the next tick may be due; `None` when no partition
    /// is active (a data append wakes the writer anyway).
    ///
    /// The wait is capped at one interval because the clock may be injected and need not move
    /// with real time.
    fn tick_wait(&self) -> Option<Duration> {
        let s = self.settings;
        if s.tick_interval_ms == 0 {
            return None;
        }
        let now = (self.clock)();
        self.parts
            .iter()
            .filter(|pw| pw.last_data_ms.is_some_and(|d| now.saturating_sub(d) <= s.tick_active_ms))
            .map(|pw| {
                let due = pw.last_append_ms.unwrap_or(0).saturating_add(s.tick_interval_ms);
                due.saturating_sub(now).clamp(1, s.tick_interval_ms)
            })
            .min()
            .map(Duration::from_millis)
    }

    fn tick_due(&self, pw: &PartitionWriter, now: u64) -> bool {
        let s = self.settings;
        s.tick_interval_ms > 0
            && pw.last_data_ms.is_some_and(|d| now.saturating_sub(d) <= s.tick_active_ms)
            && now.saturating_sub(pw.last_append_ms.unwrap_or(0)) >= s.tick_interval_ms
    }

    /// Writes `batch` plus any due ticks, makes them durable and publishes the new end offsets.
    fn commit_round(&mut self, batch: &[Request]) -> Result<Vec<Appended>, (PathBuf, io::Error)> {
        let now = (self.clock)();
        let mut appended = Vec::with_capacity(batch.len());
        let mut fsyncs = 0u64;
        for req in batch {
            let p = req.partition as usize;
            let ms = self.parts[p].stamp(now);
            let offset = self.push_frame(p, ms, &req.key, &req.payload, &mut fsyncs)?;
            self.parts[p].last_data_ms = Some(ms);
            appended.push(Appended { partition: req.partition, offset, append_ms: ms });
        }
        let mut ticks = 0u64;
        for p in 0..self.parts.len() {
            if self.tick_due(&self.parts[p], now) {
                let ms = self.parts[p].stamp(now);
                self.push_frame(p, ms, &[], &[], &mut fsyncs)?;
                ticks += 1;
            }
        }
        if batch.is_empty() && ticks == 0 {
            return Ok(appended);
        }
        for pw in &mut self.parts {
            fsyncs += u64::from(pw.flush()?);
        }
        for (p, pw) in self.parts.iter().enumerate() {
            self.state.durable[p].store(pw.next_offset, Ordering::Release);
        }
        self.state.notify();

        let stats = &self.state.stats;
        stats.appends.fetch_add(batch.len() as u64, Ordering::Relaxed);
        stats.ticks.fetch_add(ticks, Ordering::Relaxed);
        stats.fsyncs.fetch_add(fsyncs, Ordering::Relaxed);
        stats.commit_rounds.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("ufse_log_appends_total").increment(batch.len() as u64);
        metrics::counter!("ufse_log_fsyncs_total").increment(fsyncs);
        metrics::histogram!("ufse_log_group_commit_records").record(batch.len() as f64);
        Ok(appended)
    }

    /// Encodes one frame into partition `p`'s pending buffer, rolling the segment first when the
    /// frame would push a non-empty segment past `segment_bytes`. Returns the record's offset.
    fn push_frame(
        &mut self,
        p: usize,
        ms: u64,
        key: &[u8],
        payload: &[u8],
        fsyncs: &mut u64,
    ) -> Result<u64, (PathBuf, io::Error)> {
        let len = frame_len(key.len(), payload.len()) as u64;
        let pending = self.parts[p].size + self.parts[p].buf.len() as u64;
        if pending > 0 && pending + len > self.settings.segment_bytes {
            *fsyncs += self.roll(p)?;
        }
        let pw = &mut self.parts[p];
        let offset = pw.next_offset;
        encode_frame(&mut pw.buf, offset, ms, key, payload);
        pw.next_offset += 1;
        Ok(offset)
    }

    /// Seals the active segment of partition `p` (durably) and starts a new one at the next
    /// offset. Returns the number of fsyncs done.
    fn roll(&mut self, p: usize) -> Result<u64, (PathBuf, io::Error)> {
        let pw = &mut self.parts[p];
        let mut fsyncs = u64::from(pw.flush()?);
        let base = pw.next_offset;
        let path = pw.dir.join(segment_file_name(base));
        let file =
            OpenOptions::new().create_new(true).append(true).open(&path).map_err(|e| (path.clone(), e))?;
        // The new file's directory entry must survive a crash before records in it are acknowledged.
        sync_dir(&pw.dir).map_err(|e| match e {
            LogError::Io { path, source } => (path, source),
            other => (pw.dir.clone(), io::Error::other(other.to_string())),
        })?;
        fsyncs += 1;
        pw.file = file;
        pw.path = path;
        pw.size = 0;
        // Published before the durable end moves past `base`, so readers always find the segment.
        lock(&self.state.segments)[p].push(base);
        tracing::debug!(partition = p, base, "rolled segment");
        Ok(fsyncs)
    }

    /// Fails this round and everything still queued, and stops accepting appends: after a failed
    /// write or fsync the file state is unknown, and only reopening (which recovers) is safe.
    fn poison(&mut self, batch: Vec<Request>, path: PathBuf, e: io::Error) {
        let detail = format!("i/o error on {}: {e}", path.display());
        tracing::error!(error = %e, path = %path.display(), "event log writer failed; refusing further appends");
        *lock(&self.state.poisoned) = Some(detail.clone());
        for req in batch {
            req.done.complete(Err(LogError::io(&path, io::Error::new(e.kind(), e.to_string()))));
        }
        while let Ok(req) = self.rx.try_recv() {
            self.state.queue_depth.fetch_sub(1, Ordering::AcqRel);
            req.done.complete(Err(LogError::Poisoned(detail.clone())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(dir: &std::path::Path) -> PartitionWriter {
        let path = dir.join(segment_file_name(0));
        PartitionWriter {
            dir: dir.to_owned(),
            file: OpenOptions::new().create(true).append(true).open(&path).unwrap(),
            path,
            size: 0,
            next_offset: 0,
            last_append_ms: None,
            last_data_ms: None,
            buf: Vec::new(),
        }
    }

    #[test]
    fn stamps_never_go_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = pw(dir.path());
        assert_eq!(w.stamp(100), 100);
        assert_eq!(w.stamp(90), 100);
        assert_eq!(w.stamp(150), 150);
    }

    #[test]
    fn flush_writes_pending_bytes_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = pw(dir.path());
        assert!(!w.flush().unwrap());
        encode_frame(&mut w.buf, 0, 1, b"k", b"v");
        let n = w.buf.len() as u64;
        assert!(w.flush().unwrap());
        assert_eq!(w.size, n);
        assert!(w.buf.is_empty());
        assert_eq!(std::fs::metadata(&w.path).unwrap().len(), n);
    }
}

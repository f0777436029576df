//! Per-partition snapshots: the sessionizer state and the offset of the
//! first record it has not seen, always written together, so a restart
//! (or the member a partition moves to) resumes from exactly there.
//!
//! They live in files under a directory (one processor, the embedded log)
//! or in the store (processors sharing a Kafka topic, which must all see
//! each other's snapshots).
//!
//! Format (version 3): one JSON header line `{"v":3,"next":N}`, then the
//! sessionizer state in its binary form (`Sessionizer::write_snapshot`).
//! Version 1 held the state as JSON, version 2 the engine's windows one
//! by one; neither is read any more.

use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ufse_engine::RuleSet;
use ufse_sessionizer::{Sessionizer, SessionizerConfig};

use crate::ProcessorError;

/// The snapshot format version, in the header line.
const VERSION: u32 = 3;

#[derive(Serialize, Deserialize)]
struct Header {
    v: u32,
    next: u64,
}

/// Where a processor keeps its partitions' snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snapshots {
    /// One file per partition in this directory.
    Dir(PathBuf),
    /// In the store, under this scope (name the log and the consumer group,
    /// so processors of other groups keep their own).
    Store(String),
}

impl Snapshots {
    /// Where partition `p`'s snapshot is, for messages.
    pub(crate) fn place(&self, p: u32) -> String {
        match self {
            Snapshots::Dir(dir) => file(dir, p).display().to_string(),
            Snapshots::Store(scope) => format!("store {scope:?}, partition {p}"),
        }
    }
}

pub(crate) fn file(dir: &std::path::Path, partition: u32) -> PathBuf {
    dir.join(format!("p-{partition}.snap"))
}

pub(crate) fn error(place: String, detail: impl ToString) -> ProcessorError {
    ProcessorError::Snapshot { place, detail: detail.to_string() }
}

/// A snapshot's bytes.
pub(crate) fn encode(sessions: &Sessionizer, next: u64) -> std::io::Result<Vec<u8>> {
    let mut out = serde_json::to_vec(&Header { v: VERSION, next })?;
    out.push(b'\n');
    sessions.write_snapshot(out)
}

/// Reads a snapshot's bytes back; `place` names where they came from.
pub(crate) fn decode(
    bytes: &[u8],
    place: impl Fn() -> String,
    config: SessionizerConfig,
    rules: Arc<RuleSet>,
) -> Result<(Sessionizer, u64), ProcessorError> {
    let nl = bytes.iter().position(|&b| b == b'\n').ok_or_else(|| error(place(), "no header line"))?;
    let header: Header = serde_json::from_slice(&bytes[..nl]).map_err(|e| error(place(), e))?;
    if header.v != VERSION {
        return Err(error(
            place(),
            format!(
                "snapshot version {} is not supported (this ufse writes {VERSION}); remove it \
                 to start over from the committed offset, losing the state of the sessions in progress",
                header.v
            ),
        ));
    }
    let sessions = Sessionizer::restore(&bytes[nl + 1..], config, rules).map_err(|e| error(place(), e))?;
    Ok((sessions, header.next))
}

/// Writes a snapshot file durably: temp file, fsync, rename, fsync the directory.
pub(crate) fn write_file(dir: &std::path::Path, partition: u32, bytes: &[u8]) -> std::io::Result<()> {
    let path = file(dir, partition);
    let tmp = path.with_extension("tmp");
    fs::create_dir_all(dir)?;
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, &path)?;
    File::open(dir)?.sync_all()
}

/// A snapshot file's bytes, if there is one.
pub(crate) fn read_file(dir: &std::path::Path, partition: u32) -> std::io::Result<Option<Vec<u8>>> {
    match fs::read(file(dir, partition)) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

//! Per-partition snapshot files: the sessionizer state and the offset of
//! the first record it has not seen, written atomically together.
//!
//! Format (version 3): one JSON header line `{"v":3,"next":N}`, then the
//! sessionizer state in its binary form (`Sessionizer::write_snapshot`).
//! Version 1 held the state as JSON, version 2 the engine's windows one
//! by one; neither is read any more.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
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

pub(crate) struct SnapshotDir {
    dir: PathBuf,
}

impl SnapshotDir {
    pub fn new(dir: PathBuf) -> Self {
        SnapshotDir { dir }
    }

    fn path(&self, partition: u32) -> PathBuf {
        self.dir.join(format!("p-{partition}.snap"))
    }

    fn err(path: &std::path::Path, detail: impl ToString) -> ProcessorError {
        ProcessorError::Snapshot { path: path.to_owned(), detail: detail.to_string() }
    }

    /// Writes the snapshot durably: temp file, fsync, rename, fsync the directory.
    pub fn store(&self, partition: u32, sessions: &Sessionizer, next: u64) -> Result<(), ProcessorError> {
        let path = self.path(partition);
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            fs::create_dir_all(&self.dir)?;
            let mut f = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
            serde_json::to_writer(&mut f, &Header { v: VERSION, next })?;
            f.write_all(b"\n")?;
            let f = sessions.write_snapshot(f)?.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| Self::err(&path, e))
    }

    /// Reads a partition's snapshot, if there is one.
    pub fn load(
        &self,
        partition: u32,
        config: SessionizerConfig,
        rules: Arc<RuleSet>,
    ) -> Result<Option<(Sessionizer, u64)>, ProcessorError> {
        let path = self.path(partition);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::err(&path, e)),
        };
        let nl = bytes.iter().position(|&b| b == b'\n').ok_or_else(|| Self::err(&path, "no header line"))?;
        let header: Header = serde_json::from_slice(&bytes[..nl]).map_err(|e| Self::err(&path, e))?;
        if header.v != VERSION {
            return Err(Self::err(
                &path,
                format!(
                    "snapshot version {} is not supported (this ufse writes {VERSION}); remove the file \
                     to start over from the committed offset, losing the state of the sessions in progress",
                    header.v
                ),
            ));
        }
        let sessions =
            Sessionizer::restore(&bytes[nl + 1..], config, rules).map_err(|e| Self::err(&path, e))?;
        Ok(Some((sessions, header.next)))
    }
}

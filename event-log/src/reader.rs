//! Read-only random access to a log directory, for replays (`ufse sessions
//! show`) from another process while the log is being written: it never
//! truncates or writes, and stops at the first incomplete frame.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use bytes::Bytes;

use crate::error::LogError;
use crate::segment::{list_segments, partition_dir, read_frame, segment_file_name, FrameRead};
use crate::Record;

/// Reads the records at `offsets` of `partition` under `dir`. Offsets that
/// retention removed, or that are not written yet, are simply absent.
///
/// # Errors
///
/// When a segment cannot be listed or read.
pub fn read_records(dir: &Path, partition: u32, offsets: &[u64]) -> Result<Vec<Record>, LogError> {
    let mut wanted = offsets.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let pdir = partition_dir(dir, partition);
    let bases = match list_segments(&pdir) {
        Ok(b) => b,
        Err(LogError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    let mut next = wanted.iter().peekable();
    for (i, &base) in bases.iter().enumerate() {
        let end = bases.get(i + 1).copied().unwrap_or(u64::MAX);
        while next.next_if(|&&o| o < base).is_some() {}
        if next.peek().is_none_or(|&&o| o >= end) {
            continue;
        }
        let path = pdir.join(segment_file_name(base));
        let file = match File::open(&path) {
            Ok(f) => f,
            // Retention removed it after the listing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(LogError::io(&path, e)),
        };
        let mut reader = BufReader::with_capacity(64 << 10, file);
        let mut body = Vec::new();
        while let Some(&&want) = next.peek() {
            if want >= end {
                break;
            }
            match read_frame(&mut reader, &mut body).map_err(|e| LogError::io(&path, e))? {
                FrameRead::Frame(head) => {
                    if head.offset < want {
                        continue;
                    }
                    if head.offset == want {
                        let body = Bytes::from(std::mem::take(&mut body));
                        let key_end = head.key_range().end;
                        out.push(Record {
                            partition,
                            offset: head.offset,
                            append_ms: head.append_ms,
                            key: body.slice(head.key_range()),
                            payload: body.slice(key_end..),
                        });
                    }
                    next.next();
                }
                // The end of what is written (or being written) so far.
                FrameRead::Eof | FrameRead::Torn(_) => break,
            }
        }
    }
    Ok(out)
}

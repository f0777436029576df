//! On-disk format: record frames, segment file naming, directory listing and crash-recovery scan.
//!
//! Frame: `len:u32 LE | crc32:u32 LE | offset:u64 LE | append_ms:u64 LE | key_len:u16 LE | key | payload`,
//! where `len` counts every byte after the length field and the CRC covers every byte after itself.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::LogError;

/// Size of the leading length field.
pub(crate) const LEN_BYTES: usize = 4;
/// Bytes after the length field that every frame has: crc, offset, append_ms, key_len.
pub(crate) const HEADER_BYTES: usize = 4 + 8 + 8 + 2;
/// Largest `key + payload` the log accepts. Recovery also uses it to reject garbage lengths
/// without trying to allocate them.
pub const MAX_RECORD_BYTES: usize = 32 << 20;
const MAX_BODY_BYTES: usize = HEADER_BYTES + MAX_RECORD_BYTES;

/// Total on-disk size of a frame holding `key_len + payload_len` bytes.
pub(crate) fn frame_len(key_len: usize, payload_len: usize) -> usize {
    LEN_BYTES + HEADER_BYTES + key_len + payload_len
}

/// Appends one encoded frame to `out`.
///
/// Callers validate sizes first (key ≤ u16::MAX, key + payload ≤ [`MAX_RECORD_BYTES`]),
/// so the casts below cannot truncate.
pub(crate) fn encode_frame(out: &mut Vec<u8>, offset: u64, append_ms: u64, key: &[u8], payload: &[u8]) {
    debug_assert!(key.len() <= usize::from(u16::MAX));
    debug_assert!(key.len() + payload.len() <= MAX_RECORD_BYTES);
    let body_len = HEADER_BYTES + key.len() + payload.len();
    out.reserve(LEN_BYTES + body_len);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let covered_from = out.len();
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&append_ms.to_le_bytes());
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[covered_from..]);
    out[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
}

/// The fixed fields of a decoded frame; key and payload stay in the body buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHead {
    pub(crate) offset: u64,
    pub(crate) append_ms: u64,
    pub(crate) key_len: usize,
}

impl FrameHead {
    /// Byte range of the key inside the body (the bytes after the length field).
    pub(crate) fn key_range(&self) -> std::ops::Range<usize> {
        HEADER_BYTES..HEADER_BYTES + self.key_len
    }
}

/// Outcome of reading one frame from a stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameRead {
    /// A complete, CRC-valid frame; its body is in the caller's buffer.
    Frame(FrameHead),
    /// Clean end of data at a frame boundary.
    Eof,
    /// An incomplete or invalid frame (torn write or corruption), with a description.
    Torn(String),
}

/// Decodes and verifies a frame body (everything after the length field).
fn decode_body(body: &[u8]) -> Result<FrameHead, String> {
    if body.len() < HEADER_BYTES {
        return Err(format!("frame body of {} bytes is shorter than its header", body.len()));
    }
    let le_u64 = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&body[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let stored_crc = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
    let actual_crc = crc32fast::hash(&body[4..]);
    if stored_crc != actual_crc {
        return Err(format!("crc mismatch (stored {stored_crc:#010x}, computed {actual_crc:#010x})"));
    }
    let key_len = usize::from(u16::from_le_bytes([body[20], body[21]]));
    if HEADER_BYTES + key_len > body.len() {
        return Err(format!("key length {key_len} overruns a frame body of {} bytes", body.len()));
    }
    Ok(FrameHead { offset: le_u64(4), append_ms: le_u64(12), key_len })
}

/// Reads the next frame from `r` into `body` (resized to the frame body).
///
/// # Errors
/// Only genuine read errors; truncation and corruption are reported as [`FrameRead::Torn`].
pub(crate) fn read_frame(r: &mut impl BufRead, body: &mut Vec<u8>) -> io::Result<FrameRead> {
    if r.fill_buf()?.is_empty() {
        return Ok(FrameRead::Eof);
    }
    let mut len_bytes = [0u8; LEN_BYTES];
    match r.read_exact(&mut len_bytes) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Ok(FrameRead::Torn("truncated length field".into()));
        }
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len_bytes) as usize;
    if !(HEADER_BYTES..=MAX_BODY_BYTES).contains(&len) {
        return Ok(FrameRead::Torn(format!("frame length {len} out of range")));
    }
    body.clear();
    // `take` + `read_to_end` grows the buffer only as data actually arrives, so a garbage length
    // that slipped under the cap cannot force a large allocation on a short file.
    let got = r.take(len as u64).read_to_end(body)?;
    if got < len {
        return Ok(FrameRead::Torn(format!("truncated frame ({got} of {len} bytes)")));
    }
    Ok(match decode_body(body) {
        Ok(head) => FrameRead::Frame(head),
        Err(detail) => FrameRead::Torn(detail),
    })
}

/// File name of the segment whose first record has offset `base`.
pub(crate) fn segment_file_name(base: u64) -> String {
    format!("{base:020}.log")
}

/// Inverse of [`segment_file_name`]; `None` for anything else found in a partition directory.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Directory of partition `p` under the log directory.
pub(crate) fn partition_dir(dir: &Path, p: u32) -> PathBuf {
    dir.join(format!("p-{p}"))
}

/// Base offsets of the segments in `pdir`, ascending.
///
/// # Errors
/// [`LogError::Io`] naming `pdir` when it cannot be listed.
pub(crate) fn list_segments(pdir: &Path) -> Result<Vec<u64>, LogError> {
    let mut bases = Vec::new();
    for entry in fs::read_dir(pdir).map_err(|e| LogError::io(pdir, e))? {
        let entry = entry.map_err(|e| LogError::io(pdir, e))?;
        if let Some(base) = entry.file_name().to_str().and_then(parse_segment_name) {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Makes directory entries (created, renamed or removed files) durable.
///
/// # Errors
/// [`LogError::Io`] naming `dir`.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    #[cfg(unix)]
    {
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| LogError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir; // Directories cannot be opened for fsync elsewhere; NTFS journals metadata.
    Ok(())
}

/// What a recovery scan of one segment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanResult {
    /// Bytes of complete, valid frames from the start of the file.
    pub(crate) valid_len: u64,
    /// Offset the next record appended to this segment gets.
    pub(crate) next_offset: u64,
    /// Append time of the last valid record, if any.
    pub(crate) last_append_ms: Option<u64>,
    /// Append time of the last valid data (non-tick) record, if any.
    pub(crate) last_data_ms: Option<u64>,
    /// Description of what stopped the scan before the end of the file, if anything.
    pub(crate) torn: Option<String>,
}

/// Scans the segment at `path` whose first offset is `base`, stopping at the first frame that is
/// incomplete, fails its CRC, or does not carry the next expected offset.
///
/// # Errors
/// [`LogError::Io`] naming `path` on read errors.
pub(crate) fn scan_segment(path: &Path, base: u64) -> Result<ScanResult, LogError> {
    let file = File::open(path).map_err(|e| LogError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut result =
        ScanResult { valid_len: 0, next_offset: base, last_append_ms: None, last_data_ms: None, torn: None };
    let mut body = Vec::new();
    loop {
        match read_frame(&mut reader, &mut body).map_err(|e| LogError::io(path, e))? {
            FrameRead::Eof => break,
            FrameRead::Torn(detail) => {
                result.torn = Some(detail);
                break;
            }
            FrameRead::Frame(head) if head.offset != result.next_offset => {
                result.torn = Some(format!(
                    "frame carries offset {} where {} was expected",
                    head.offset, result.next_offset
                ));
                break;
            }
            FrameRead::Frame(head) => {
                result.valid_len += (LEN_BYTES + body.len()) as u64;
                result.next_offset += 1;
                result.last_append_ms = Some(head.append_ms);
                if head.key_len > 0 {
                    result.last_data_ms = Some(head.append_ms);
                }
            }
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn frame(offset: u64, ms: u64, key: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        encode_frame(&mut v, offset, ms, key, payload);
        v
    }

    #[test]
    fn frame_round_trips() {
        let bytes = frame(42, 1_700_000_000_123, b"key", b"payload!");
        assert_eq!(bytes.len(), frame_len(3, 8));
        let mut body = Vec::new();
        let got = read_frame(&mut Cursor::new(&bytes), &mut body).unwrap();
        let head = match got {
            FrameRead::Frame(h) => h,
            other => panic!("expected a frame, got {other:?}"),
        };
        assert_eq!(head.offset, 42);
        assert_eq!(head.append_ms, 1_700_000_000_123);
        assert_eq!(&body[head.key_range()], b"key");
        assert_eq!(&body[head.key_range().end..], b"payload!");
    }

    #[test]
    fn flipped_bit_and_truncation_are_torn() {
        let mut bytes = frame(0, 1, b"k", b"v");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let mut body = Vec::new();
        assert!(matches!(
            read_frame(&mut Cursor::new(&bytes), &mut body).unwrap(),
            FrameRead::Torn(d) if d.contains("crc")
        ));
        let good = frame(0, 1, b"k", b"v");
        for cut in 1..good.len() {
            let r = read_frame(&mut Cursor::new(&good[..cut]), &mut body).unwrap();
            assert!(matches!(r, FrameRead::Torn(_)), "cut at {cut}: {r:?}");
        }
        assert_eq!(read_frame(&mut Cursor::new(&[][..]), &mut body).unwrap(), FrameRead::Eof);
    }

    #[test]
    fn garbage_length_is_torn_not_allocated() {
        let mut body = Vec::new();
        let r = read_frame(&mut Cursor::new(u32::MAX.to_le_bytes()), &mut body).unwrap();
        assert!(matches!(r, FrameRead::Torn(d) if d.contains("out of range")));
    }

    #[test]
    fn segment_names_round_trip_and_reject_strangers() {
        assert_eq!(segment_file_name(7), "00000000000000000007.log");
        assert_eq!(parse_segment_name(&segment_file_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_segment_name("7.log"), None);
        assert_eq!(parse_segment_name("0000000000000000000x.log"), None);
        assert_eq!(parse_segment_name("00000000000000000007.tmp"), None);
    }

    #[test]
    fn scan_stops_at_torn_tail_and_at_offset_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(segment_file_name(10));
        let mut f = File::create(&path).unwrap();
        let a = frame(10, 5, b"k", b"a");
        let b = frame(11, 6, b"", b"");
        f.write_all(&a).unwrap();
        f.write_all(&b).unwrap();
        f.write_all(&frame(12, 7, b"k", b"c")[..9]).unwrap();
        drop(f);
        let scan = scan_segment(&path, 10).unwrap();
        assert_eq!(scan.valid_len, (a.len() + b.len()) as u64);
        assert_eq!(scan.next_offset, 12);
        assert_eq!(scan.last_append_ms, Some(6));
        assert_eq!(scan.last_data_ms, Some(5));
        assert!(scan.torn.is_some());

        // A valid frame with the wrong offset also ends the valid prefix.
        let mut f = File::create(&path).unwrap();
        f.write_all(&a).unwrap();
        f.write_all(&frame(99, 6, b"k", b"x")).unwrap();
        drop(f);
        let scan = scan_segment(&path, 10).unwrap();
        assert_eq!((scan.valid_len, scan.next_offset), (a.len() as u64, 11));
        assert!(scan.torn.unwrap().contains("offset 99"));
    }

    #[test]
    fn list_segments_sorts_and_ignores_other_files() {
        let dir = tempfile::tempdir().unwrap();
        for base in [300u64, 0, 20] {
            File::create(dir.path().join(segment_file_name(base))).unwrap();
        }
        File::create(dir.path().join("notes.txt")).unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), vec![0, 20, 300]);
    }
}

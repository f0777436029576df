//! Reading a request body within limits, and inflating gzip without
//! letting a bomb cost more than the decompressed limit.

use std::cell::RefCell;
use std::io::{self, Cursor, Read};

use bytes::Bytes;
use flate2::bufread::GzDecoder;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use ufse_schema::{RejectReason, Rejection};

/// How the body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// `Content-Encoding: gzip` (or `x-gzip`).
    Gzip,
    /// No header, or `identity`: gzip is still recognised by its magic bytes.
    Sniff,
}

/// Parses `Content-Encoding`.
pub(crate) fn encoding(header: Option<&str>) -> Result<Encoding, Rejection> {
    match header.map(|h| h.trim().to_ascii_lowercase()) {
        None => Ok(Encoding::Sniff),
        Some(h) if h.is_empty() || h == "identity" => Ok(Encoding::Sniff),
        Some(h) if h == "gzip" || h == "x-gzip" => Ok(Encoding::Gzip),
        Some(h) => Err(Rejection::new(
            RejectReason::UnsupportedEncoding,
            format!("Content-Encoding `{h}` is not supported; send gzip or identity"),
        )),
    }
}

/// Collects the body, refusing it as soon as it passes `max` bytes.
pub(crate) async fn read_limited(mut body: Incoming, max: usize) -> Result<Bytes, Rejection> {
    let too_large = || Rejection::new(RejectReason::BodyTooLarge, format!("the body is over {max} bytes"));
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| Rejection::new(RejectReason::InvalidJson, format!("reading the body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > max {
                return Err(too_large());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Returns the JSON bytes: inflated if gzip (by header or magic bytes), as is otherwise.
pub(crate) fn decode(raw: Bytes, enc: Encoding, max: usize) -> Result<Bytes, Rejection> {
    let gzip = enc == Encoding::Gzip || raw.starts_with(&GZIP_MAGIC);
    if !gzip {
        if raw.len() > max {
            return Err(Rejection::new(
                RejectReason::DecompressedTooLarge,
                format!("the body is over {max} bytes"),
            ));
        }
        return Ok(raw);
    }
    let mut out = Vec::with_capacity((raw.len() * 4).min(max));
    inflate(raw, max, &mut out).map_err(|e| {
        Rejection::new(RejectReason::InvalidGzip, format!("the gzip body does not inflate: {e}"))
    })?;
    if out.len() > max {
        return Err(Rejection::new(
            RejectReason::DecompressedTooLarge,
            format!("the body inflates to over {max} bytes"),
        ));
    }
    Ok(Bytes::from(out))
}

thread_local! {
    /// One decoder per thread, reset for each body: a new one would
    /// allocate and zero its 32 KiB window every time.
    static GZIP: RefCell<Option<GzDecoder<Cursor<Bytes>>>> = const { RefCell::new(None) };
}

/// Inflates every gzip member of `raw` into `out`, stopping one byte past
/// `max`: enough to know it is over, never enough to let a bomb fill memory.
fn inflate(raw: Bytes, max: usize, out: &mut Vec<u8>) -> io::Result<()> {
    GZIP.with_borrow_mut(|slot| {
        let len = raw.len() as u64;
        let mut input = Cursor::new(raw);
        loop {
            let dec = match slot {
                Some(dec) => {
                    dec.reset(input);
                    dec
                }
                None => slot.insert(GzDecoder::new(input)),
            };
            let budget = (max + 1 - out.len()) as u64;
            dec.by_ref().take(budget).read_to_end(out)?;
            // Members may follow one another (RFC 1952, section 2.2).
            let end = dec.get_ref().position();
            if out.len() > max || end >= len {
                return Ok(());
            }
            input = Cursor::new(dec.get_ref().get_ref().clone());
            input.set_position(end);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Bytes {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        Bytes::from(e.finish().unwrap())
    }

    #[test]
    fn gzip_is_recognised_by_magic_bytes_without_a_header() {
        assert_eq!(decode(gz(b"{\"a\":1}"), Encoding::Sniff, 100).unwrap(), Bytes::from_static(b"{\"a\":1}"));
        assert_eq!(
            decode(Bytes::from_static(b"{}"), Encoding::Sniff, 100).unwrap(),
            Bytes::from_static(b"{}")
        );
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let bomb = gz(&vec![b' '; 64 << 20]);
        assert!(bomb.len() < 100_000);
        let e = decode(bomb, Encoding::Gzip, 16 << 20).unwrap_err();
        assert_eq!(e.reason, RejectReason::DecompressedTooLarge);
    }

    #[test]
    fn truncated_or_fake_gzip_is_invalid_gzip() {
        let g = gz(b"{\"v\":1,\"sid\":\"s\",\"events\":[]}");
        let e = decode(g.slice(..g.len() - 6), Encoding::Sniff, 1000).unwrap_err();
        assert_eq!(e.reason, RejectReason::InvalidGzip);
        let e = decode(Bytes::from_static(b"{}"), Encoding::Gzip, 1000).unwrap_err();
        assert_eq!(e.reason, RejectReason::InvalidGzip);
    }

    #[test]
    fn every_member_is_inflated_and_trailing_garbage_is_invalid() {
        let mut two = gz(b"{\"a\":").to_vec();
        two.extend_from_slice(&gz(b"1}"));
        assert_eq!(
            decode(Bytes::from(two.clone()), Encoding::Gzip, 100).unwrap(),
            Bytes::from_static(b"{\"a\":1}")
        );
        // The limit counts across members.
        let e = decode(Bytes::from(two.clone()), Encoding::Gzip, 6).unwrap_err();
        assert_eq!(e.reason, RejectReason::DecompressedTooLarge);
        two.extend_from_slice(b"junk");
        assert_eq!(
            decode(Bytes::from(two), Encoding::Gzip, 100).unwrap_err().reason,
            RejectReason::InvalidGzip
        );
    }

    #[test]
    fn the_reused_decoder_starts_clean_after_a_failure() {
        let good = gz(b"{\"ok\":true}");
        let corrupt = {
            let mut c = good.to_vec();
            let n = c.len();
            c[n / 2] ^= 0xff;
            Bytes::from(c)
        };
        for _ in 0..3 {
            assert_eq!(
                decode(corrupt.clone(), Encoding::Gzip, 100).unwrap_err().reason,
                RejectReason::InvalidGzip
            );
            assert_eq!(
                decode(good.clone(), Encoding::Gzip, 100).unwrap(),
                Bytes::from_static(b"{\"ok\":true}")
            );
        }
        assert_eq!(decode(Bytes::new(), Encoding::Gzip, 100).unwrap_err().reason, RejectReason::InvalidGzip);
    }

    #[test]
    fn encodings() {
        assert_eq!(encoding(Some("GZIP")).unwrap(), Encoding::Gzip);
        assert_eq!(encoding(Some("identity")).unwrap(), Encoding::Sniff);
        assert_eq!(encoding(Some("br")).unwrap_err().reason, RejectReason::UnsupportedEncoding);
    }
}

//! Reading a request body within limits, and inflating gzip without
//! letting a bomb cost more than the decompressed limit.

use std::io::Read;

use bytes::Bytes;
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
    // Read at most one byte past the limit: enough to know it is over,
    // never enough to let a bomb fill memory.
    let mut dec = flate2::read::MultiGzDecoder::new(&raw[..]).take(max as u64 + 1);
    dec.read_to_end(&mut out).map_err(|e| {
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
    fn encodings() {
        assert_eq!(encoding(Some("GZIP")).unwrap(), Encoding::Gzip);
        assert_eq!(encoding(Some("identity")).unwrap(), Encoding::Sniff);
        assert_eq!(encoding(Some("br")).unwrap_err().reason, RejectReason::UnsupportedEncoding);
    }
}

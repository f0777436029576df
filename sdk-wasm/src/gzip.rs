//! A tiny synchronous gzip (RFC 1952) encoder, for compressing a batch
//! as the tab closes, when there is no time to wait for the browser's
//! asynchronous `CompressionStream`.
//!
//! The DEFLATE (RFC 1951) stream is one block with the fixed Huffman
//! codes, and matches are found greedily with a single-candidate hash
//! table: no hash chains, no lazy matching, no dynamic trees. That gives
//! up some ratio for code size (every byte of wasm counts); on the SDK's
//! repetitive JSON it still shrinks batches several times over. Matches
//! are at most 257 bytes long (258 would need its own code). Input is
//! capped at [`MAX_IN`] bytes, and the output buffer is sized for the
//! worst case of that, so compressing never fails.

/// Largest input [`Gzip::compress`] takes.
pub const MAX_IN: usize = 80 * 1024;

/// Worst case output: gzip header (10 bytes) and trailer (8), and a block
/// of 3 header bits, 9 bits per input byte and a 7-bit end of block. 9 is
/// the longest literal code; a match costs less per byte (at most 25 bits
/// for 3 to 10 bytes, 31 bits for more).
const MAX_OUT: usize = 10 + (3 + 9 * MAX_IN + 7).div_ceil(8) + 8;

const HASH_BITS: u32 = 13;
/// Shortest and longest match.
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 257;
/// Farthest a match may reach back.
const WINDOW: usize = 32 * 1024;

/// A gzip encoder with every buffer it needs inline (no allocator).
pub struct Gzip {
    /// For each hash of 3 bytes, the last position where they were seen.
    head: [u32; 1 << HASH_BITS],
    out: [u8; MAX_OUT],
    /// Length of the last result, at the start of `out`.
    len: usize,
}

impl Default for Gzip {
    fn default() -> Self {
        Self::new()
    }
}

impl Gzip {
    /// An encoder (a `const fn`, so it can be a `static`).
    pub const fn new() -> Self {
        Gzip { head: [0; 1 << HASH_BITS], out: [0; MAX_OUT], len: 0 }
    }

    /// `src` gzipped (only its first [`MAX_IN`] bytes are read). Never
    /// fails; the result lives until the next call.
    pub fn compress(&mut self, src: &[u8]) -> &[u8] {
        let src = &src[..src.len().min(MAX_IN)];
        // Positions from an earlier call are not in this input.
        self.head.fill(0);
        let mut w = Bits { out: &mut self.out, len: 0, acc: 0, n: 0 };
        // The gzip header: ID1 ID2, CM = deflate, FLG = 0; MTIME = 0 (none);
        // XFL = 0, OS = 255 (unknown). Then the block header: BFINAL = 1,
        // BTYPE = 01 (fixed Huffman).
        w.put(0x0008_8b1f, 32);
        w.put(0, 32);
        w.put(0xff00 | 0b011 << 16, 19);

        // Bytes of the last match still to pass over (they are hashed all
        // the same, so later matches can start inside them).
        let mut skip = 0;
        for i in 0..src.len() {
            // No candidate: a distance of 0, never valid.
            let mut cand = i;
            if let [a, b, c, ..] = src[i..] {
                let key = u32::from(a) | u32::from(b) << 8 | u32::from(c) << 16;
                let h = (key.wrapping_mul(0x9e37_79b1) >> (32 - HASH_BITS)) as usize;
                cand = self.head[h] as usize;
                self.head[h] = i as u32;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            // The table holds positions of this input before `i`, or 0
            // where nothing was stored (a real earlier position too: a
            // candidate is only a guess, checked byte by byte). So `dist`
            // is at least 1, but for `i` = 0, where it is 0 and rejected.
            let dist = i.wrapping_sub(cand);
            let mut len = 0;
            if dist.wrapping_sub(1) < WINDOW {
                // `cand + len` may run into `i..`: an overlapping match
                // repeats, which is what deflate means by it.
                while len < MAX_MATCH && src.get(i + len).is_some_and(|&b| b == src[cand + len]) {
                    len += 1;
                }
            }
            if len >= MIN_MATCH {
                let (code, extra, bits) = split(len - MIN_MATCH, 2);
                w.symbol(257 + code);
                w.put(extra, bits);
                let (code, extra, bits) = split(dist - 1, 1);
                w.huff(code, 5);
                w.put(extra, bits);
                skip = len - 1;
            } else {
                w.symbol(u32::from(src[i]));
            }
        }
        w.symbol(256); // end of block
        w.put(0, (8 - w.n) & 7); // to a byte boundary

        // CRC-32 bit by bit: a 1 KiB table would be ~40 bytes more
        // (gzipped) for ~0.4 ms less per 60 KB.
        let mut crc = !0u32;
        for &b in src {
            crc ^= u32::from(b);
            for _ in 0..8 {
                // The polynomial goes in when the bit shifted out is 1.
                crc = crc >> 1 ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
            }
        }
        w.put(!crc, 32);
        w.put(src.len() as u32, 32); // ISIZE
        self.len = w.len;
        self.output()
    }

    /// The last result of [`Gzip::compress`] (empty before the first).
    pub fn output(&self) -> &[u8] {
        &self.out[..self.len]
    }
}

/// Splits `v` (a match length - 3, or a distance - 1) into its deflate
/// code (lengths add 257 to it), the value of its extra bits and their
/// count (RFC 1951 section 3.2.5, computed rather than tabled). Codes go
/// in groups of `2^k` (`k` = 2 for lengths, 1 for distances), each group
/// covering ranges twice as wide as the last: the first `2^(k+1)` values
/// have a code each; past them, `v` is its top `k + 1` bits followed by
/// `e` extra bits, and its code is those top bits plus `e << k`.
fn split(v: usize, k: u32) -> (u32, u32, u32) {
    let v = v as u32;
    let e = (u32::BITS - v.leading_zeros()).saturating_sub(k + 1);
    ((e << k) + (v >> e), v & ((1 << e) - 1), e)
}

/// A bit writer. Deflate packs everything least significant bit first,
/// except Huffman codes, which go most significant bit first ([`Bits::huff`]).
struct Bits<'a> {
    out: &'a mut [u8; MAX_OUT],
    len: usize,
    /// Bits not yet written, the first in the lowest bit; `n` of them.
    acc: u64,
    n: u32,
}

impl Bits<'_> {
    /// Appends `v`, which fits in `n` bits (at most 32), lowest bit first.
    fn put(&mut self, v: u32, n: u32) {
        self.acc |= u64::from(v) << self.n;
        self.n += n;
        while self.n >= 8 {
            self.out[self.len] = self.acc as u8;
            self.len += 1;
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// Appends an `n`-bit Huffman code, highest bit first.
    fn huff(&mut self, code: u32, n: u32) {
        let mut rev = 0;
        let mut code = code;
        for _ in 0..n {
            rev = rev << 1 | code & 1;
            code >>= 1;
        }
        self.put(rev, n);
    }

    /// Appends a literal/length symbol (0 to 287) in the fixed code
    /// (RFC 1951 section 3.2.6).
    fn symbol(&mut self, sym: u32) {
        let (code, n) = match sym {
            0..=143 => (sym + 0x30, 8),
            144..=255 => (sym + 0x190 - 144, 9),
            256..=279 => (sym - 256, 7),
            _ => (sym + 0xc0 - 280, 8),
        };
        self.huff(code, n);
    }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::*;

    /// Base lengths of codes 257 to 285, and their extra bits
    /// (RFC 1951 section 3.2.5).
    const LEN_BASE: [u32; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163,
        195, 227, 258,
    ];
    const LEN_EXTRA: [u32; 29] =
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
    /// Base distances of codes 0 to 29, and their extra bits.
    const DIST_BASE: [u32; 30] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049,
        3073, 4097, 6145, 8193, 12289, 16385, 24577,
    ];
    const DIST_EXTRA: [u32; 30] =
        [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

    /// Reads bits least significant first.
    struct Reader<'a> {
        bytes: &'a [u8],
        bit: usize,
    }

    impl Reader<'_> {
        fn bit(&mut self) -> u32 {
            let b = self.bytes[self.bit / 8] >> (self.bit % 8) & 1;
            self.bit += 1;
            u32::from(b)
        }

        /// `n` bits as a number, first bit lowest.
        fn bits(&mut self, n: u32) -> u32 {
            (0..n).map(|i| self.bit() << i).sum()
        }

        /// A Huffman code's next bit, first bit highest.
        fn more(&mut self, code: u32) -> u32 {
            code << 1 | self.bit()
        }

        /// A literal/length symbol in the fixed code (RFC 1951 3.2.6).
        fn symbol(&mut self) -> u32 {
            let mut code = 0;
            for _ in 0..7 {
                code = self.more(code);
            }
            if code <= 0b001_0111 {
                return 256 + code;
            }
            code = self.more(code);
            match code {
                0b0011_0000..=0b1011_1111 => return code - 0b0011_0000,
                0b1100_0000..=0b1100_0111 => return 280 + code - 0b1100_0000,
                _ => {}
            }
            code = self.more(code);
            assert!((0b1_1001_0000..=0b1_1111_1111).contains(&code));
            144 + code - 0b1_1001_0000
        }
    }

    /// An independent gunzip for gzip members holding one fixed-Huffman
    /// block, checking everything it can along the way.
    fn gunzip(gz: &[u8]) -> Vec<u8> {
        inflate(gz).0
    }

    /// [`gunzip`], and the farthest distance a match reached.
    fn inflate(gz: &[u8]) -> (Vec<u8>, usize) {
        assert_eq!(gz[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        let mut r = Reader { bytes: &gz[10..], bit: 0 };
        assert_eq!(r.bit(), 1, "BFINAL");
        assert_eq!(r.bits(2), 1, "BTYPE fixed");
        let mut out = Vec::new();
        let mut farthest = 0;
        loop {
            let sym = r.symbol();
            match sym {
                0..=255 => out.push(sym as u8),
                256 => break,
                257..=285 => {
                    let i = (sym - 257) as usize;
                    let len = LEN_BASE[i] + r.bits(LEN_EXTRA[i]);
                    assert!(sym != 284 || len < 258, "258 is code 285's alone");
                    let mut code = 0;
                    for _ in 0..5 {
                        code = r.more(code);
                    }
                    let d = code as usize;
                    assert!(d < 30, "distance code {d}");
                    let dist = (DIST_BASE[d] + r.bits(DIST_EXTRA[d])) as usize;
                    assert!(dist <= out.len() && dist <= 32768, "distance {dist}");
                    farthest = farthest.max(dist);
                    for _ in 0..len {
                        out.push(out[out.len() - dist]);
                    }
                }
                _ => panic!("symbol {sym}"),
            }
        }
        // Padding to the byte boundary is zeros, then the trailer ends it.
        while !r.bit.is_multiple_of(8) {
            assert_eq!(r.bit(), 0);
        }
        let trailer = &gz[10 + r.bit / 8..];
        assert_eq!(trailer.len(), 8);
        assert_eq!(trailer[..4], crc32(&out).to_le_bytes());
        assert_eq!(trailer[4..], (out.len() as u32).to_le_bytes());
        (out, farthest)
    }

    /// CRC-32, written out apart from the encoder's.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { crc >> 1 ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    fn round_trip(gz: &mut Gzip, src: &[u8]) -> usize {
        let out = gz.compress(src);
        assert!(out.len() <= MAX_OUT);
        assert_eq!(gunzip(out), src);
        out.len()
    }

    fn xorshift(n: usize, mut s: u32) -> Vec<u8> {
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s as u8
            })
            .collect()
    }

    fn json_batch(n: usize) -> Vec<u8> {
        let mut v = Vec::new();
        let mut rnd = xorshift(n, 7).into_iter();
        let mut seq = 0;
        while v.len() < n {
            let r = rnd.next().unwrap_or(0);
            let e = std::format!(
                "{{\"t\":\"click\",\"ts\":{},\"x\":{},\"y\":{},\"sel\":\"main#app > section.product.card > button#buy.btn.primary\",\"seq\":{}}},",
                1_732_810_000_000u64 + seq * 37 + u64::from(r),
                r % 200,
                r / 3,
                seq,
            );
            v.extend_from_slice(e.as_bytes());
            seq += 1;
        }
        v.truncate(n);
        v
    }

    fn gzip() -> std::boxed::Box<Gzip> {
        std::boxed::Box::new(Gzip::new())
    }

    #[test]
    fn header_and_trailer() {
        let mut gz = gzip();
        let out = gz.compress(b"123456789");
        assert_eq!(out[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        let n = out.len();
        assert_eq!(out[n - 8..n - 4], 0xcbf4_3926u32.to_le_bytes());
        assert_eq!(out[n - 4..], 9u32.to_le_bytes());
        assert_eq!(gunzip(out), b"123456789");
    }

    #[test]
    fn empty() {
        let mut gz = gzip();
        // The block is BFINAL, BTYPE = 01 and end of block (7 zero bits):
        // 0b011 then zeros, in two bytes.
        let expected = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(gz.compress(b""), expected);
        assert_eq!(gunzip(&expected), b"");
    }

    #[test]
    fn split_matches_the_rfc_tables() {
        for len in 3..=257 {
            let (code, extra, bits) = split(len - 3, 2);
            let i = code as usize;
            assert!(i < 28, "length {len} must not use code 285");
            assert_eq!((LEN_BASE[i] + extra, LEN_EXTRA[i]), (len as u32, bits), "length {len}");
            assert!(extra < 1 << bits);
        }
        for dist in 1..=32768 {
            let (code, extra, bits) = split(dist - 1, 1);
            let i = code as usize;
            assert_eq!((DIST_BASE[i] + extra, DIST_EXTRA[i]), (dist as u32, bits), "dist {dist}");
            assert!(extra < 1 << bits);
        }
    }

    #[test]
    fn json_round_trips_and_shrinks() {
        let mut gz = gzip();
        for n in [1, 2, 3, 4, 100, 5000, 60 * 1024, MAX_IN] {
            let src = json_batch(n);
            let len = round_trip(&mut gz, &src);
            if n >= 5000 {
                assert!(len * 4 < n, "{n} bytes gave {len}");
            }
        }
    }

    #[test]
    fn random_bytes_round_trip() {
        let mut gz = gzip();
        for (n, seed) in [(1, 1), (17, 2), (1000, 3), (60_000, 4), (MAX_IN, 5)] {
            let src = xorshift(n, seed);
            round_trip(&mut gz, &src);
        }
        // Few symbols: many short matches at all kinds of distances.
        let src: Vec<u8> = xorshift(MAX_IN, 6).iter().map(|b| b"ab\n"[usize::from(b % 3)]).collect();
        round_trip(&mut gz, &src);
    }

    /// A de Bruijn sequence of order 3 over `0..k`: every 3 bytes in a
    /// row differ from every other 3 (Lyndon words, in order).
    fn de_bruijn3(k: u8) -> Vec<u8> {
        let mut seq = Vec::new();
        let mut w = std::vec![0u8];
        loop {
            if 3 % w.len() == 0 {
                seq.extend_from_slice(&w);
            }
            let m = w.len();
            while w.len() < 3 {
                w.push(w[w.len() - m]);
            }
            while w.last() == Some(&(k - 1)) {
                w.pop();
            }
            match w.last_mut() {
                Some(x) => *x += 1,
                None => return seq,
            }
        }
    }

    #[test]
    fn worst_case_fits() {
        // As long as allowed, all 9-bit literals (bytes >= 144) and no
        // 3 bytes ever repeated, so no match: exactly the worst case.
        let src: Vec<u8> = de_bruijn3(112).iter().take(MAX_IN).map(|b| b + 144).collect();
        assert_eq!(src.len(), MAX_IN);
        let mut gz = gzip();
        assert_eq!(round_trip(&mut gz, &src), MAX_OUT);
        // More than MAX_IN: only the first MAX_IN bytes.
        let mut long = src.clone();
        long.extend_from_slice(&[1; 1000]);
        assert_eq!(gunzip(gz.compress(&long)), src);
    }

    #[test]
    fn long_runs() {
        let mut gz = gzip();
        for n in [3, 4, 257, 258, 259, 515, 70 * 1024, MAX_IN] {
            let src = std::vec![b'a'; n];
            let len = round_trip(&mut gz, &src);
            assert!(len < 24 + n / 50, "{n} bytes gave {len}");
        }
    }

    #[test]
    fn window_edges() {
        // A random block, zeros, the block again `gap` bytes after the
        // first: only there can it be found, and only within the window
        // (else it costs ~300 bytes more, as literals).
        let mut gz = gzip();
        let block = xorshift(300, 11);
        for gap in [32767, 32768, 32769] {
            let mut src = block.clone();
            src.resize(gap, 0);
            src.extend_from_slice(&block);
            let out = gz.compress(&src);
            let (back, farthest) = inflate(out);
            assert_eq!(back, src);
            if gap <= 32768 {
                assert_eq!(farthest, gap);
                assert!(out.len() < 700, "gap {gap}: {}", out.len());
            } else {
                assert!(farthest < gap);
                assert!(out.len() > 850, "gap {gap}: {}", out.len());
            }
        }
    }

    #[test]
    fn calls_are_independent() {
        let mut gz = gzip();
        let a = json_batch(20_000);
        let first = gz.compress(&a).to_vec();
        assert_eq!(gz.output(), first);
        // A different input in between leaves positions in the table.
        let b = xorshift(40_000, 21);
        round_trip(&mut gz, &b);
        assert_eq!(gz.compress(&a), first);
        round_trip(&mut gz, &a[..100]);
    }
}

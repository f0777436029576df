//! Which `seq`s a session has stored, and a digest of each, so a repeat
//! can be told apart as a `duplicate` (same content) or a `seq_conflict`.

use serde::{Deserialize, Serialize};

/// How far past the dense range a `seq` may land and still extend it;
/// beyond that it goes to the sparse list (one client skipping far ahead
/// must not make every session allocate the gap).
const MAX_GAP: u64 = 1024;
/// Slack of holes the dense range may hold beyond one per filled slot, so
/// seqs spread out on purpose cannot inflate it (each would otherwise
/// claim up to `MAX_GAP` slots).
const HOLE_SLACK: u64 = 64;

/// Seen `seq`s with a 32-bit content digest each.
///
/// SDKs number events 1, 2, 3, ... with few gaps, so the common case is a
/// dense vector of digests indexed by `seq - base`: 4 bytes per event,
/// where a map would cost several times that. Digest 0 marks a hole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SeqSet {
    base: u64,
    dense: Vec<u32>,
    /// Filled (non-hole) slots of `dense`.
    filled: u64,
    /// `(seq, digest)` outside the dense range, sorted by `seq`; rare, so
    /// allocated on first use.
    #[allow(clippy::box_collection)] // 8 bytes inline instead of 24, for a rare list
    sparse: Option<Box<Vec<(u64, u32)>>>,
}

/// The verdict on one arriving event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// First copy: store and evaluate it.
    New,
    /// Same `seq`, same content as the stored copy.
    Duplicate,
    /// Same `seq`, different content: the first copy wins.
    Conflict,
}

fn verdict(stored: u32, digest: u32) -> Seen {
    if stored == digest {
        Seen::Duplicate
    } else {
        Seen::Conflict
    }
}

impl SeqSet {
    pub fn insert(&mut self, seq: u64, digest: u32) -> Seen {
        // 0 marks a hole in `dense`, so real digests avoid it.
        let digest = digest.max(1);
        if self.dense.is_empty() && self.sparse.is_none() {
            self.base = seq;
        }
        let fits = seq >= self.base && {
            let len = seq - self.base + 1;
            len <= self.dense.len() as u64
                || (len <= self.dense.len() as u64 + MAX_GAP && len <= 2 * (self.filled + 1) + HOLE_SLACK)
        };
        if fits {
            let i = (seq - self.base) as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, 0);
            }
            return match self.dense[i] {
                0 => {
                    self.dense[i] = digest;
                    self.filled += 1;
                    Seen::New
                }
                stored => verdict(stored, digest),
            };
        }
        let sparse = self.sparse.get_or_insert_default();
        match sparse.binary_search_by_key(&seq, |&(s, _)| s) {
            Ok(i) => verdict(sparse[i].1, digest),
            Err(i) => {
                sparse.insert(i, (seq, digest));
                Seen::New
            }
        }
    }

    /// Gives back spare capacity (an idle session keeps only what it needs).
    pub fn shrink(&mut self) {
        self.dense.shrink_to_fit();
        if let Some(s) = self.sparse.as_mut() {
            s.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_new_duplicate_and_conflict_apart_in_any_order() {
        let mut s = SeqSet::default();
        assert_eq!(s.insert(5, 1), Seen::New);
        assert_eq!(s.insert(2, 7), Seen::New, "below the first seq");
        assert_eq!(s.insert(9, 3), Seen::New);
        assert_eq!(s.insert(2, 7), Seen::Duplicate);
        assert_eq!(s.insert(5, 2), Seen::Conflict);
        assert_eq!(s.insert(9, 3), Seen::Duplicate);
        assert_eq!(s.insert(7, 0), Seen::New, "a digest of 0 is still a digest");
        assert_eq!(s.insert(7, 0), Seen::Duplicate);
        assert_eq!(s.insert(8, 4), Seen::New, "fills a hole");
        assert_eq!(s.insert(1_000_000, 4), Seen::New, "far ahead goes sparse");
        assert_eq!(s.insert(1_000_000, 5), Seen::Conflict);
        assert!(s.dense.len() < 100);
    }

    /// Regression: seqs spaced just under the gap limit each claimed ~1,000
    /// slots, so a 2,000-event batch could cost megabytes of one session.
    #[test]
    fn spread_out_seqs_cannot_inflate_the_dense_range() {
        let mut s = SeqSet::default();
        for i in 0..2000u64 {
            assert_eq!(s.insert(1 + i * 1025, 7), Seen::New);
        }
        assert!(s.dense.len() < 200, "{}", s.dense.len());
        assert_eq!(s.insert(1 + 1999 * 1025, 7), Seen::Duplicate);
        // Dense traffic still lands in the dense range.
        let mut d = SeqSet::default();
        for seq in 1..=5000 {
            d.insert(seq, 1);
        }
        assert_eq!((d.dense.len(), d.sparse.is_none()), (5000, true));
    }
}

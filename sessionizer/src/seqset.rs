//! Which `seq`s a session has stored, and a digest of each, so a repeat
//! can be told apart as a `duplicate` (same content) or a `seq_conflict`.

use serde::{Deserialize, Serialize};

/// How far past the dense range a `seq` may land and still extend it;
/// beyond that it goes to the sparse list (one client skipping far ahead
/// must not make every session allocate the gap).
const MAX_GAP: u64 = 1024;

/// Seen `seq`s with a 32-bit content digest each.
///
/// SDKs number events 1, 2, 3, ... with few gaps, so the common case is a
/// dense vector of digests indexed by `seq - base`: 4 bytes per event,
/// where a map would cost several times that. Digest 0 marks a hole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SeqSet {
    base: u64,
    dense: Vec<u32>,
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
        if seq >= self.base && seq - self.base <= self.dense.len() as u64 + MAX_GAP {
            let i = (seq - self.base) as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, 0);
            }
            return match self.dense[i] {
                0 => {
                    self.dense[i] = digest;
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
}

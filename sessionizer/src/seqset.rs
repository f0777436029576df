//! Which `seq`s a session has stored, and a digest of each, so a repeat
//! can be told apart as a `duplicate` (same content) or a `seq_conflict`.

use serde::{Deserialize, Serialize};

/// Seen `seq`s with a 32-bit content digest each, sorted by `seq`.
///
/// `seq`s mostly arrive in increasing order, so inserts are pushes; a
/// sorted vector costs 16 bytes per event where a hash map would cost
/// several times that.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SeqSet {
    entries: Vec<(u64, u32)>,
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

impl SeqSet {
    pub fn insert(&mut self, seq: u64, digest: u32) -> Seen {
        if self.entries.last().is_none_or(|&(last, _)| last < seq) {
            self.entries.push((seq, digest));
            return Seen::New;
        }
        match self.entries.binary_search_by_key(&seq, |&(s, _)| s) {
            Ok(i) if self.entries[i].1 == digest => Seen::Duplicate,
            Ok(_) => Seen::Conflict,
            Err(i) => {
                self.entries.insert(i, (seq, digest));
                Seen::New
            }
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
        assert_eq!(s.insert(2, 7), Seen::New);
        assert_eq!(s.insert(9, 3), Seen::New);
        assert_eq!(s.insert(2, 7), Seen::Duplicate);
        assert_eq!(s.insert(5, 2), Seen::Conflict);
        assert_eq!(s.insert(9, 3), Seen::Duplicate);
        assert_eq!(s.insert(3, 0), Seen::New);
        assert_eq!(s.entries.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2, 3, 5, 9]);
    }
}

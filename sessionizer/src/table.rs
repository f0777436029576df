//! The live sessions by log key, at one pointer per slot.
//!
//! A map from key to boxed session spends a key (24 bytes) and a pointer
//! on every slot, and a hash table keeps up to twice as many slots as
//! entries. Here each slot is only the session's box, and the key lives in
//! the session.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

use crate::Session;

#[derive(Debug, Clone, Default)]
pub(crate) struct Sessions {
    table: HashTable<Box<Session>>,
    hasher: std::hash::RandomState,
}

impl Sessions {
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Session> {
        let hash = self.hasher.hash_one(key);
        self.table.find_mut(hash, |s| *s.key == *key).map(|s| &mut **s)
    }

    /// The session under `key`, made by `new` if there is none.
    pub fn get_or_insert_with(&mut self, key: &str, new: impl FnOnce() -> Session) -> &mut Session {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(key);
        let entry = self.table.entry(hash, |s| *s.key == *key, |s| hasher.hash_one(&*s.key));
        let session = entry.or_insert_with(|| Box::new(new())).into_mut();
        debug_assert_eq!(*session.key, *key);
        session
    }

    pub fn remove(&mut self, key: &str) -> Option<Box<Session>> {
        let hash = self.hasher.hash_one(key);
        self.table.find_entry(hash, |s| *s.key == *key).ok().map(|e| e.remove().0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.table.iter().map(|s| &**s)
    }
}

/// A sequence of sessions, each with its key.
impl Serialize for Sessions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.table.iter())
    }
}

impl<'de> Deserialize<'de> for Sessions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut sessions = Sessions::default();
        for s in Vec::<Box<Session>>::deserialize(d)? {
            let hasher = &sessions.hasher;
            let hash = hasher.hash_one(&*s.key);
            sessions.table.insert_unique(hash, s, |s| hasher.hash_one(&*s.key));
        }
        Ok(sessions)
    }
}

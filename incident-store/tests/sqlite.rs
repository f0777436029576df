//! The SQLite store against real database files: the conformance suite,
//! and what only a file can show.

mod conformance;

use conformance::{conformance_tests, Fixture};
use tempfile::TempDir;
use ufse_incident_store::{SqliteEventStore, SqliteStore};

/// A store in a fresh directory, removed with it.
struct InDir<S> {
    store: S,
    dir: TempDir,
}

impl<S> Fixture for InDir<S> {
    type Store = S;
    fn store(&self) -> &S {
        &self.store
    }
    async fn done(self) {}
}

async fn meta() -> Option<InDir<SqliteStore>> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ufse.db")).await.unwrap();
    Some(InDir { store, dir })
}

async fn events() -> Option<InDir<SqliteEventStore>> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEventStore::open(&dir.path().join("events.db")).await.unwrap();
    Some(InDir { store, dir })
}

async fn triggered() -> Option<InDir<SqliteStore>> {
    meta().await.map(|f| InDir { store: f.store.with_triggers(conformance::triggers()), dir: f.dir })
}

conformance_tests!(meta().await, events().await, triggered().await);

#[tokio::test]
async fn a_key_itself_is_nowhere_in_the_database_files() {
    let f = meta().await.unwrap();
    let key = conformance::keys_are_stored_as_digests_and_can_be_revoked(f.store()).await;
    let raw = std::fs::read(f.dir.path().join("ufse.db")).unwrap();
    let wal = std::fs::read(f.dir.path().join("ufse.db-wal")).unwrap_or_default();
    let hay = [raw, wal].concat();
    assert!(hay.windows(7).any(|w| w == b"default"), "the files were read");
    assert!(!hay.windows(key.len()).any(|w| w == key.as_bytes()));
}

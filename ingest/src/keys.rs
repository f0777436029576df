//! Write-key checks with a short-lived cache, so the edge does one SHA-256
//! and (usually) no database round trip per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ufse_incident_store::{key_digest, IncidentStore, KeyStatus, StoreError};

/// Most keys remembered; random keys from a scanner cannot grow it further.
const MAX_CACHED_KEYS: usize = 10_000;

/// Resolves keys through the store, remembering answers for `ttl`.
#[derive(Debug)]
pub(crate) struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (KeyStatus, Instant)>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        KeyCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    pub async fn resolve<S: IncidentStore>(&self, store: &S, key: &str) -> Result<KeyStatus, StoreError> {
        let digest = key_digest(key);
        let now = Instant::now();
        if let Some((status, at)) = self.entries.lock().unwrap_or_else(|e| e.into_inner()).get(&digest) {
            if now.duration_since(*at) < self.ttl {
                return Ok(status.clone());
            }
        }
        let status = store.lookup_key(&digest).await?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED_KEYS {
            entries.clear();
        }
        entries.insert(digest, (status.clone(), now));
        Ok(status)
    }
}

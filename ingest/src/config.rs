//! The edge's configuration: the `[ingest]` section.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[ingest]`: the HTTP edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: String,
    /// Largest request body as sent (compressed).
    pub max_body_bytes: usize,
    /// Largest body after gunzip; inflating stops here.
    pub max_decompressed_bytes: usize,
    /// Most events in one batch.
    pub max_events: usize,
    /// Strings longer than this are truncated and reported.
    pub max_string_bytes: usize,
    /// Sustained events per second one write key may send (0: no limit).
    pub key_events_per_sec: f64,
    /// Burst allowance per key, in events.
    pub key_burst_events: f64,
    /// Sustained events per second one client address may send (0: no limit).
    pub client_events_per_sec: f64,
    /// Burst allowance per client address, in events.
    pub client_burst_events: f64,
    /// How long a key lookup is cached; a revocation takes at most this long to bite.
    pub key_cache_ms: u64,
    /// How long shutdown waits for requests in flight.
    pub drain_timeout_ms: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 1 << 20,
            max_decompressed_bytes: 16 << 20,
            max_events: 2000,
            max_string_bytes: 8 * 1024,
            key_events_per_sec: 2_000_000.0,
            key_burst_events: 4_000_000.0,
            client_events_per_sec: 20_000.0,
            client_burst_events: 100_000.0,
            key_cache_ms: 1000,
            drain_timeout_ms: 10_000,
        }
    }
}

impl IngestConfig {
    /// The listen address.
    ///
    /// # Errors
    ///
    /// When `listen` is not `HOST:PORT` with an IP host.
    pub fn listen_addr(&self) -> Result<SocketAddr, std::net::AddrParseError> {
        let s = self.listen.strip_prefix("localhost:").map(|p| format!("127.0.0.1:{p}"));
        s.as_deref().unwrap_or(&self.listen).parse()
    }

    /// Key cache lifetime.
    pub fn key_cache(&self) -> Duration {
        Duration::from_millis(self.key_cache_ms)
    }

    /// Drain deadline.
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.drain_timeout_ms)
    }
}

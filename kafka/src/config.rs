//! `[kafka]`: where the event log lives when it is Kafka, and how UFSE talks to it.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

/// The `[kafka]` section. An empty `brokers` means the embedded log is used instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port...]`; empty: Kafka is not used.
    pub brokers: String,
    /// The topic the edge produces accepted batches to.
    pub topic: String,
    /// Partitions `ufse kafka init` creates the topic with; the unit of processor parallelism.
    pub partitions: u32,
    /// Replication factor `ufse kafka init` creates the topic with.
    pub replication_factor: u32,
    /// `retention.ms` of the topic `ufse kafka init` creates; how long events stay replayable.
    pub retention_ms: u64,
    /// Consumer group of `ufse process`; processors in one group share the partitions.
    pub group: String,
    /// How long the edge waits for the broker to confirm a batch before answering 503
    /// (librdkafka's `message.timeout.ms`; its own default of 300 s would hold requests).
    pub delivery_timeout_ms: u64,
    /// Records the producer may hold unconfirmed; past it the edge answers 503 at once.
    pub max_in_flight_records: u32,
    /// `lz4`, `zstd`, `gzip`, `snappy` or `none`.
    pub compression: String,
    /// How often the edge stamps every partition with a tick, so processors see log time move
    /// on quiet partitions and end silent sessions.
    pub tick_interval_ms: u64,
    /// The group session timeout: how soon the partitions of a processor that died move on.
    pub session_timeout_ms: u64,
    /// Further librdkafka properties for both producer and consumer (`security.protocol`,
    /// `sasl.*`, ...); they override the ones UFSE sets.
    pub client: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: String::new(),
            topic: "ufse-events".into(),
            partitions: 12,
            replication_factor: 3,
            retention_ms: 7 * 24 * 3600 * 1000,
            group: "ufse-processor".into(),
            delivery_timeout_ms: 5_000,
            max_in_flight_records: 100_000,
            compression: "lz4".into(),
            tick_interval_ms: 1_000,
            session_timeout_ms: 10_000,
            client: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    /// Whether Kafka is configured at all.
    pub fn enabled(&self) -> bool {
        !self.brokers.trim().is_empty()
    }

    /// How long the edge waits for a delivery report.
    pub fn delivery_timeout(&self) -> Duration {
        Duration::from_millis(self.delivery_timeout_ms)
    }

    /// Properties shared by every client: the brokers, then the user's overrides.
    pub(crate) fn client_config(&self, extra: &[(&str, String)]) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in extra {
            c.set(*k, v);
        }
        for (k, v) in &self.client {
            c.set(k, v);
        }
        c
    }
}

//! The edge's side: accepted batches produced to the topic, confirmed before the 202, plus the
//! ticks that carry log time to quiet partitions.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use metrics::counter;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use ufse_event_log::{AppendFuture, Appended, LogError, LogProducer, MAX_RECORD_BYTES};

use crate::config::KafkaConfig;
use crate::topic_partitions;

/// How long opening waits for the brokers to describe the topic.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Produces to the configured topic: idempotent, `acks=all`, compressed, keyed `project:sid` so
/// a session's batches share a partition and keep their order.
pub struct KafkaProducer {
    inner: Arc<Inner>,
    ticker: Option<JoinHandle<()>>,
}

struct Inner {
    producer: FutureProducer,
    topic: String,
    partitions: u32,
    stop: AtomicBool,
}

impl KafkaProducer {
    /// Connects and reads the topic's partition count, then starts the ticker.
    ///
    /// # Errors
    /// [`LogError::Config`] for properties librdkafka refuses or a topic that does not exist
    /// (brokers may not create topics: `ufse kafka init` does); [`LogError::Unavailable`] when
    /// no broker answered in time.
    pub fn open(config: &KafkaConfig) -> Result<Self, LogError> {
        let producer: FutureProducer = config
            .client_config(&[
                ("enable.idempotence", "true".into()),
                ("acks", "all".into()),
                ("compression.type", config.compression.clone()),
                ("message.timeout.ms", config.delivery_timeout_ms.to_string()),
                ("queue.buffering.max.messages", config.max_in_flight_records.to_string()),
                ("linger.ms", "5".into()),
                ("message.max.bytes", (MAX_RECORD_BYTES + 64 * 1024).to_string()),
            ])
            .create()
            .map_err(|e| LogError::Config(format!("kafka producer: {e}")))?;
        let partitions = topic_partitions(producer.client(), &config.topic, METADATA_TIMEOUT)?;
        tracing::info!(brokers = %config.brokers, topic = %config.topic, partitions, "producing to kafka");
        let inner = Arc::new(Inner {
            producer,
            topic: config.topic.clone(),
            partitions,
            stop: AtomicBool::new(false),
        });
        let every = Duration::from_millis(config.tick_interval_ms.max(10));
        let ticker = std::thread::Builder::new()
            .name("kafka-ticker".into())
            .spawn({
                let inner = Arc::clone(&inner);
                move || inner.tick_until_stopped(every)
            })
            .map_err(|e| LogError::Config(format!("cannot start the ticker thread: {e}")))?;
        Ok(KafkaProducer { inner, ticker: Some(ticker) })
    }

    /// Waits up to `timeout` for everything queued to be confirmed.
    pub fn flush(&self, timeout: Duration) {
        if let Err(e) = self.inner.producer.flush(timeout) {
            tracing::warn!(error = %e, "records were still unconfirmed when the producer closed");
        }
    }
}

impl Inner {
    /// Sends a tick (no key, no payload) to every partition each `every`, until stopped. A tick
    /// that cannot be queued is skipped: the next one carries the time as well.
    fn tick_until_stopped(&self, every: Duration) {
        while !self.stop.load(Ordering::Acquire) {
            let now = now_ms();
            for p in 0..self.partitions {
                let tick = FutureRecord::<[u8], [u8]>::to(&self.topic).partition(p as i32).timestamp(now);
                if self.producer.send_result(tick).is_err() {
                    counter!("ufse_kafka_ticks_skipped_total").increment(1);
                }
            }
            std::thread::park_timeout(every);
        }
    }
}

impl Drop for KafkaProducer {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        if let Some(t) = self.ticker.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        self.flush(Duration::from_secs(5));
    }
}

impl LogProducer for KafkaProducer {
    fn partitions(&self) -> u32 {
        self.inner.partitions
    }

    fn append(&self, key: &[u8], payload: Bytes) -> Result<AppendFuture, LogError> {
        if key.is_empty() {
            return Err(LogError::InvalidRecord("empty key (reserved for ticks)".into()));
        }
        if payload.len() > MAX_RECORD_BYTES {
            return Err(LogError::InvalidRecord(format!(
                "payload of {} bytes is over {MAX_RECORD_BYTES}",
                payload.len()
            )));
        }
        let record = FutureRecord::to(&self.inner.topic).key(key).payload(&payload[..]).timestamp(now_ms());
        let delivery = match self.inner.producer.send_result(record) {
            Ok(d) => d,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                return Err(LogError::Full)
            }
            Err((e, _)) => return Err(LogError::Unavailable(e.to_string())),
        };
        Ok(Box::pin(async move {
            match delivery.await {
                Ok(Ok(d)) => Ok(Appended {
                    partition: d.partition as u32,
                    offset: d.offset as u64,
                    append_ms: d.timestamp.to_millis().unwrap_or_default() as u64,
                }),
                Ok(Err((e, _))) => Err(LogError::Unavailable(e.to_string())),
                Err(_) => Err(LogError::Closed),
            }
        }))
    }

    fn queue_depth(&self) -> usize {
        self.inner.producer.in_flight_count().max(0) as usize
    }
}

/// Wall time in ms since the Unix epoch: a record's timestamp, which processors take as log time.
fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

//! The event log on Kafka (or anything speaking its protocol): this crate implements the
//! event-log crate's [`LogProducer`](ufse_event_log::LogProducer) and
//! [`LogConsumer`](ufse_event_log::LogConsumer) with librdkafka, and creates the topic.
//!
//! Messages are the event log's records, unchanged: the key is `project:sid`, the value one
//! accepted batch in the versioned log record format of `ufse_schema::LogBatch` (its first byte
//! is the format version), the timestamp the edge's clock when it produced it. A message with no
//! key and no value, sent to each partition every `tick_interval_ms`, is a tick: it tells
//! processors that log time moved on where no session is talking.
//!
//! - [`KafkaConfig`]: the `[kafka]` section.
//! - [`KafkaProducer`]: the edge's producer, confirmed before the 202.
//! - [`KafkaConsumer`]: one member of the processors' consumer group.
//! - [`init_topic`]: what `ufse kafka init` does.

mod config;
mod consumer;
mod producer;

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{Client, ClientContext, DefaultClientContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use ufse_event_log::LogError;

pub use config::KafkaConfig;
pub use consumer::KafkaConsumer;
pub use producer::KafkaProducer;

/// The partition count of `topic`, from the brokers' metadata.
fn topic_partitions<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<u32, LogError> {
    let metadata = client
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| LogError::Unavailable(format!("no kafka broker answered: {e}")))?;
    let missing = || {
        LogError::Config(format!("kafka topic {topic:?} does not exist: create it with `ufse kafka init`"))
    };
    let t = metadata.topics().iter().find(|t| t.name() == topic).ok_or_else(missing)?;
    match t.error() {
        Some(e) if RDKafkaErrorCode::from(e) == RDKafkaErrorCode::UnknownTopicOrPartition => Err(missing()),
        Some(e) => {
            Err(LogError::Unavailable(format!("kafka topic {topic:?}: {}", RDKafkaErrorCode::from(e))))
        }
        None if t.partitions().is_empty() => Err(missing()),
        None => Ok(t.partitions().len() as u32),
    }
}

/// What [`init_topic`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicInit {
    /// The topic was created with the configured partitions.
    Created {
        /// Its partition count.
        partitions: u32,
    },
    /// The topic already existed; nothing was changed.
    Existed {
        /// Its partition count, which may differ from the configured one.
        partitions: u32,
    },
}

/// Creates the configured topic with its partitions, replication factor and retention, unless
/// it exists. Idempotent.
///
/// # Errors
/// [`LogError::Config`] for a refused configuration, [`LogError::Unavailable`] when no broker
/// answered.
pub async fn init_topic(config: &KafkaConfig) -> Result<TopicInit, LogError> {
    let admin: AdminClient<DefaultClientContext> = config
        .client_config(&[])
        .create()
        .map_err(|e| LogError::Config(format!("kafka admin client: {e}")))?;
    let retention = config.retention_ms.to_string();
    let topic = NewTopic::new(
        &config.topic,
        config.partitions as i32,
        TopicReplication::Fixed(config.replication_factor as i32),
    )
    .set("retention.ms", &retention);
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics([&topic], &options)
        .await
        .map_err(|e| LogError::Unavailable(format!("kafka create topics: {e}")))?;
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(TopicInit::Created { partitions: config.partitions }),
        Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => {
            let partitions = topic_partitions(admin.inner(), &config.topic, Duration::from_secs(10))?;
            Ok(TopicInit::Existed { partitions })
        }
        Some(Err((name, code))) => {
            Err(LogError::Config(format!("cannot create kafka topic {name:?}: {code}")))
        }
        None => Err(LogError::Unavailable("the broker did not answer for the topic".into())),
    }
}

/// Reads each partition's oldest retained offset, so what indexes the topic can forget what
/// the brokers' retention deleted.
pub struct KafkaWatermarks {
    consumer: BaseConsumer,
    topic: String,
    partitions: u32,
}

impl KafkaWatermarks {
    /// A client for the configured topic (it joins no group).
    ///
    /// # Errors
    /// As [`KafkaConsumer::open`].
    pub fn open(config: &KafkaConfig) -> Result<Self, LogError> {
        let consumer: BaseConsumer =
            config.client_config(&[]).create().map_err(|e| LogError::Config(format!("kafka client: {e}")))?;
        let partitions = topic_partitions(consumer.client(), &config.topic, Duration::from_secs(10))?;
        Ok(KafkaWatermarks { consumer, topic: config.topic.clone(), partitions })
    }

    /// The oldest retained offset of each partition, by partition number.
    ///
    /// # Errors
    /// [`LogError::Unavailable`] when the brokers did not answer.
    pub fn start_offsets(&self) -> Result<Vec<u64>, LogError> {
        (0..self.partitions)
            .map(|p| {
                let (low, _) = self
                    .consumer
                    .fetch_watermarks(&self.topic, p as i32, Duration::from_secs(10))
                    .map_err(|e| LogError::Unavailable(format!("kafka watermarks: {e}")))?;
                Ok(low.max(0) as u64)
            })
            .collect()
    }
}

//! The processor's side: one member of the consumer group, with hand-overs that let the owner
//! act between "these partitions are yours" and the first record of them, and between "these
//! partitions are leaving" and another member reading them.
//!
//! librdkafka announces a rebalance through a callback inside `poll`, where the owner (the
//! processor, which is waiting in that very `poll`) cannot act. So the callback only queues the
//! change and does not assign: the group waits for the assignment call. The next
//! [`LogConsumer::poll`] reports the change; the owner restores state and seeks (on assignment)
//! or snapshots and commits (on revocation); the poll after that makes the assignment call with
//! the offsets the owner chose, which completes the hand-over.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use metrics::counter;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
use ufse_event_log::{LogConsumer, LogError, Polled, Record};

use crate::config::KafkaConfig;
use crate::topic_partitions;

/// How long a broker call made from `poll` (committed offsets, commits, seeks) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A change of assignment librdkafka announced and the owner has not yet been told of.
enum Change {
    Assign(TopicPartitionList),
    Revoke(TopicPartitionList),
}

/// Receives librdkafka's rebalance callbacks.
#[derive(Default)]
struct Context {
    changes: Mutex<VecDeque<Change>>,
    /// Set while the consumer closes: nobody will poll again, so hand-overs complete at once.
    closing: AtomicBool,
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let closing = self.closing.load(Ordering::Acquire);
        let change = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS if !closing => Change::Assign(tpl.clone()),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS if !closing => Change::Revoke(tpl.clone()),
            other => {
                if !closing {
                    tracing::error!(error = ?other, "kafka rebalance failed; dropping the assignment");
                }
                if let Err(e) = consumer.unassign() {
                    tracing::warn!(error = %e, "kafka unassign failed");
                }
                return;
            }
        };
        self.changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push_back(change);
    }
}

/// What the next poll must do to complete the hand-over it reported.
enum Handover {
    /// Assign these partitions, at the offsets the owner sought (else the committed ones).
    Assign(Vec<u32>),
    /// Give these partitions up.
    Revoke,
}

/// One member of the configured consumer group, reading the configured topic.
pub struct KafkaConsumer {
    consumer: BaseConsumer<Context>,
    topic: String,
    partitions: u32,
    handover: Option<Handover>,
    /// Offsets the owner chose for the partitions being assigned.
    starts: BTreeMap<u32, u64>,
    /// The group's committed offsets of the partitions being assigned.
    committed: BTreeMap<u32, u64>,
}

impl KafkaConsumer {
    /// Joins the group (on the first poll) and subscribes to the topic.
    ///
    /// # Errors
    /// [`LogError::Config`] for properties librdkafka refuses or a missing topic;
    /// [`LogError::Unavailable`] when no broker answered in time.
    pub fn open(config: &KafkaConfig) -> Result<Self, LogError> {
        let consumer: BaseConsumer<Context> = config
            .client_config(&[
                ("group.id", config.group.clone()),
                ("enable.auto.commit", "false".into()),
                ("auto.offset.reset", "earliest".into()),
                ("session.timeout.ms", config.session_timeout_ms.to_string()),
                ("heartbeat.interval.ms", (config.session_timeout_ms / 3).max(100).to_string()),
                // Eager rebalancing: every hand-over is a full revoke, then a full assign.
                ("partition.assignment.strategy", "range".into()),
            ])
            .create_with_context(Context::default())
            .map_err(|e| LogError::Config(format!("kafka consumer: {e}")))?;
        let partitions = topic_partitions(consumer.client(), &config.topic, CALL_TIMEOUT)?;
        consumer
            .subscribe(&[&config.topic])
            .map_err(|e| LogError::Config(format!("cannot subscribe to {}: {e}", config.topic)))?;
        tracing::info!(brokers = %config.brokers, topic = %config.topic, group = %config.group, "consuming from kafka");
        Ok(KafkaConsumer {
            consumer,
            topic: config.topic.clone(),
            partitions,
            handover: None,
            starts: BTreeMap::new(),
            committed: BTreeMap::new(),
        })
    }

    fn tpl(&self, offsets: impl IntoIterator<Item = (u32, Offset)>) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for (p, offset) in offsets {
            // Only fails for an offset librdkafka cannot represent, which these are not.
            let _ = tpl.add_partition_offset(&self.topic, p as i32, offset);
        }
        tpl
    }

    fn partitions_of(&self, tpl: &TopicPartitionList) -> Vec<u32> {
        tpl.elements_for_topic(&self.topic).iter().map(|e| e.partition() as u32).collect()
    }

    /// Makes the assignment call for the hand-over the last poll reported.
    fn complete_handover(&mut self) -> Result<(), LogError> {
        match self.handover.take() {
            None => Ok(()),
            Some(Handover::Revoke) => {
                self.consumer.unassign().map_err(|e| LogError::Unavailable(format!("kafka unassign: {e}")))
            }
            Some(Handover::Assign(partitions)) => {
                let starts = std::mem::take(&mut self.starts);
                let tpl = self.tpl(
                    partitions
                        .into_iter()
                        .map(|p| (p, starts.get(&p).map_or(Offset::Stored, |&o| Offset::Offset(o as i64)))),
                );
                self.consumer.assign(&tpl).map_err(|e| LogError::Unavailable(format!("kafka assign: {e}")))
            }
        }
    }

    /// Reports the oldest change librdkafka announced, if any, and remembers what completes it.
    fn next_change(&mut self) -> Result<Option<Polled>, LogError> {
        let change = self
            .consumer
            .context()
            .changes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front();
        Ok(match change {
            None => None,
            Some(Change::Revoke(tpl)) => {
                self.handover = Some(Handover::Revoke);
                Some(Polled::Revoked(self.partitions_of(&tpl)))
            }
            Some(Change::Assign(tpl)) => {
                let partitions = self.partitions_of(&tpl);
                let committed = self
                    .consumer
                    .committed_offsets(tpl, CALL_TIMEOUT)
                    .map_err(|e| LogError::Unavailable(format!("kafka committed offsets: {e}")))?;
                self.committed = committed
                    .elements_for_topic(&self.topic)
                    .iter()
                    .filter_map(|e| match e.offset() {
                        Offset::Offset(o) if o >= 0 => Some((e.partition() as u32, o as u64)),
                        _ => None,
                    })
                    .collect();
                self.starts.clear();
                self.handover = Some(Handover::Assign(partitions.clone()));
                Some(Polled::Assigned(partitions))
            }
        })
    }

    fn has_changes(&self) -> bool {
        !self.consumer.context().changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty()
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        // Leaves the group as the consumer drops, so the others take the partitions at once.
        self.consumer.context().closing.store(true, Ordering::Release);
        if let Err(e) = self.complete_handover() {
            tracing::warn!(error = %e, "kafka hand-over at close failed");
        }
    }
}

impl LogConsumer for KafkaConsumer {
    fn poll(&mut self, max_records: usize, timeout: Duration) -> Result<Polled, LogError> {
        self.complete_handover()?;
        if let Some(change) = self.next_change()? {
            return Ok(change);
        }
        let deadline = Instant::now() + timeout;
        let mut records = Vec::new();
        while records.len() < max_records {
            let wait = if records.is_empty() {
                deadline.saturating_duration_since(Instant::now())
            } else {
                Duration::ZERO
            };
            match self.consumer.poll(wait) {
                // Nothing more within the wait: return what there is.
                None => break,
                Some(Ok(m)) => records.push(Record {
                    partition: m.partition() as u32,
                    offset: m.offset() as u64,
                    append_ms: m.timestamp().to_millis().unwrap_or_default().max(0) as u64,
                    key: m.key().map(Bytes::copy_from_slice).unwrap_or_default(),
                    payload: m.payload().map(Bytes::copy_from_slice).unwrap_or_default(),
                }),
                Some(Err(e)) => {
                    // The client reconnects by itself; report what was read and try again later.
                    counter!("ufse_kafka_consume_errors_total").increment(1);
                    tracing::warn!(error = %e, "kafka consume error");
                    break;
                }
            }
            // Records polled before a change was announced belong to the old assignment: they go
            // out first, the change with the next poll.
            if self.has_changes() {
                break;
            }
        }
        if !records.is_empty() {
            tracing::trace!(records = records.len(), first = ?records.first().map(|r| (r.partition, r.offset)), "polled");
            return Ok(Polled::Records(records));
        }
        Ok(self.next_change()?.unwrap_or(Polled::Idle))
    }

    /// Commits synchronously. A refused commit (the group has moved on) is counted and logged,
    /// not returned: in Kafka mode the processor's stored snapshot, not the committed offset,
    /// says where a partition's state resumes.
    fn commit(&mut self, partition: u32, next_offset: u64) -> Result<(), LogError> {
        let tpl = self.tpl([(partition, Offset::Offset(next_offset as i64))]);
        if let Err(e) = self.consumer.commit(&tpl, CommitMode::Sync) {
            counter!("ufse_kafka_commit_failures_total").increment(1);
            tracing::warn!(partition, offset = next_offset, error = %e, "kafka commit refused");
        }
        Ok(())
    }

    fn seek(&mut self, partition: u32, offset: u64) -> Result<(), LogError> {
        if partition >= self.partitions {
            return Err(LogError::UnknownPartition { partition, partitions: self.partitions });
        }
        if matches!(&self.handover, Some(Handover::Assign(ps)) if ps.contains(&partition)) {
            self.starts.insert(partition, offset);
            return Ok(());
        }
        self.consumer
            .seek(&self.topic, partition as i32, Offset::Offset(offset as i64), CALL_TIMEOUT)
            .map_err(|e| LogError::Unavailable(format!("kafka seek: {e}")))
    }

    fn committed(&self, partition: u32) -> Result<Option<u64>, LogError> {
        if partition >= self.partitions {
            return Err(LogError::UnknownPartition { partition, partitions: self.partitions });
        }
        Ok(self.committed.get(&partition).copied())
    }
}

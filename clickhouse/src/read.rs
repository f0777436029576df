//! Reading a session back: the batches the processor read, as far as they
//! were stored (new unique events only), for `ufse replay` and
//! `ufse sessions show`.

use clickhouse::Row;
use serde::Deserialize;
use ufse_schema::{Event, LogBatch};

use crate::{ClickHouse, ClickHouseError};

#[derive(Row, Deserialize)]
struct StoredEvent {
    seq: u64,
    received_ms: u64,
    skew_ms: i64,
    uid: Option<String>,
    ctx: Option<String>,
    event: String,
    log_partition: u32,
    log_offset: u64,
    log_index: u32,
}

impl ClickHouse {
    /// The stored events of `sid` in `project`, as the batches they came in,
    /// in log order. Each `seq` appears once, its first copy: the rule the
    /// sessionizer stores by, and how `keep` merges.
    ///
    /// # Errors
    ///
    /// When ClickHouse cannot be read, or a stored row does not decode.
    pub async fn session_batches(&self, project: &str, sid: &str) -> Result<Vec<LogBatch>, ClickHouseError> {
        let mut rows = self
            .client
            .query("SELECT ?fields FROM events WHERE project = ? AND sid = ? ORDER BY seq, keep DESC")
            .bind(project)
            .bind(sid)
            .fetch_all::<StoredEvent>()
            .await
            .map_err(self.error("reading a session"))?;
        // Copies not merged yet: the first of each seq is the one kept.
        rows.dedup_by_key(|r| r.seq);
        rows.sort_by_key(|r| (r.received_ms, r.log_partition, r.log_offset, r.log_index));

        let mut batches: Vec<LogBatch> = Vec::new();
        let mut at = None;
        for r in rows {
            let event: Event =
                serde_json::from_str(&r.event).map_err(|e| self.corrupt(project, sid, r.seq, e))?;
            if at != Some((r.log_partition, r.log_offset)) {
                at = Some((r.log_partition, r.log_offset));
                let ctx = r
                    .ctx
                    .as_deref()
                    .map(serde_json::from_str)
                    .transpose()
                    .map_err(|e| self.corrupt(project, sid, r.seq, e))?;
                batches.push(LogBatch {
                    project: project.to_owned(),
                    sid: sid.to_owned(),
                    uid: r.uid,
                    received_ms: r.received_ms as i64,
                    skew_ms: r.skew_ms,
                    sdk_dropped: 0,
                    ctx,
                    events: Vec::new(),
                });
            }
            batches.last_mut().expect("a batch was started").events.push(event);
        }
        Ok(batches)
    }

    fn corrupt(&self, project: &str, sid: &str, seq: u64, e: serde_json::Error) -> ClickHouseError {
        ClickHouseError {
            url: self.config.url.clone(),
            doing: "reading a session",
            source: clickhouse::error::Error::Custom(format!(
                "event {seq} of session {sid} in project {project} does not decode: {e}"
            )),
        }
    }
}

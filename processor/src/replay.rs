//! A session's stored events, read back from the log records the raw-event
//! index points at.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde_json::Value;
use ufse_event_log::read_records;
use ufse_schema::{Event, LogBatch};

use crate::ProcessorError;

/// The batches of `sid` in `project` held by the log records at `refs`
/// (`(partition, offset)`, as the raw-event index lists them), in log
/// order: what the processor read, to evaluate again (`ufse replay`).
///
/// # Errors
///
/// When the log cannot be read or a record does not decode.
pub fn session_batches(
    log_dir: &Path,
    project: &str,
    sid: &str,
    refs: &[(u32, u64)],
) -> Result<Vec<LogBatch>, ProcessorError> {
    let mut by_partition: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for &(p, o) in refs {
        by_partition.entry(p).or_default().push(o);
    }
    // A session lives in one partition, so log order within it is arrival order.
    let mut batches = Vec::new();
    for (p, offsets) in by_partition {
        for rec in read_records(log_dir, p, &offsets)? {
            let batch = LogBatch::decode(&rec.payload).map_err(|e| ProcessorError::Record {
                path: log_dir.join(format!("p-{p}")),
                detail: format!("record {}: {e}", rec.offset),
            })?;
            if batch.project == project && batch.sid == sid {
                batches.push(batch);
            }
        }
    }
    Ok(batches)
}

/// The events of batches read back (from the log or an archive), ordered
/// by `(ts, seq)`. Each `seq` appears once: the first copy in log order, the
/// same rule the sessionizer applies when it stores them.
pub fn session_events(batches: &[LogBatch]) -> Vec<Event> {
    let mut seen = HashSet::new();
    let mut events: Vec<Event> =
        batches.iter().flat_map(|b| &b.events).filter(|ev| seen.insert(ev.seq)).cloned().collect();
    events.sort_by_key(|e| (e.ts, e.seq));
    events
}

/// [`session_events`] in their validated wire form.
pub fn batch_events(batches: &[LogBatch]) -> Vec<Value> {
    session_events(batches).iter().map(|ev| serde_json::to_value(ev).expect("events serialize")).collect()
}

//! A processor's writer: rows go into an open INSERT per table, which ends
//! when it holds `insert_max_rows`, after `insert_interval_ms`, or at
//! [`Archive::flush`], which the processor calls before every snapshot.

use std::time::Duration;

use clickhouse::inserter::Inserter;
use clickhouse::Row;
use metrics::counter;
use serde::Serialize;
use ufse_incident_store::{incident_id, issue_fingerprint, path_template};
use ufse_schema::{corrected_ts, Body, Event, LogBatch};
use ufse_sessionizer::SessionSignal;

use crate::{ClickHouse, ClickHouseError};

/// How long sending one chunk, or ClickHouse's answer to a finished INSERT, may take.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Row, Serialize)]
pub(crate) struct EventRow<'a> {
    pub project: &'a str,
    pub sid: &'a str,
    pub seq: u64,
    pub ts: i64,
    pub time: u32,
    pub time_ms: u64,
    pub received_ms: u64,
    pub skew_ms: i64,
    pub kind: &'a str,
    pub url: &'a str,
    pub page: String,
    pub sel: &'a str,
    pub uid: Option<&'a str>,
    pub ctx: Option<&'a str>,
    pub event: String,
    pub log_partition: u32,
    pub log_offset: u64,
    pub log_index: u32,
    pub keep: u64,
}

#[derive(Row, Serialize)]
struct SignalRow<'a> {
    project: &'a str,
    page: String,
    kind: &'a str,
    id: String,
    profile: &'a str,
    fingerprint: String,
    sid: &'a str,
    uid: Option<&'a str>,
    ts: i64,
    end_ts: i64,
    time: u32,
    time_ms: u64,
    count: u32,
    evidence: &'a [u64],
    sel: &'a str,
    url: &'a str,
}

/// The `keep` version of an event received at `received_ms`: merges keep
/// the highest, so the first copy received wins.
pub(crate) fn keep(received_ms: i64) -> u64 {
    u64::MAX - received_ms.max(0) as u64
}

/// Milliseconds as `(DateTime seconds, UInt64 ms)`, clamped to what the columns hold.
fn times(ms: i64) -> (u32, u64) {
    let ms = ms.max(0) as u64;
    ((ms / 1000).min(u64::from(u32::MAX)) as u32, ms)
}

/// Rows on their way to ClickHouse, for one processor.
pub struct Archive {
    ch: ClickHouse,
    profile: String,
    events: Inserter<EventRow<'static>>,
    signals: Inserter<SignalRow<'static>>,
}

impl Archive {
    pub(crate) fn new(ch: &ClickHouse, profile: &str) -> Archive {
        let interval = Some(ch.config.insert_interval());
        let max_rows = ch.config.insert_max_rows;
        Archive {
            ch: ch.clone(),
            profile: profile.to_owned(),
            events: ch
                .client
                .inserter("events")
                .with_max_rows(max_rows)
                .with_period(interval)
                .with_timeouts(Some(TIMEOUT), Some(TIMEOUT)),
            signals: ch
                .client
                .inserter("signals")
                .with_max_rows(max_rows)
                .with_period(interval)
                .with_timeouts(Some(TIMEOUT), Some(TIMEOUT)),
        }
    }

    /// Drops every row not stored yet, and makes the archive usable again after an error.
    pub fn reset(&mut self) {
        *self = Archive::new(&self.ch, &self.profile);
    }

    fn error(&self, doing: &'static str) -> impl Fn(clickhouse::error::Error) -> ClickHouseError + '_ {
        self.ch.error(doing)
    }

    /// Adds the events of `batch`, read from the log record at `offset` of
    /// `partition`; `positions[i]` is where `batch.events[i]` was in that
    /// record (the sessionizer's new unique events are a subset).
    ///
    /// # Errors
    ///
    /// When ClickHouse cannot take the rows; [`Archive::reset`] before using it again.
    pub async fn add_events(
        &mut self,
        batch: &LogBatch,
        positions: &[u32],
        partition: u32,
        offset: u64,
    ) -> Result<(), ClickHouseError> {
        debug_assert_eq!(batch.events.len(), positions.len());
        let ctx = batch.ctx.as_ref().map(|c| serde_json::Value::Object(c.clone()).to_string());
        for (ev, &index) in batch.events.iter().zip(positions) {
            let (time, time_ms) = times(corrected_ts(ev.ts, batch.skew_ms, batch.received_ms));
            let url = ev.url.as_deref().unwrap_or("");
            let row = EventRow {
                project: &batch.project,
                sid: &batch.sid,
                seq: ev.seq,
                ts: ev.ts,
                time,
                time_ms,
                received_ms: batch.received_ms.max(0) as u64,
                skew_ms: batch.skew_ms,
                kind: ev.kind(),
                url,
                page: if url.is_empty() { String::new() } else { path_template(url) },
                sel: selector(ev),
                uid: batch.uid.as_deref(),
                ctx: ctx.as_deref(),
                event: serde_json::to_string(ev).expect("events serialize"),
                log_partition: partition,
                log_offset: offset,
                log_index: index,
                keep: keep(batch.received_ms),
            };
            self.events.write(&row).await.map_err(self.error("writing events"))?;
        }
        Ok(())
    }

    /// Adds signals, under the incident ids the store gives them.
    ///
    /// # Errors
    ///
    /// When ClickHouse cannot take the rows; [`Archive::reset`] before using it again.
    pub async fn add_signals(&mut self, signals: &[SessionSignal]) -> Result<(), ClickHouseError> {
        for s in signals {
            let sig = &s.signal;
            let (time, time_ms) = times(s.seen_ms);
            let url = sig.url.as_deref().unwrap_or("");
            let row = SignalRow {
                project: &s.project,
                page: if url.is_empty() { String::new() } else { path_template(url) },
                kind: sig.kind.as_str(),
                id: incident_id(&self.profile, &s.project, sig),
                profile: &self.profile,
                fingerprint: issue_fingerprint(&s.project, sig.kind, sig.url.as_deref(), sig.sel.as_deref()),
                sid: &sig.sid,
                uid: s.uid.as_deref(),
                ts: sig.ts,
                end_ts: sig.end_ts,
                time,
                time_ms,
                count: sig.count,
                evidence: &sig.evidence,
                sel: sig.sel.as_deref().unwrap_or(""),
                url,
            };
            self.signals.write(&row).await.map_err(self.error("writing signals"))?;
        }
        Ok(())
    }

    /// Ends the open INSERTs that reached a limit (rows or time).
    ///
    /// # Errors
    ///
    /// When ClickHouse refuses an INSERT; [`Archive::reset`] before using it again.
    pub async fn commit(&mut self) -> Result<(), ClickHouseError> {
        let events = self.events.commit().await.map_err(self.error("inserting events"))?;
        let signals = self.signals.commit().await.map_err(self.error("inserting signals"))?;
        count(events.rows, signals.rows);
        Ok(())
    }

    /// Ends the open INSERTs: once this returns, every row added is stored.
    ///
    /// # Errors
    ///
    /// When ClickHouse refuses an INSERT; [`Archive::reset`] before using it again.
    pub async fn flush(&mut self) -> Result<(), ClickHouseError> {
        let events = self.events.force_commit().await.map_err(self.error("inserting events"))?;
        let signals = self.signals.force_commit().await.map_err(self.error("inserting signals"))?;
        count(events.rows, signals.rows);
        Ok(())
    }
}

fn count(events: u64, signals: u64) {
    counter!("ufse_clickhouse_rows_total", "table" => "events").increment(events);
    counter!("ufse_clickhouse_rows_total", "table" => "signals").increment(signals);
}

/// The element an event is about, if it names one.
fn selector(ev: &Event) -> &str {
    match &ev.body {
        Body::Click { sel, .. } | Body::Input { sel } | Body::Submit { sel } => sel,
        _ => "",
    }
}

//! Where a session's events are read back: ClickHouse when it is
//! configured, else the embedded log through the raw-event index; nowhere
//! with Kafka and without ClickHouse. `sessions show`, `replay` and the
//! cold path's evidence read them here.

use std::path::PathBuf;

use anyhow::Result;
use ufse_clickhouse::ClickHouse;
use ufse_incident_store::RawEventStore;
use ufse_schema::{Event, LogBatch};
use ufse_ticket_generator::{BoxFuture, Timelines};

use crate::config::Config;

/// Sessions' events, as this deployment keeps them.
#[derive(Clone)]
pub struct EventSource<E> {
    events: E,
    log_dir: PathBuf,
    clickhouse: Option<ClickHouse>,
    kafka: bool,
}

impl<E: RawEventStore + Clone> EventSource<E> {
    /// The source `cfg` describes, with `events` the raw-event index.
    pub fn new(cfg: &Config, events: E) -> Self {
        EventSource {
            events,
            log_dir: cfg.data.dir.join("log"),
            clickhouse: cfg.clickhouse.enabled().then(|| ClickHouse::connect(&cfg.clickhouse)),
            kafka: cfg.kafka.enabled(),
        }
    }

    /// A session's stored batches, in log order; `None` where nothing keeps them.
    pub async fn batches(&self, project: &str, sid: &str) -> Result<Option<Vec<LogBatch>>> {
        if let Some(ch) = &self.clickhouse {
            return Ok(Some(ch.session_batches(project, sid).await?));
        }
        if self.kafka {
            return Ok(None);
        }
        let refs = self.events.session_refs(project, sid).await?;
        let (dir, project, sid) = (self.log_dir.clone(), project.to_owned(), sid.to_owned());
        // Reading log files blocks: off the runtime's threads.
        let batches =
            tokio::task::spawn_blocking(move || ufse_processor::session_batches(&dir, &project, &sid, &refs))
                .await??;
        Ok(Some(batches))
    }
}

impl<E: RawEventStore + Clone> Timelines for EventSource<E> {
    fn events<'a>(
        &'a self,
        project: &'a str,
        sid: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<Event>>, String>> {
        Box::pin(async move {
            let batches = self.batches(project, sid).await.map_err(|e| format!("{e:#}"))?;
            Ok(batches.map(|b| ufse_processor::session_events(&b)))
        })
    }
}

//! The cold path inside the serving roles: built from `[cold_path]`,
//! `[linear]`, `[jira]` and `[ai]`, run beside the edge and the processor
//! in `ufse serve` or alone in `ufse work`, with its webhooks on the edge's
//! listener (or `ufse work`'s own).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use bytes::Bytes;
use http::HeaderMap;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use ufse_incident_store::{ColdPathStore, RawEventStore};
use ufse_ingest::{WebhookReceiver, WebhookReply};
use ufse_ticket_generator::{ColdPath, Webhooks};

use crate::config::Config;
use crate::sessions::EventSource;

/// The cold path's workers, running.
pub struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Running {
    /// Lets the jobs in hand finish (up to `deadline`), then stops.
    pub async fn stop(self, deadline: Duration) {
        let _ = self.stop.send(());
        if tokio::time::timeout(deadline, self.task).await.is_err() {
            tracing::warn!("the cold path's jobs did not finish in time; their leases will expire");
        }
    }
}

/// Starts the cold path's workers on `store`, reading sessions from `events`.
///
/// # Errors
///
/// When its configuration is incomplete (a tracker without its team, a
/// provider without a key) or its policy file invalid.
pub fn start<S, E>(cfg: &Config, store: S, events: E) -> Result<Running>
where
    S: ColdPathStore + Clone,
    E: RawEventStore + Clone,
{
    let timelines = Arc::new(EventSource::new(cfg, events));
    let cold = ColdPath::from_config(store, &cfg.cold_path, &cfg.linear, &cfg.jira, &cfg.ai, timelines)
        .map_err(|e| anyhow!(e))?;
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(Arc::new(cold).run(async move {
        let _ = stopped.await;
    }));
    Ok(Running { stop, task })
}

/// The trackers' webhooks, as the edge serves them.
pub struct Hooks<S>(Webhooks<S>);

impl<S: ColdPathStore> Hooks<S> {
    /// The webhooks the configuration's trackers sign.
    pub fn receiver(cfg: &Config, store: S) -> Arc<dyn WebhookReceiver> {
        Arc::new(Hooks(Webhooks::new(store, &cfg.linear, &cfg.jira)))
    }
}

impl<S: ColdPathStore> WebhookReceiver for Hooks<S> {
    fn receive<'a>(
        &'a self,
        provider: &'a str,
        headers: &'a HeaderMap,
        body: Bytes,
    ) -> Pin<Box<dyn std::future::Future<Output = WebhookReply> + Send + 'a>> {
        Box::pin(async move {
            let a = self.0.receive(provider, headers, &body).await;
            WebhookReply { status: a.status, reason: a.reason, detail: a.detail }
        })
    }
}

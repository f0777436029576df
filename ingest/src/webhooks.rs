//! Trackers' webhooks, served beside the API (`POST /v1/webhooks/{provider}`)
//! by whatever the binary wires in: the edge reads the body within a limit
//! and hands it over with the headers, untouched, since signatures cover
//! the raw bytes.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::HeaderMap;

/// The largest webhook body read.
pub const MAX_WEBHOOK_BYTES: usize = 1 << 20;

/// Where webhooks are posted: this, then the provider.
pub(crate) const WEBHOOK_PREFIX: &str = "/v1/webhooks/";

/// What a webhook's receiver answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookReply {
    /// HTTP status.
    pub status: u16,
    /// One stable snake_case reason.
    pub reason: &'static str,
    /// What happened, in words.
    pub detail: String,
}

/// Receives the trackers' webhooks.
pub trait WebhookReceiver: Send + Sync + 'static {
    /// Handles one webhook of `provider` (the path's last part).
    fn receive<'a>(
        &'a self,
        provider: &'a str,
        headers: &'a HeaderMap,
        body: Bytes,
    ) -> Pin<Box<dyn Future<Output = WebhookReply> + Send + 'a>>;
}

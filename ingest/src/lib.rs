//! The ingest edge: SDK batches in over HTTP, durable in the event log out.
//!
//! This crate owns `POST /v1/batch` exactly as DESIGN.md section 2 fixes it
//! (gzip by header or magic bytes, write keys, CORS, byte and event limits,
//! per-event validation with partial acceptance, clock-skew stamping, rate
//! limits per key and per client address, a bounded hand-off to the log and
//! a 202 only once the batch is durable), plus `GET /healthz`, `/readyz`
//! and `/metrics`, and graceful shutdown.
//!
//! - [`IngestConfig`]: the `[ingest]` section.
//! - [`Edge`], [`serve`]: the service and its accept loop.
//! - `body`: limited reads and bomb-proof gunzip.
//! - `keys`: cached write-key checks.
//! - `ratelimit`: keyed token buckets.
//! - [`Demo`], [`serve_demo`]: the demo shop `ufse serve --demo` serves beside the API.
//! - [`serve_metrics`]: `/metrics` alone, for `ufse process`; [`serve_side`]:
//!   with the trackers' webhooks too, for `ufse work`.
//! - [`WebhookReceiver`]: what serves `POST /v1/webhooks/{provider}` (the cold path's).

mod body;
mod config;
mod demo;
mod keys;
mod ratelimit;
mod server;
mod side;
mod webhooks;

pub use config::IngestConfig;
pub use demo::{serve_demo, Demo};
pub use server::{serve, Edge};
pub use side::{serve_metrics, serve_side};
pub use webhooks::{WebhookReceiver, WebhookReply, MAX_WEBHOOK_BYTES};

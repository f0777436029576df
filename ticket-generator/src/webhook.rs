//! Trackers' webhooks, verified and turned into lifecycle moves.
//!
//! - Linear (`POST /v1/webhooks/linear`): `Linear-Signature` is the hex
//!   HMAC-SHA256 of the raw body with the webhook's signing secret, and the
//!   body's `webhookTimestamp` (ms) must be within a minute of now, as
//!   Linear's SDK checks; an `Issue` event's `data.state.type` is its state.
//! - Jira (`POST /v1/webhooks/jira`): an admin webhook with a secret sends
//!   `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>`; the body's
//!   `timestamp` (ms) may be as old as `[jira] webhook_max_age_ms`, since Jira
//!   retries late deliveries; `issue.fields.status.statusCategory` (and the
//!   resolution) is its state.
//!
//! Signatures are compared in constant time. A request that fails a check
//! changes nothing. A valid event about a ticket UFSE does not know is
//! acknowledged and ignored.

use hmac::{Hmac, Mac};
use http::HeaderMap;
use metrics::counter;
use serde_json::Value;
use sha2::Sha256;
use ufse_incident_store::{Actor, ColdPathStore, RemoteState};

use crate::config::{JiraConfig, LinearConfig, Secret};
use crate::jobs::apply_remote_state;
use crate::{system_ms, BoxFuture};

/// How far a Linear webhook's timestamp may be from now, either way.
const LINEAR_MAX_SKEW_MS: i64 = 60_000;

/// A webhook's answer: its status, a stable reason, and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAnswer {
    /// HTTP status.
    pub status: u16,
    /// `ok`, `ignored`, `not_configured`, `bad_signature`, `stale_webhook`,
    /// `invalid_json`, `store_unavailable`.
    pub reason: &'static str,
    /// What happened, in words.
    pub detail: String,
}

impl WebhookAnswer {
    fn new(status: u16, reason: &'static str, detail: impl Into<String>) -> Self {
        WebhookAnswer { status, reason, detail: detail.into() }
    }
}

/// The webhook endpoints of the trackers, over the store.
pub struct Webhooks<S> {
    store: S,
    linear_secret: Option<Secret>,
    jira_secret: Option<Secret>,
    jira_max_age_ms: i64,
    clock: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl<S: ColdPathStore> Webhooks<S> {
    /// The endpoints the trackers' sections configure (a tracker without a
    /// webhook secret refuses every webhook).
    pub fn new(store: S, linear: &LinearConfig, jira: &JiraConfig) -> Self {
        Webhooks {
            store,
            linear_secret: linear.webhook_secret.clone(),
            jira_secret: jira.webhook_secret.clone(),
            jira_max_age_ms: jira.webhook_max_age_ms as i64,
            clock: Box::new(system_ms),
        }
    }

    /// With another clock (tests).
    pub fn with_clock(self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Webhooks { clock: Box::new(clock), ..self }
    }

    /// Receives one webhook of `provider` (`linear` or `jira`).
    pub fn receive<'a>(
        &'a self,
        provider: &'a str,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> BoxFuture<'a, WebhookAnswer> {
        Box::pin(async move {
            let answer = match provider {
                "linear" => self.linear(headers, body).await,
                "jira" => self.jira(headers, body).await,
                other => {
                    WebhookAnswer::new(404, "not_found", format!("no webhook for `{other}`: linear or jira"))
                }
            };
            let provider = match provider {
                "linear" => "linear",
                "jira" => "jira",
                _ => "other",
            };
            counter!("ufse_webhooks_total", "provider" => provider, "reason" => answer.reason).increment(1);
            if answer.status >= 400 {
                tracing::warn!(provider, status = answer.status, reason = answer.reason, detail = %answer.detail, "webhook refused");
            }
            answer
        })
    }

    async fn linear(&self, headers: &HeaderMap, body: &[u8]) -> WebhookAnswer {
        let Some(secret) = &self.linear_secret else {
            return WebhookAnswer::new(
                404,
                "not_configured",
                "set [linear] webhook_secret to receive Linear's webhooks",
            );
        };
        let given = headers.get("linear-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
        if !signed(secret, body, given.trim()) {
            return WebhookAnswer::new(401, "bad_signature", "Linear-Signature does not match the body");
        }
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return WebhookAnswer::new(400, "invalid_json", "the body is not JSON");
        };
        let now = (self.clock)();
        match v["webhookTimestamp"].as_f64() {
            Some(ts) if (now - ts as i64).abs() <= LINEAR_MAX_SKEW_MS => {}
            Some(ts) => {
                return WebhookAnswer::new(
                    401,
                    "stale_webhook",
                    format!("webhookTimestamp is {} ms from now", now - ts as i64),
                )
            }
            None => return WebhookAnswer::new(401, "stale_webhook", "no webhookTimestamp"),
        }
        if v["type"] != "Issue" {
            return WebhookAnswer::new(
                200,
                "ignored",
                format!("a {} event", v["type"].as_str().unwrap_or("typeless")),
            );
        }
        let (Some(id), Some(state)) = (v["data"]["id"].as_str(), v["data"]["state"]["type"].as_str()) else {
            return WebhookAnswer::new(200, "ignored", "no issue id or state");
        };
        let state = crate::tracker::linear_state(state);
        let key = v["data"]["identifier"].as_str().unwrap_or(id).to_owned();
        self.apply("linear", id, &key, state, now).await
    }

    async fn jira(&self, headers: &HeaderMap, body: &[u8]) -> WebhookAnswer {
        let Some(secret) = &self.jira_secret else {
            return WebhookAnswer::new(
                404,
                "not_configured",
                "set [jira] webhook_secret to receive Jira's webhooks",
            );
        };
        let given = headers.get("x-hub-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
        let Some(hex) = given.trim().strip_prefix("sha256=") else {
            return WebhookAnswer::new(401, "bad_signature", "X-Hub-Signature is not sha256=<hex>");
        };
        if !signed(secret, body, hex) {
            return WebhookAnswer::new(401, "bad_signature", "X-Hub-Signature does not match the body");
        }
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return WebhookAnswer::new(400, "invalid_json", "the body is not JSON");
        };
        let now = (self.clock)();
        match v["timestamp"].as_i64() {
            Some(ts) if now - ts <= self.jira_max_age_ms && ts - now <= LINEAR_MAX_SKEW_MS => {}
            Some(ts) => {
                return WebhookAnswer::new(
                    401,
                    "stale_webhook",
                    format!("timestamp is {} ms from now", now - ts),
                )
            }
            None => return WebhookAnswer::new(401, "stale_webhook", "no timestamp"),
        }
        let issue = &v["issue"];
        let (Some(id), Some(key)) = (issue["id"].as_str(), issue["key"].as_str()) else {
            return WebhookAnswer::new(200, "ignored", "no issue");
        };
        if issue["fields"]["status"]["statusCategory"]["key"].is_null() {
            return WebhookAnswer::new(200, "ignored", "no status");
        }
        let state = crate::tracker::jira_state(&issue["fields"]);
        self.apply("jira", id, key, state, now).await
    }

    async fn apply(
        &self,
        provider: &str,
        id: &str,
        key: &str,
        state: RemoteState,
        now: i64,
    ) -> WebhookAnswer {
        let ticket = match self.store.ticket_by_remote(provider, id).await {
            Ok(Some(t)) => t,
            Ok(None) => return WebhookAnswer::new(200, "ignored", format!("{key} is not a UFSE ticket")),
            Err(e) => return WebhookAnswer::new(503, "store_unavailable", e.to_string()),
        };
        let why = format!("{key} is {} in {provider}", state.as_str());
        match apply_remote_state(&self.store, &ticket, state, Actor::Webhook, &why, now).await {
            Ok(true) => WebhookAnswer::new(200, "ok", format!("issue {} moved: {why}", ticket.fingerprint)),
            Ok(false) => WebhookAnswer::new(200, "ok", format!("issue {} unchanged", ticket.fingerprint)),
            Err(e) => WebhookAnswer::new(503, "store_unavailable", e.to_string()),
        }
    }
}

/// Whether `hex` is the HMAC-SHA256 of `body` with `secret` (constant time).
fn signed(secret: &Secret, body: &[u8], hex: &str) -> bool {
    let Ok(given) = hex::decode(hex) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The signature of `body` with `secret`, as Linear and Jira compute it (hex).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_the_raw_body() {
        let s = Secret::new("whsec");
        let body = br#"{"type":"Issue"}"#;
        let sig = sign("whsec", body);
        assert!(signed(&s, body, &sig));
        assert!(!signed(&s, b"{\"type\":\"Issue\"} ", &sig), "one byte more");
        assert!(!signed(&s, body, &sig.to_uppercase()[..10]));
        assert!(!signed(&s, body, "zz"));
        assert!(!signed(&Secret::new("other"), body, &sig));
    }
}

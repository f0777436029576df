//! The HTTP service: routes, the batch handler, and the accept loop with
//! graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, CONTENT_TYPE, RETRY_AFTER, VARY,
};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics::{counter, histogram};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use tokio::net::TcpListener;
use ufse_event_log::{LogError, LogProducer};
use ufse_incident_store::{IncidentStore, KeyStatus};
use ufse_schema::{log_key, parse_batch, Dropped, Limits, LogBatch, RejectReason, Rejection, Truncated};

use crate::body::{decode, encoding, read_limited};
use crate::keys::KeyCache;
use crate::ratelimit::RateLimiter;
use crate::webhooks::{WebhookReceiver, MAX_WEBHOOK_BYTES, WEBHOOK_PREFIX};
use crate::IngestConfig;

type Body = Full<Bytes>;

/// The edge's shared state.
pub struct Edge<S> {
    config: IngestConfig,
    limits: Limits,
    store: S,
    keys: KeyCache,
    producer: Arc<dyn LogProducer>,
    per_key: RateLimiter<String>,
    per_client: RateLimiter<IpAddr>,
    ready: Arc<AtomicBool>,
    metrics: Option<PrometheusHandle>,
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    webhooks: Option<Arc<dyn WebhookReceiver>>,
}

impl<S: IncidentStore> Edge<S> {
    /// Builds the edge. `ready` is shared with whoever decides readiness
    /// (the edge starts not ready); `clock` gives the server time stamped
    /// on each batch (wall ms).
    pub fn new(
        config: IngestConfig,
        store: S,
        producer: Arc<dyn LogProducer>,
        ready: Arc<AtomicBool>,
        metrics: Option<PrometheusHandle>,
        clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    ) -> Self {
        let limits = Limits { max_events: config.max_events, max_string_bytes: config.max_string_bytes };
        Edge {
            keys: KeyCache::new(config.key_cache()),
            per_key: RateLimiter::new(config.key_events_per_sec, config.key_burst_events, 100_000),
            per_client: RateLimiter::new(config.client_events_per_sec, config.client_burst_events, 100_000),
            limits,
            config,
            store,
            producer,
            ready,
            metrics,
            clock,
            webhooks: None,
        }
    }

    /// Also serves `POST /v1/webhooks/{provider}` with `receiver`.
    pub fn with_webhooks(mut self, receiver: Arc<dyn WebhookReceiver>) -> Self {
        self.webhooks = Some(receiver);
        self
    }
}

/// The 202 body.
#[derive(Serialize)]
struct Accepted<'a> {
    accepted: usize,
    dropped: &'a [Dropped],
    truncated: &'a [Truncated],
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    reason: &'static str,
    detail: &'a str,
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn status_of(reason: RejectReason) -> StatusCode {
    use RejectReason::*;
    match reason {
        BodyTooLarge | DecompressedTooLarge | TooManyEvents => StatusCode::PAYLOAD_TOO_LARGE,
        UnsupportedEncoding => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        MissingKey | UnknownKey | RevokedKey => StatusCode::UNAUTHORIZED,
        OriginNotAllowed => StatusCode::FORBIDDEN,
        RateLimitedKey | RateLimitedClient => StatusCode::TOO_MANY_REQUESTS,
        Overloaded | LogUnavailable | StoreUnavailable | NotReady => StatusCode::SERVICE_UNAVAILABLE,
        NotFound => StatusCode::NOT_FOUND,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A rejection as an HTTP answer, counted once under its reason.
fn reject(r: &Rejection, retry_after: Option<Duration>) -> Response<Body> {
    counter!("ufse_ingest_rejected_total", "reason" => r.reason.as_str()).increment(1);
    let body =
        serde_json::to_vec(&ErrorBody { reason: r.reason.as_str(), detail: &r.detail }).expect("serializes");
    let mut resp = json(status_of(r.reason), body);
    if let Some(wait) = retry_after {
        // Whole seconds, rounded up, at least 1.
        let secs = wait.as_millis().div_ceil(1000).max(1);
        resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs as u64));
    }
    if r.reason == RejectReason::MethodNotAllowed {
        resp.headers_mut().insert(http::header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    }
    resp
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    allowed.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
}

fn with_cors(mut resp: Response<Body>, origin: Option<&HeaderValue>) -> Response<Body> {
    if let Some(o) = origin {
        let h = resp.headers_mut();
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
        // Not a CORS-safelisted header: without this, a page on another
        // origin cannot read when to retry, and the SDK backs off blind.
        h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("retry-after"));
        h.insert(VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

fn preflight(origin: Option<&HeaderValue>) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    h.insert("access-control-allow-methods", HeaderValue::from_static("POST, OPTIONS"));
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("content-type, content-encoding, x-ufse-key"),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    with_cors(r, origin)
}

impl<S: IncidentStore> Edge<S> {
    async fn route(&self, req: Request<Incoming>, peer: IpAddr) -> Response<Body> {
        let origin = req.headers().get(http::header::ORIGIN).cloned();
        match (req.method(), req.uri().path()) {
            (&Method::POST, "/v1/batch") => {
                let started = Instant::now();
                let resp = match self.batch(req, peer, origin.as_ref()).await {
                    Ok(r) => r,
                    Err((r, wait)) => reject(&r, wait),
                };
                histogram!("ufse_ingest_request_seconds").record(started.elapsed().as_secs_f64());
                with_cors(resp, origin.as_ref())
            }
            (&Method::OPTIONS, "/v1/batch") => preflight(origin.as_ref()),
            (&Method::POST, path) if path.starts_with(WEBHOOK_PREFIX) && self.webhooks.is_some() => {
                webhook(self.webhooks.as_deref().expect("checked"), req).await
            }
            (&Method::GET, "/healthz") => json(StatusCode::OK, b"{\"status\":\"ok\"}".to_vec()),
            (&Method::GET, "/readyz") => {
                if self.ready.load(Ordering::Acquire) {
                    json(StatusCode::OK, b"{\"status\":\"ready\"}".to_vec())
                } else {
                    reject(
                        &Rejection::new(RejectReason::NotReady, "starting or draining"),
                        Some(Duration::from_secs(1)),
                    )
                }
            }
            (&Method::GET, "/metrics") => {
                let text = self.metrics.as_ref().map(PrometheusHandle::render).unwrap_or_default();
                let mut r = Response::new(Full::new(Bytes::from(text)));
                r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
                r
            }
            (_, "/v1/batch" | "/healthz" | "/readyz" | "/metrics") => reject(
                &Rejection::new(
                    RejectReason::MethodNotAllowed,
                    format!("{} is not allowed here", req.method()),
                ),
                None,
            ),
            (_, path) => {
                reject(&Rejection::new(RejectReason::NotFound, format!("no route for {path}")), None)
            }
        }
    }

    /// `POST /v1/batch`: answers 202 only once the batch is durable.
    async fn batch(
        &self,
        req: Request<Incoming>,
        peer: IpAddr,
        origin: Option<&HeaderValue>,
    ) -> Result<Response<Body>, (Rejection, Option<Duration>)> {
        let no_wait = |r| (r, None);
        if !self.ready.load(Ordering::Acquire) {
            return Err((
                Rejection::new(RejectReason::NotReady, "starting or draining"),
                Some(Duration::from_secs(1)),
            ));
        }
        let (parts, body) = req.into_parts();
        let enc = encoding(header(&parts.headers, "content-encoding")).map_err(no_wait)?;
        let key = header(&parts.headers, "x-ufse-key")
            .or_else(|| query_param(parts.uri.query(), "key"))
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                no_wait(Rejection::new(RejectReason::MissingKey, "send the key in X-Ufse-Key or ?key="))
            })?
            .to_owned();
        let status = self.keys.resolve(&self.store, &key).await.map_err(|e| {
            tracing::error!(error = %e, "key lookup failed");
            (
                Rejection::new(RejectReason::LogUnavailable, "cannot check the key right now"),
                Some(Duration::from_secs(1)),
            )
        })?;
        let (project, allowed) = match status {
            KeyStatus::Active { project, allowed_origins } => (project, allowed_origins),
            KeyStatus::Revoked => {
                return Err(no_wait(Rejection::new(RejectReason::RevokedKey, "the key was revoked")))
            }
            KeyStatus::Unknown => {
                return Err(no_wait(Rejection::new(RejectReason::UnknownKey, "the key is not known")))
            }
        };
        if let Some(o) = origin.and_then(|o| o.to_str().ok()) {
            if !origin_allowed(&allowed, o) {
                return Err(no_wait(Rejection::new(
                    RejectReason::OriginNotAllowed,
                    format!("origin {o} may not send to project {project}"),
                )));
            }
        }
        if let Some(len) = header(&parts.headers, "content-length").and_then(|l| l.parse::<usize>().ok()) {
            if len > self.config.max_body_bytes {
                return Err(no_wait(Rejection::new(
                    RejectReason::BodyTooLarge,
                    format!("the body is over {} bytes", self.config.max_body_bytes),
                )));
            }
        }
        let raw = read_limited(body, self.config.max_body_bytes).await.map_err(no_wait)?;
        let max = self.config.max_decompressed_bytes;
        let big = raw.len() > 64 * 1024;
        let limits = &self.limits;
        let work = move || decode(raw, enc, max).and_then(|plain| parse_batch(&plain, limits));
        // A typical batch parses in well under a millisecond; a big one
        // (up to 16 MiB inflated) would stall the reactor, so it leaves it.
        let parsed = if big { tokio::task::block_in_place(work) } else { work() }.map_err(no_wait)?;
        let cost = parsed.events.len().max(1) as f64;
        let now = Instant::now();
        self.per_client.take(&peer, cost, now).map_err(|wait| {
            (
                Rejection::new(
                    RejectReason::RateLimitedClient,
                    format!("client {peer} is over its event rate"),
                ),
                Some(wait),
            )
        })?;
        self.per_key.take(&project, cost, now).map_err(|wait| {
            // Refused: the client's budget was not spent on it.
            self.per_client.refund(&peer, cost);
            (
                Rejection::new(
                    RejectReason::RateLimitedKey,
                    format!("project {project} is over its event rate"),
                ),
                Some(wait),
            )
        })?;
        for d in &parsed.dropped {
            counter!("ufse_ingest_events_dropped_total", "reason" => d.reason.as_str()).increment(1);
        }
        counter!("ufse_ingest_strings_truncated_total").increment(parsed.truncated.len() as u64);
        let dropped = parsed.dropped.clone();
        let truncated = parsed.truncated.clone();
        let accepted = parsed.events.len();
        if accepted > 0 {
            let record = LogBatch::from_parsed(&project, (self.clock)(), parsed);
            let key = log_key(&record.project, &record.sid);
            let payload = Bytes::from(record.encode());
            let pending = self.producer.append(key.as_bytes(), payload).map_err(|e| match e {
                LogError::Full => (
                    Rejection::new(RejectReason::Overloaded, "the log hand-off queue is full"),
                    Some(Duration::from_secs(1)),
                ),
                e => (
                    Rejection::new(RejectReason::LogUnavailable, e.to_string()),
                    Some(Duration::from_secs(1)),
                ),
            })?;
            pending.await.map_err(|e| {
                tracing::error!(error = %e, "append failed");
                (
                    Rejection::new(RejectReason::LogUnavailable, "the batch could not be made durable"),
                    Some(Duration::from_secs(1)),
                )
            })?;
        }
        counter!("ufse_ingest_events_accepted_total").increment(accepted as u64);
        counter!("ufse_ingest_batches_accepted_total").increment(1);
        let body = serde_json::to_vec(&Accepted { accepted, dropped: &dropped, truncated: &truncated })
            .expect("serializes");
        Ok(json(StatusCode::ACCEPTED, body))
    }
}

/// `POST /v1/webhooks/{provider}`: the body, read within its limit, to
/// `receiver` with the provider named by the path.
pub(crate) async fn webhook(receiver: &dyn WebhookReceiver, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match read_limited(body, MAX_WEBHOOK_BYTES).await {
        Ok(b) => b,
        Err(r) => return reject(&r, None),
    };
    let provider = parts.uri.path().strip_prefix(WEBHOOK_PREFIX).unwrap_or_default();
    let reply = receiver.receive(provider, &parts.headers, body).await;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body =
        serde_json::to_vec(&ErrorBody { reason: reply.reason, detail: &reply.detail }).expect("serializes");
    json(status, body)
}

/// Serves HTTP on `listener` until `shutdown` resolves; then reports not
/// ready, stops accepting, and waits up to the drain timeout for requests
/// in flight (new batches on open connections get 503 `not_ready`).
///
/// # Errors
///
/// Only if accepting fails persistently; per-connection errors are logged.
pub async fn serve<S: IncidentStore>(
    listener: TcpListener,
    edge: Arc<Edge<S>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10)).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer): (_, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => {
                edge.ready.store(false, Ordering::Release);
                break;
            }
        };
        let _ = stream.set_nodelay(true);
        let edge = Arc::clone(&edge);
        let service = service_fn(move |req| {
            let edge = Arc::clone(&edge);
            async move { Ok::<_, Infallible>(edge.route(req, peer.ip()).await) }
        });
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(edge.config.drain_timeout(), graceful.shutdown()).await.is_err() {
        tracing::warn!("drain deadline passed with requests still in flight");
    }
    Ok(())
}

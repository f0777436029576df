//! The small servers beside the API: the demo shop, and `/metrics` (with
//! the trackers' webhooks for `ufse work`) for the roles that serve no API.
//! One accept loop for all.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::webhooks::{WebhookReceiver, WEBHOOK_PREFIX};

/// Serves `handler` on `listener` until the task is dropped.
///
/// # Errors
///
/// Only if accepting fails; per-connection errors are logged.
pub(crate) async fn serve_with<F, Fut>(listener: TcpListener, handler: F) -> std::io::Result<()>
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let handler = Arc::new(handler);
    let http = hyper::server::conn::http1::Builder::new();
    loop {
        let (stream, _) = listener.accept().await?;
        let handler = Arc::clone(&handler);
        let service = service_fn(move |req| {
            let answer = handler(req);
            async move { Ok::<_, Infallible>(answer.await) }
        });
        let conn = http.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// Serves `GET /metrics` (Prometheus text) and `GET /healthz` on `listener`
/// until the task is dropped: for `ufse process`, which serves no API.
///
/// # Errors
///
/// Only if accepting fails; per-connection errors are logged.
pub async fn serve_metrics(listener: TcpListener, metrics: PrometheusHandle) -> std::io::Result<()> {
    serve_side(listener, metrics, None).await
}

/// [`serve_metrics`], and the trackers' webhooks (`POST
/// /v1/webhooks/{provider}`) with `webhooks`: for `ufse work`.
///
/// # Errors
///
/// Only if accepting fails; per-connection errors are logged.
pub async fn serve_side(
    listener: TcpListener,
    metrics: PrometheusHandle,
    webhooks: Option<Arc<dyn WebhookReceiver>>,
) -> std::io::Result<()> {
    serve_with(listener, move |req| {
        let metrics = metrics.clone();
        let webhooks = webhooks.clone();
        async move {
            let (status, kind, body) = match (req.method(), req.uri().path()) {
                (&Method::GET, "/metrics") => (StatusCode::OK, "text/plain; version=0.0.4", metrics.render()),
                (&Method::GET, "/healthz") => {
                    (StatusCode::OK, "application/json", "{\"status\":\"ok\"}".into())
                }
                (&Method::POST, path) if path.starts_with(WEBHOOK_PREFIX) && webhooks.is_some() => {
                    return crate::server::webhook(webhooks.as_deref().expect("checked"), req).await;
                }
                _ => (
                    StatusCode::NOT_FOUND,
                    "text/plain",
                    "not found: this role serves /metrics, /healthz and, with a cold path, /v1/webhooks/"
                        .into(),
                ),
            };
            let mut r = Response::new(Full::new(Bytes::from(body)));
            *r.status_mut() = status;
            r.headers_mut().insert(CONTENT_TYPE, kind.parse().expect("a valid header"));
            r
        }
    })
    .await
}

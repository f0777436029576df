//! `ufse serve --demo`: a small shop with deliberately broken parts, and
//! the browser SDK, served on their own port beside the ingest API, so a
//! newcomer can click around and watch incidents appear. The page sends to
//! the ingest API from another origin, as a real site would, under the
//! Content-Security-Policy the SDK's README documents.
//!
//! Files come from a directory at run time (`demo/` and the SDK's `dist/`,
//! see `sdk-wasm/build.sh`); the shop's backend is three endpoints: one
//! that works, one that fails with 500 and one that takes 1.5 s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;

/// What the demo serves.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The SDK's directory: holds `demo/` and the built `dist/`.
    pub dir: PathBuf,
    /// The write key the page sends with.
    pub key: String,
    /// The ingest API's origin, as the browser reaches it.
    pub endpoint: String,
}

impl Demo {
    /// Checks that the files are in `dir`; the error says how to get them.
    ///
    /// # Errors
    ///
    /// A message naming the missing file.
    pub fn check_files(dir: &std::path::Path) -> Result<(), String> {
        for f in ["demo/index.html", "demo/shop.js", "dist/ufse.js", "dist/ufse.wasm"] {
            let path = dir.join(f);
            if !path.is_file() {
                return Err(format!(
                    "{} is missing: build the SDK first (bash sdk-wasm/build.sh) and run from the repository root, \
                     or pass --demo-dir",
                    path.display()
                ));
            }
        }
        Ok(())
    }

    async fn route(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let file = |path: &str, kind: &'static str| {
            let bytes = std::fs::read(self.dir.join(path));
            respond(
                if bytes.is_ok() { StatusCode::OK } else { StatusCode::NOT_FOUND },
                kind,
                bytes.unwrap_or_default(),
            )
        };
        match req.uri().path() {
            "/" | "/index.html" => {
                let page = std::fs::read_to_string(self.dir.join("demo/index.html")).unwrap_or_default();
                let page =
                    page.replace("__UFSE_KEY__", &self.key).replace("__UFSE_ENDPOINT__", &self.endpoint);
                let mut resp = respond(StatusCode::OK, "text/html; charset=utf-8", page.into_bytes());
                let csp = format!(
                    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' {}",
                    self.endpoint
                );
                resp.headers_mut().insert(CONTENT_SECURITY_POLICY, csp.parse().expect("a valid header"));
                resp
            }
            "/shop.js" => file("demo/shop.js", "text/javascript"),
            "/size-guide" => respond(StatusCode::OK, "text/html", b"<h1>Size guide</h1>".to_vec()),
            "/ufse.js" => file("dist/ufse.js", "text/javascript"),
            "/ufse.wasm" => file("dist/ufse.wasm", "application/wasm"),
            "/api/ok" => respond(StatusCode::OK, "application/json", b"{\"ok\":true}".to_vec()),
            "/api/fail" => {
                respond(StatusCode::INTERNAL_SERVER_ERROR, "application/json", b"{\"ok\":false}".to_vec())
            }
            "/api/slow" => {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                respond(StatusCode::OK, "application/json", b"{\"in_stock\":3}".to_vec())
            }
            _ => respond(StatusCode::NOT_FOUND, "text/plain", b"not found".to_vec()),
        }
    }
}

fn respond(status: StatusCode, kind: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, kind.parse().expect("a valid header"));
    resp.headers_mut().insert(CACHE_CONTROL, "no-store".parse().expect("a valid header"));
    resp
}

/// Serves the demo on `listener` until the task is dropped.
///
/// # Errors
///
/// Only if accepting fails; per-connection errors are logged.
pub async fn serve_demo(listener: TcpListener, demo: Demo) -> std::io::Result<()> {
    let demo = Arc::new(demo);
    crate::side::serve_with(listener, move |req| {
        let demo = Arc::clone(&demo);
        async move { demo.route(req).await }
    })
    .await
}

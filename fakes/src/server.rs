//! The HTTP plumbing every fake shares: a hyper server on its own thread,
//! requests read whole, and a queue of scripted faults served before the
//! fake's own answers.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A boxed future.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A request, read whole.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, v: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(v).expect("serializes"),
        }
    }

    /// With one more header.
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// A failure to serve instead of the fake's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// This answer.
    Reply(Reply),
    /// The fake's own answer, after this long (a client's timeout, a slow provider).
    Delay(Duration),
}

/// What every fake serves: its own answers, after any scripted faults.
pub(crate) trait Service: Send + Sync + 'static {
    fn handle(self: Arc<Self>, req: Req) -> BoxFuture<'static, Reply>;
}

/// Scripted faults, served to the next requests in order.
#[derive(Debug, Default)]
struct Faults(Mutex<VecDeque<Fault>>);

impl Faults {
    fn push(&self, f: Fault, times: usize) {
        let mut q = self.0.lock().unwrap();
        for _ in 0..times {
            q.push_back(f.clone());
        }
    }

    fn next(&self) -> Option<Fault> {
        self.0.lock().unwrap().pop_front()
    }
}

/// A fake's service running on its own thread, with its scripted faults.
pub(crate) struct Fake<I> {
    /// The service, for its state.
    pub inner: Arc<I>,
    faults: Arc<Faults>,
    running: Running,
}

impl<I: Service> Fake<I> {
    /// Serves `inner` on `listen` (port 0 picks one).
    pub fn start(inner: I, listen: &str) -> Result<Fake<I>, String> {
        let inner = Arc::new(inner);
        let faults = Arc::new(Faults::default());
        let running = start(Arc::clone(&inner) as Arc<dyn Service>, Arc::clone(&faults), listen)
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        Ok(Fake { inner, faults, running })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// Serves `fault` to the next `times` requests.
    pub fn fail_next(&self, fault: Fault, times: usize) {
        self.faults.push(fault, times);
    }
}

/// A fake, serving until dropped.
struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `service` on `listen` (port 0 picks one) on a thread of its own.
fn start(service: Arc<dyn Service>, faults: Arc<Faults>, listen: &str) -> std::io::Result<Running> {
    let std_listener = std::net::TcpListener::bind(listen)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new().name(format!("fake-{}", addr.port())).spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime starts");
        rt.block_on(async move {
            let listener = TcpListener::from_std(std_listener).expect("a listener");
            tokio::pin!(stop_rx);
            loop {
                let stream = tokio::select! {
                    a = listener.accept() => match a { Ok((s, _)) => s, Err(_) => continue },
                    _ = &mut stop_rx => break,
                };
                let service = Arc::clone(&service);
                let faults = Arc::clone(&faults);
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let service = Arc::clone(&service);
                        let faults = Arc::clone(&faults);
                        async move { Ok::<_, Infallible>(answer(service, faults, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        rt.shutdown_timeout(Duration::from_millis(100));
    })?;
    Ok(Running { addr, stop: Some(stop_tx), thread: Some(thread) })
}

async fn answer(
    service: Arc<dyn Service>,
    faults: Arc<Faults>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let req = Req { method: parts.method, path: parts.uri.path().to_owned(), headers: parts.headers, body };
    let reply = match faults.next() {
        Some(Fault::Reply(r)) => r,
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            service.handle(req).await
        }
        None => service.handle(req).await,
    };
    let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in reply.headers {
        if let (Ok(k), Ok(v)) = (http::HeaderName::try_from(k), http::HeaderValue::try_from(v)) {
            resp.headers_mut().append(k, v);
        }
    }
    resp
}

/// Whether `s` is a UUID in canonical form with version 4 and the RFC 4122 variant.
pub(crate) fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
        && b[14] == b'4'
        && matches!(b[19].to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b')
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

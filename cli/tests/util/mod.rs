//! Test helpers: the real `ufse` binary on an ephemeral port, and a tiny
//! HTTP/1.1 client that can send exactly the bytes a test wants.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn ufse_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ufse"))
}

/// `ufse ARGS` with `--data-dir DIR`, waited for.
pub fn ufse(dir: &Path, args: &[&str]) -> Output {
    Command::new(ufse_bin()).args(args).arg("--data-dir").arg(dir).output().expect("ufse runs")
}

/// A running `ufse serve`.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub key: Option<String>,
    pub dir: PathBuf,
}

impl Server {
    /// Starts `ufse serve --listen 127.0.0.1:0` on `dir` with extra env.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_with(dir, env, &[])
    }

    /// `start`, with extra arguments to `serve`.
    pub fn start_with(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
        let mut cmd = Command::new(ufse_bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("ufse serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut key = None;
        let addr = loop {
            let line = lines.next().expect("serve prints its address").unwrap();
            if let Some(k) = line.strip_prefix("default project key: ") {
                key = Some(k.to_owned());
            }
            if let Some(a) = line.strip_prefix("listening on http://") {
                break a.to_owned();
            }
        };
        Server { child, addr, key, dir: dir.to_owned() }
    }

    pub fn key(&self) -> &str {
        self.key.as_deref().expect("this server created the default project")
    }

    /// Sends SIGTERM and waits; returns the exit status code.
    pub fn terminate(mut self) -> Option<i32> {
        unsafe_kill(self.child.id(), "TERM");
        self.child.wait().unwrap().code()
    }

    /// Sends SIGKILL and reaps.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(&self.addr, method, path, headers, body)
    }

    /// POSTs a batch with the default key.
    pub fn post(&self, body: &[u8], headers: &[(&str, &str)]) -> Response {
        let mut h = vec![("X-Ufse-Key", self.key())];
        h.extend_from_slice(headers);
        self.request("POST", "/v1/batch", &h, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_kill(pid: u32, sig: &str) {
    Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().expect("kill runs");
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn reason(&self) -> String {
        self.json()["reason"].as_str().unwrap_or("").to_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before reading a large body; a reset while writing is fine.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let end =
        raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no response head: {raw:?}"));
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked") {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 2 + n + 2..];
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `ufse ARGS --json --data-dir DIR` with `env` added: what it printed,
/// once it has exited successfully.
pub fn json_text(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let out = Command::new(ufse_bin())
        .args(args)
        .args(["--json", "--data-dir"])
        .arg(dir)
        .envs(env.iter().copied())
        .output()
        .expect("ufse runs");
    assert!(out.status.success(), "ufse {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// [`json_text`], one JSON value per line.
pub fn json_values(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Vec<serde_json::Value> {
    json_text(dir, env, args).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// `ufse LIST --json` lines as JSON values.
pub fn json_lines(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    json_values(dir, &[], args)
}

/// Polls `check` until it returns Some or the deadline passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A wire-format click.
pub fn click(seq: u64, ts: i64, x: i64, sel: &str) -> serde_json::Value {
    serde_json::json!({"t":"click","ts":ts,"seq":seq,"x":x,"y":100,"sel":sel,"el":{"tag":"button"}})
}

/// A session on `https://shop.example.com/cart/42`: a rage run on the
/// checkout button, an error after it, and a heartbeat a minute later that
/// closes every window without waiting for silence.
pub fn shop_batch(sid: &str) -> Vec<u8> {
    const T0: i64 = 1_732_750_000_000;
    batch(
        sid,
        vec![
            serde_json::json!({"t":"nav","ts":T0,"seq":1,"url":"https://shop.example.com/cart/42","nav":"load"}),
            click(2, T0 + 100, 400, "button#checkout"),
            click(3, T0 + 300, 402, "button#checkout"),
            click(4, T0 + 500, 401, "button#checkout"),
            serde_json::json!({"t":"error","ts":T0 + 700,"seq":5,"msg":"TypeError","kind":"error"}),
            serde_json::json!({"t":"custom","ts":T0 + 60_000,"seq":6,"name":"heartbeat"}),
        ],
    )
}

/// A wire-format batch line.
pub fn batch(sid: &str, events: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"v":1,"sid":sid,"uid":format!("user-{sid}"),"events":events}))
        .unwrap()
}

/// `sql` run by the ClickHouse server at `url` (`http://host:port`, its HTTP
/// interface); its answer, tab-separated, trimmed.
pub fn clickhouse(url: &str, sql: &str) -> String {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let r = request(addr, "POST", "/", &[], sql.as_bytes());
    let body = String::from_utf8_lossy(&r.body).trim().to_owned();
    assert_eq!(r.status, 200, "{sql}: {body}");
    body
}

/// Says on stderr that a test checked nothing because `what` (its service's
/// variable) is not set, as when the suite runs by hand without services.
pub fn skip(what: &str) {
    // Straight to stderr: the test harness would swallow eprintln! of a passing test.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what} is not set; scripts/test.sh sets it");
}

/// A service process a test started itself (a broker, a database) and can
/// stop and start again; stopped when dropped.
#[derive(Default)]
pub struct OwnProcess(Option<Child>);

impl OwnProcess {
    /// Takes over `child`, the service started (again).
    pub fn set(&mut self, child: Child) {
        self.kill();
        self.0 = Some(child);
    }

    /// SIGKILL, and reaps.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

//! What the cold path's HTTP clients share: one client per provider with
//! its timeout, replies read whole (bounded), and the servers' hints of
//! when to retry.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;

/// The most of a reply body read; providers answer in kilobytes.
const MAX_REPLY_BYTES: usize = 4 << 20;

/// A client with `timeout` for whole requests.
pub(crate) fn client(timeout_ms: u64) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(timeout_ms.max(1)))
        .connect_timeout(Duration::from_millis(timeout_ms.clamp(1, 10_000)))
        .user_agent(concat!("ufse/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with rustls builds")
}

/// A reply, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON, or `Null` when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The first bytes of the body, for an error message.
    pub fn snippet(&self) -> String {
        let s = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        crate::redact::redact(&s).into_owned()
    }
}

/// Sends `req` and reads the reply; the error is why nothing came back
/// (without the request's headers, which hold the credentials).
pub(crate) async fn send(req: reqwest::RequestBuilder) -> Result<Reply, String> {
    let mut resp = req.send().await.map_err(describe)?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(describe)? {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(format!("the reply is over {MAX_REPLY_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply { status, headers, body: Bytes::from(body) })
}

fn describe(e: reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The URL without its query; the error's own text after it.
    let url = e.url().map(|u| format!("{}://{}{}", u.scheme(), u.host_str().unwrap_or(""), u.path()));
    let mut source = std::error::Error::source(&e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    match url {
        Some(u) if detail.is_empty() => format!("{what}: {u}"),
        Some(u) => format!("{what}: {u}: {detail}"),
        None => format!("{what}: {e}"),
    }
}

/// When the server asks to be retried: `retry-after-ms` (OpenAI), else
/// `Retry-After` in seconds (fractions allowed) or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now_ms: i64) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(Duration::from_millis(ms.max(0.0) as u64));
    }
    let v = get("retry-after")?;
    if let Ok(secs) = v.parse::<f64>() {
        return Some(Duration::from_millis((secs.max(0.0) * 1000.0) as u64));
    }
    let at = httpdate_ms(v)?;
    Some(Duration::from_millis((at - now_ms).max(0) as u64))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) as ms since the epoch.
fn httpdate_ms(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let m = months.iter().position(|x| x == month)? as i64 + 1;
    let (d, y): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [h, mi, se] = hms.as_slice() else { return None };
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + h * 3600 + mi * 60 + se) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retry_hints_in_every_form_providers_send() {
        assert_eq!(retry_after(&headers(&[("retry-after", "3")]), 0), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&headers(&[("retry-after", "0.5")]), 0), Some(Duration::from_millis(500)));
        let both = headers(&[("retry-after", "3"), ("retry-after-ms", "20")]);
        assert_eq!(retry_after(&both, 0), Some(Duration::from_millis(20)));
        let date = headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert_eq!(retry_after(&date, 784_111_770_000), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), 0), None);
        assert_eq!(retry_after(&HeaderMap::new(), 0), None);
    }
}

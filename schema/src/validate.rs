//! Validation of wire-format v1 batches (DESIGN.md section 2).
//!
//! A malformed envelope rejects the whole batch with one [`RejectReason`];
//! within a valid envelope each event is validated on its own, and a bad
//! event is dropped with one [`DropReason`] while the rest are accepted.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::event::{Body, Element, ErrorKind, Event, NavType, Visibility};
use crate::fields::{from_map, RawFields, V};
use crate::reason::{DropReason, RejectReason};

/// Largest accepted `ts`/`sent_at`: the last millisecond of year 9999.
pub const MAX_TS: i64 = 253_402_300_799_999;
/// Largest accepted `seq`: the largest integer a JS number holds exactly.
pub const MAX_SEQ: u64 = (1 << 53) - 1;
/// Longest `sel` in bytes.
pub const MAX_SEL_BYTES: usize = 512;
/// Longest `sid` in characters.
pub const MAX_SID_CHARS: usize = 128;
/// Longest `uid` in characters.
pub const MAX_UID_CHARS: usize = 256;

/// Limits applied while validating; the byte limits on the body are the edge's.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Events per batch (over it: `too_many_events`).
    pub max_events: usize,
    /// Strings longer than this many bytes are truncated, UTF-8 safe, and reported.
    pub max_string_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_events: 2000, max_string_bytes: 8 * 1024 }
    }
}

/// A refused batch: one reason and a human-readable detail naming the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejection {
    /// Stable reason.
    pub reason: RejectReason,
    /// What exactly was wrong.
    pub detail: String,
}

impl Rejection {
    /// A rejection with a detail message.
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejection { reason, detail: detail.into() }
    }
}

/// One event that was dropped, for the 202 body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// Position in the batch's `events`.
    pub index: usize,
    /// The event's `seq`, when it had a valid one.
    pub seq: Option<u64>,
    /// Why.
    #[serde(serialize_with = "ser_drop_reason")]
    pub reason: DropReason,
    /// The offending field, for field-level reasons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

fn ser_drop_reason<S: serde::Serializer>(r: &DropReason, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.as_str())
}

/// One string that was truncated, for the 202 body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Truncated {
    /// Position in `events`, or `None` for the envelope (`ctx`).
    pub index: Option<usize>,
    /// Dotted path of the field.
    pub field: String,
}

/// A batch whose envelope is valid.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBatch {
    /// Session id.
    pub sid: String,
    /// User id.
    pub uid: Option<String>,
    /// Client clock when sent, ms.
    pub sent_at: Option<i64>,
    /// Events the SDK discarded since its last batch.
    pub sdk_dropped: u64,
    /// Client context.
    pub ctx: Option<Map<String, Value>>,
    /// Valid events, in batch order.
    pub events: Vec<Event>,
    /// Dropped events.
    pub dropped: Vec<Dropped>,
    /// Truncated strings.
    pub truncated: Vec<Truncated>,
}

/// The envelope, with every field left as raw JSON so each can be checked
/// on its own (one reason per problem) and events parsed one by one.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    v: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sid: Option<&'a RawValue>,
    #[serde(borrow, default)]
    uid: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sent_at: Option<&'a RawValue>,
    #[serde(borrow, default)]
    dropped: Option<&'a RawValue>,
    #[serde(borrow, default)]
    ctx: Option<&'a RawValue>,
    #[serde(borrow, default)]
    events: Option<Events<'a>>,
}

/// `events` as found: an array of raw event texts, or something else.
enum Events<'a> {
    Array(Vec<&'a RawValue>),
    Null,
    NotArray,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Events<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Vis<'a> {
            type Value = Events<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of events")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Events<'a>, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(64));
                while let Some(raw) = seq.next_element::<&'a RawValue>()? {
                    v.push(raw);
                }
                Ok(Events::Array(v))
            }
            fn visit_unit<E>(self) -> Result<Events<'a>, E> {
                Ok(Events::Null)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Events<'a>, A::Error> {
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(Events::NotArray)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Events<'a>, E> {
                Ok(Events::NotArray)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Events<'a>, E> {
                Ok(Events::NotArray)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Events<'a>, E> {
                Ok(Events::NotArray)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Events<'a>, E> {
                Ok(Events::NotArray)
            }
            fn visit_str<E>(self, _: &str) -> Result<Events<'a>, E> {
                Ok(Events::NotArray)
            }
        }
        d.deserialize_any(Vis(std::marker::PhantomData))
    }
}

/// A present, non-null raw field parsed as `T`, or `None`.
fn field<'a, T: serde::Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<Result<T, ()>> {
    let raw = raw?;
    if raw.get() == "null" {
        return None;
    }
    Some(serde_json::from_str(raw.get()).map_err(|_| ()))
}

/// Parses and validates a decompressed batch body.
///
/// # Errors
///
/// A [`Rejection`] when the body or the envelope is malformed, or the batch
/// is over `limits.max_events`.
pub fn parse_batch(body: &[u8], limits: &Limits) -> Result<ParsedBatch, Rejection> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::new(RejectReason::EmptyBody, "the request body is empty"));
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Serde would read a struct from an array too: only objects are batches.
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => Rejection::new(RejectReason::NotAnObject, "the batch must be a JSON object"),
            Err(e) => Rejection::new(RejectReason::InvalidJson, e.to_string()),
        });
    }
    // One pass over the body: the envelope's fields stay raw, and the
    // events are only delimited here, each parsed on its own below.
    let env: Envelope<'_> =
        serde_json::from_slice(body).map_err(|e| Rejection::new(RejectReason::InvalidJson, e.to_string()))?;
    match env.v.map(|v| v.get()) {
        None | Some("null") => return Err(Rejection::new(RejectReason::MissingVersion, "`v` is required")),
        Some("1") => {}
        Some(v) => {
            return Err(Rejection::new(RejectReason::UnsupportedVersion, format!("`v` must be 1, got {v}")))
        }
    }
    let sid = match field::<String>(env.sid) {
        None => return Err(Rejection::new(RejectReason::MissingSid, "`sid` is required")),
        Some(Ok(s)) if valid_sid(&s) => s,
        Some(_) => {
            return Err(Rejection::new(
                RejectReason::BadSid,
                "`sid` must be 1 to 128 characters of [A-Za-z0-9_.:-]",
            ))
        }
    };
    let uid = match field::<String>(env.uid) {
        None => None,
        Some(Ok(s)) if s.chars().count() <= MAX_UID_CHARS => Some(s),
        Some(_) => {
            return Err(Rejection::new(
                RejectReason::BadUid,
                "`uid` must be a string of at most 256 characters",
            ))
        }
    };
    let sent_at = match field::<i64>(env.sent_at) {
        None => None,
        Some(Ok(t)) if (0..=MAX_TS).contains(&t) => Some(t),
        Some(_) => {
            let got = env.sent_at.map_or("", |r| r.get());
            return Err(Rejection::new(
                RejectReason::BadSentAt,
                format!("`sent_at` must be an integer ms time, got {got}"),
            ));
        }
    };
    let sdk_dropped = match field::<u64>(env.dropped) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(())) => {
            let got = env.dropped.map_or("", |r| r.get());
            return Err(Rejection::new(
                RejectReason::BadDropped,
                format!("`dropped` must be a non-negative integer, got {got}"),
            ));
        }
    };
    let mut truncated = Vec::new();
    let ctx = match field::<Value>(env.ctx) {
        None => None,
        Some(Ok(Value::Object(mut m))) => {
            let mut paths = Vec::new();
            truncate_map(&mut m, "ctx", limits.max_string_bytes, &mut paths);
            truncated.extend(paths.into_iter().map(|field| Truncated { index: None, field }));
            Some(m)
        }
        Some(_) => return Err(Rejection::new(RejectReason::BadCtx, "`ctx` must be an object")),
    };
    let raw_events = match env.events {
        None | Some(Events::Null) => {
            return Err(Rejection::new(RejectReason::MissingEvents, "`events` is required"))
        }
        Some(Events::Array(a)) => a,
        Some(Events::NotArray) => {
            return Err(Rejection::new(RejectReason::BadEvents, "`events` must be an array"))
        }
    };
    if raw_events.len() > limits.max_events {
        return Err(Rejection::new(
            RejectReason::TooManyEvents,
            format!("{} events, the limit is {}", raw_events.len(), limits.max_events),
        ));
    }

    let mut events = Vec::with_capacity(raw_events.len());
    let mut dropped = Vec::new();
    for (index, raw) in raw_events.into_iter().enumerate() {
        let mut paths = Vec::new();
        match parse_event_json(raw.get(), limits.max_string_bytes, &mut paths) {
            Ok(ev) => {
                truncated.extend(paths.into_iter().map(|field| Truncated { index: Some(index), field }));
                events.push(ev);
            }
            Err(e) => dropped.push(Dropped {
                index,
                seq: e.seq,
                reason: e.reason,
                field: e.field.map(str::to_owned),
            }),
        }
    }
    Ok(ParsedBatch { sid, uid, sent_at, sdk_dropped, ctx, events, dropped, truncated })
}

/// `sid`: 1 to 128 characters of `[A-Za-z0-9_.:-]`.
pub fn valid_sid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SID_CHARS
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// Why one event was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// Stable reason.
    pub reason: DropReason,
    /// The event's `seq` when it was valid.
    pub seq: Option<u64>,
    /// The field at fault, for field-level reasons.
    pub field: Option<&'static str>,
}

struct Fields<'a> {
    items: Vec<(Cow<'a, str>, V<'a>)>,
    seq: Option<u64>,
}

impl<'a> Fields<'a> {
    fn err(&self, reason: DropReason, field: &'static str) -> EventError {
        EventError { reason, seq: self.seq, field: Some(field) }
    }

    fn take(&mut self, k: &str) -> Option<V<'a>> {
        let i = self.items.iter().position(|(n, _)| n == k)?;
        Some(self.items.remove(i).1)
    }

    fn opt_str(&mut self, k: &'static str) -> Result<Option<String>, EventError> {
        match self.take(k) {
            None | Some(V::Null) => Ok(None),
            Some(V::Str(s)) => Ok(Some(s.into_owned())),
            Some(_) => Err(self.err(DropReason::BadField, k)),
        }
    }

    fn str(&mut self, k: &'static str) -> Result<String, EventError> {
        self.opt_str(k)?.ok_or_else(|| self.err(DropReason::MissingField, k))
    }

    fn sel(&mut self) -> Result<String, EventError> {
        let s = self.str("sel")?;
        if s.len() > MAX_SEL_BYTES {
            return Err(self.err(DropReason::FieldTooLong, "sel"));
        }
        Ok(s)
    }

    fn opt_num(&mut self, k: &'static str) -> Result<Option<f64>, EventError> {
        match self.take(k) {
            None | Some(V::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                Some(f) if f.is_finite() => Ok(Some(f)),
                _ => Err(self.err(DropReason::BadField, k)),
            },
        }
    }

    fn num(&mut self, k: &'static str) -> Result<f64, EventError> {
        self.opt_num(k)?.ok_or_else(|| self.err(DropReason::MissingField, k))
    }

    /// A non-negative integer count or duration; durations may come as
    /// fractional ms from `performance.now()` and are rounded.
    fn opt_uint(&mut self, k: &'static str, allow_fraction: bool) -> Result<Option<u64>, EventError> {
        match self.take(k) {
            None | Some(V::Null) => Ok(None),
            Some(V::U64(u)) => Ok(Some(u)),
            Some(V::F64(f)) if allow_fraction && (0.0..9.0e15).contains(&f) => Ok(Some(f.round() as u64)),
            Some(_) => Err(self.err(DropReason::BadField, k)),
        }
    }

    fn uint(&mut self, k: &'static str, allow_fraction: bool) -> Result<u64, EventError> {
        self.opt_uint(k, allow_fraction)?.ok_or_else(|| self.err(DropReason::MissingField, k))
    }

    fn element(&mut self) -> Result<Element, EventError> {
        let items = match self.take("el") {
            None => return Err(self.err(DropReason::MissingField, "el")),
            Some(V::Object(items)) => items,
            Some(_) => return Err(self.err(DropReason::BadField, "el")),
        };
        let mut el = Fields { items, seq: self.seq };
        let mut s = |k: &str, path: &'static str| match el.take(k) {
            None | Some(V::Null) => Ok(None),
            Some(V::Str(s)) => Ok(Some(s.into_owned())),
            Some(_) => Err(self.err(DropReason::BadField, path)),
        };
        let tag = s("tag", "el.tag")?.map(|t| t.to_ascii_lowercase());
        let r#type = s("type", "el.type")?.map(|t| t.to_ascii_lowercase());
        let href = s("href", "el.href")?;
        let target = s("target", "el.target")?;
        let mut flag = |k: &str, path: &'static str| match el.take(k) {
            None | Some(V::Null) => Ok(false),
            Some(V::Bool(b)) => Ok(b),
            Some(_) => Err(self.err(DropReason::BadField, path)),
        };
        let download = flag("download", "el.download")?;
        let editable = flag("editable", "el.editable")?;
        let in_link = flag("in_link", "el.in_link")?;
        Ok(Element { tag, r#type, href, target, download, editable, in_link, extra: el.into_extra() })
    }

    /// What no builder took: unknown fields, passed on verbatim.
    fn into_extra(self) -> Option<Box<Map<String, Value>>> {
        (!self.items.is_empty()).then(|| {
            Box::new(self.items.into_iter().map(|(k, v)| (k.into_owned(), v.into_value())).collect())
        })
    }
}

/// Validates one event object given as JSON text, truncating strings over
/// `max_string_bytes` (their paths are pushed to `truncated`).
///
/// # Errors
///
/// The event's one [`EventError`] when it cannot be accepted.
pub fn parse_event_json(
    json: &str,
    max_string_bytes: usize,
    truncated: &mut Vec<String>,
) -> Result<Event, EventError> {
    let not_object = EventError { reason: DropReason::EventNotObject, seq: None, field: None };
    let RawFields(items) = serde_json::from_str::<RawFields<'_>>(json).map_err(|_| not_object.clone())?;
    let mut items = items.ok_or(not_object)?;
    for (k, v) in items.iter_mut() {
        v.truncate(k, max_string_bytes, truncated);
    }
    build_event(items)
}

/// Validates one event object (strings already within their limits).
///
/// # Errors
///
/// The event's one [`EventError`] when it cannot be accepted.
pub fn parse_event(m: Map<String, Value>) -> Result<Event, EventError> {
    build_event(from_map(m))
}

fn build_event(items: Vec<(Cow<'_, str>, V<'_>)>) -> Result<Event, EventError> {
    let mut f = Fields { items, seq: None };
    let bare = |reason| EventError { reason, seq: None, field: None };
    let seq = match f.take("seq") {
        None | Some(V::Null) => return Err(bare(DropReason::MissingSeq)),
        Some(v) => match v.as_u64() {
            Some(s) if (1..=MAX_SEQ).contains(&s) => s,
            _ => return Err(bare(DropReason::BadSeq)),
        },
    };
    f.seq = Some(seq);
    let with_seq = |reason| EventError { reason, seq: Some(seq), field: None };
    let t = match f.take("t") {
        None | Some(V::Null) => return Err(with_seq(DropReason::MissingKind)),
        Some(V::Str(t)) if !t.is_empty() => t.into_owned(),
        Some(_) => return Err(with_seq(DropReason::BadKind)),
    };
    let ts = match f.take("ts") {
        None | Some(V::Null) => return Err(with_seq(DropReason::MissingTs)),
        Some(v) => match v.as_i64() {
            Some(ts) if (0..=MAX_TS).contains(&ts) => ts,
            _ => return Err(with_seq(DropReason::BadTs)),
        },
    };
    let unknown = !matches!(
        t.as_str(),
        "nav"
            | "click"
            | "input"
            | "submit"
            | "select"
            | "scroll"
            | "mutation"
            | "move"
            | "error"
            | "net"
            | "vis"
            | "longtask"
            | "custom"
    );
    // Unknown kinds keep every field, `url` included, verbatim.
    let url = if unknown { None } else { f.opt_str("url")? };
    let body = match t.as_str() {
        "nav" => {
            let nav = f.str("nav")?;
            let nav = NavType::parse(&nav).ok_or_else(|| f.err(DropReason::BadField, "nav"))?;
            if url.is_none() {
                return Err(f.err(DropReason::MissingField, "url"));
            }
            Body::Nav { nav }
        }
        "click" => {
            let x = f.num("x")?;
            let y = f.num("y")?;
            let sel = f.sel()?;
            let el = Box::new(f.element()?);
            let txt = f.opt_str("txt")?;
            Body::Click { x, y, sel, el, txt }
        }
        "input" => Body::Input { sel: f.sel()? },
        "submit" => Body::Submit { sel: f.sel()? },
        "select" => Body::Select,
        "scroll" => {
            let y = f.num("y")?;
            let vh = f.opt_num("vh")?;
            Body::Scroll { y, vh }
        }
        "mutation" => Body::Mutation { n: f.uint("n", false)? },
        "move" => {
            let x = f.num("x")?;
            let y = f.num("y")?;
            Body::Move { x, y }
        }
        "error" => {
            let msg = f.str("msg")?;
            let src = f.opt_str("src")?;
            let line = f.opt_uint("line", false)?;
            let col = f.opt_uint("col", false)?;
            let stack = f.opt_str("stack")?;
            let kind = match f.str("kind")?.as_str() {
                "error" => ErrorKind::Error,
                "rejection" => ErrorKind::Rejection,
                _ => return Err(f.err(DropReason::BadField, "kind")),
            };
            Body::Error { msg, src, line, col, stack, kind }
        }
        "net" => {
            let method = f.str("method")?;
            let status = match f.uint("status", false)? {
                s @ 0..=999 => s as u16,
                _ => return Err(f.err(DropReason::BadField, "status")),
            };
            let dur = f.uint("dur", true)?;
            if url.is_none() {
                return Err(f.err(DropReason::MissingField, "url"));
            }
            if dur as i128 > ts as i128 {
                return Err(f.err(DropReason::BadField, "dur"));
            }
            Body::Net { method, status, dur }
        }
        "vis" => {
            let state = match f.str("state")?.as_str() {
                "hidden" => Visibility::Hidden,
                "visible" => Visibility::Visible,
                _ => return Err(f.err(DropReason::BadField, "state")),
            };
            Body::Vis { state }
        }
        "longtask" => Body::LongTask { dur: f.uint("dur", true)? },
        "custom" => {
            let name = f.str("name")?;
            let props = match f.take("props") {
                None | Some(V::Null) => None,
                Some(p @ V::Object(_)) => Some(p.into_value()),
                Some(_) => return Err(f.err(DropReason::BadField, "props")),
            };
            Body::Custom { name, props }
        }
        _ => Body::Unknown { t },
    };
    Ok(Event { ts, seq, url, body, extra: f.into_extra() })
}

/// Truncates every string under `m` longer than `max` bytes at a char
/// boundary, recording the dotted path of each.
fn truncate_map(m: &mut Map<String, Value>, prefix: &str, max: usize, out: &mut Vec<String>) {
    for (k, v) in m.iter_mut() {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        truncate_value(v, path, max, out);
    }
}

fn truncate_value(v: &mut Value, path: String, max: usize, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.len() > max => {
            truncate_utf8(s, max);
            out.push(path);
        }
        Value::Object(m) => truncate_map(m, &path, max, out),
        Value::Array(a) => {
            for (i, v) in a.iter_mut().enumerate() {
                truncate_value(v, format!("{path}[{i}]"), max, out);
            }
        }
        _ => {}
    }
}

/// Shortens `s` to at most `max` bytes without splitting a character.
pub fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn batch(events: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"v": 1, "sid": "s1", "events": events})).unwrap()
    }

    fn reject(body: &[u8]) -> RejectReason {
        parse_batch(body, &Limits::default()).unwrap_err().reason
    }

    #[test]
    fn envelope_problems_have_one_reason_each() {
        assert_eq!(reject(b"{"), RejectReason::InvalidJson);
        assert_eq!(reject(b"  "), RejectReason::EmptyBody);
        assert_eq!(reject(b"[1]"), RejectReason::NotAnObject);
        assert_eq!(reject(br#"{"sid":"a","events":[]}"#), RejectReason::MissingVersion);
        assert_eq!(reject(br#"{"v":2,"sid":"a","events":[]}"#), RejectReason::UnsupportedVersion);
        assert_eq!(reject(br#"{"v":1,"events":[]}"#), RejectReason::MissingSid);
        assert_eq!(reject(br#"{"v":1,"sid":"a b","events":[]}"#), RejectReason::BadSid);
        assert_eq!(reject(br#"{"v":1,"sid":7,"events":[]}"#), RejectReason::BadSid);
        assert_eq!(reject(br#"{"v":1,"sid":"a","sent_at":-1,"events":[]}"#), RejectReason::BadSentAt);
        assert_eq!(reject(br#"{"v":1,"sid":"a","dropped":"x","events":[]}"#), RejectReason::BadDropped);
        assert_eq!(reject(br#"{"v":1,"sid":"a","ctx":[],"events":[]}"#), RejectReason::BadCtx);
        assert_eq!(reject(br#"{"v":1,"sid":"a"}"#), RejectReason::MissingEvents);
        assert_eq!(reject(br#"{"v":1,"sid":"a","events":{}}"#), RejectReason::BadEvents);
        assert_eq!(reject(b"{\"v\":1,\"sid\":\"a\xff\",\"events\":[]}"), RejectReason::InvalidJson);
        let long_sid = "a".repeat(129);
        assert_eq!(
            reject(format!(r#"{{"v":1,"sid":"{long_sid}","events":[]}}"#).as_bytes()),
            RejectReason::BadSid
        );
    }

    #[test]
    fn too_many_events_is_refused_whole() {
        let events: Vec<Value> = (1..=2001).map(|i| json!({"t":"select","ts":1,"seq":i})).collect();
        assert_eq!(reject(&batch(Value::Array(events))), RejectReason::TooManyEvents);
    }

    #[test]
    fn bad_events_are_dropped_one_reason_each_and_the_rest_accepted() {
        let b = parse_batch(
            &batch(json!([
                {"t":"nav","ts":1,"seq":1,"url":"https://a/","nav":"load"},
                {"t":"click","ts":2,"seq":-3,"x":1,"y":1,"sel":"b","el":{}},
                {"t":"click","ts":2,"seq":3,"x":"1","y":1,"sel":"b","el":{}},
                {"t":"nav","ts":2,"seq":4,"nav":"load"},
                {"ts":2,"seq":5},
                {"t":"scroll","ts":1e20,"seq":6,"y":1},
                7,
                {"t":"click","ts":2,"seq":8,"x":1,"y":1,"sel":"b","el":{"download":"yes"}},
                {"t":"future_kind","ts":2,"seq":9,"whatever":[1,2]},
                {"t":"click","ts":2,"seq":10,"x":1,"y":1,"sel":"b".repeat(513),"el":{}},
            ])),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(b.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 9]);
        let got: Vec<(usize, &str, Option<&str>)> =
            b.dropped.iter().map(|d| (d.index, d.reason.as_str(), d.field.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                (1, "bad_seq", None),
                (2, "bad_field", Some("x")),
                (3, "missing_field", Some("url")),
                (4, "missing_kind", None),
                (5, "bad_ts", None),
                (6, "event_not_object", None),
                (7, "bad_field", Some("el.download")),
                (9, "field_too_long", Some("sel")),
            ]
        );
    }

    #[test]
    fn unknown_kinds_and_fields_round_trip_verbatim() {
        let b = parse_batch(
            &batch(json!([
                {"t":"future_kind","ts":2,"seq":1,"url":"https://a/","deep":{"k":[1,"x"]}},
                {"t":"click","ts":3,"seq":2,"x":1.5,"y":2,"sel":"button#go","el":{"tag":"BUTTON","shape":"round"},"new_field":true},
            ])),
            &Limits::default(),
        )
        .unwrap();
        let out: Vec<Value> = b.events.iter().map(|e| serde_json::to_value(e).unwrap()).collect();
        assert_eq!(out[0], json!({"t":"future_kind","ts":2,"seq":1,"url":"https://a/","deep":{"k":[1,"x"]}}));
        assert_eq!(
            out[1],
            json!({"t":"click","ts":3,"seq":2,"x":1.5,"y":2.0,"sel":"button#go","el":{"tag":"button","shape":"round"},"new_field":true})
        );
        // Re-validating the stored form gives the same event.
        let again = parse_event(out[1].as_object().unwrap().clone()).unwrap();
        assert_eq!(again, b.events[1]);
    }

    #[test]
    fn long_strings_are_truncated_on_a_char_boundary_and_reported() {
        let msg = "é".repeat(5000); // 10,000 bytes
        let b = parse_batch(
            &serde_json::to_vec(&json!({"v":1,"sid":"s","ctx":{"ua":"u".repeat(9000)},"events":[
                {"t":"error","ts":1,"seq":1,"msg":msg,"kind":"error"}
            ]}))
            .unwrap(),
            &Limits::default(),
        )
        .unwrap();
        let Body::Error { msg, .. } = &b.events[0].body else { panic!("not an error") };
        assert_eq!(msg.len(), 8192);
        assert!(msg.chars().all(|c| c == 'é'));
        assert_eq!(
            b.truncated,
            vec![
                Truncated { index: None, field: "ctx.ua".into() },
                Truncated { index: Some(0), field: "msg".into() }
            ]
        );
    }

    #[test]
    fn text_like_and_navigating_elements() {
        let el = |tag: &str, ty: Option<&str>| Element {
            tag: Some(tag.into()),
            r#type: ty.map(Into::into),
            ..Element::default()
        };
        assert!(el("input", None).is_text_like());
        assert!(el("input", Some("email")).is_text_like());
        assert!(!el("input", Some("submit")).is_text_like());
        assert!(el("textarea", None).is_text_like());
        assert!(!el("button", None).is_text_like());
        let mut a = el("a", None);
        a.href = Some("/x".into());
        assert!(!a.navigates_away());
        a.target = Some("_blank".into());
        assert!(a.navigates_away());
        a.target = Some("_self".into());
        assert!(!a.navigates_away());
    }
}

//! Validation of wire-format v1 batches (DESIGN.md section 2).
//!
//! A malformed envelope rejects the whole batch with one [`RejectReason`];
//! within a valid envelope each event is validated on its own, and a bad
//! event is dropped with one [`DropReason`] while the rest are accepted.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::{Body, Element, ErrorKind, Event, JsError, NavType, Visibility};
use crate::fields::{from_map, object_map, EventFields, EventSeed, Key, K, V};
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

/// The envelope as found in one pass over the body: each field as a
/// value, so each can be checked on its own (one reason per problem),
/// while the events are validated as they stream by.
#[derive(Default)]
struct Envelope<'a> {
    v: Option<V<'a>>,
    sid: Option<V<'a>>,
    uid: Option<V<'a>>,
    sent_at: Option<V<'a>>,
    dropped: Option<V<'a>>,
    ctx: Option<V<'a>>,
    events: Option<Events>,
}

/// `events` as found.
enum Events {
    /// An array: its events validated, up to `max_events` of them.
    Array(EventsOut),
    Null,
    NotArray,
}

/// The events of an array, validated one by one.
#[derive(Default)]
struct EventsOut {
    /// How many elements the array had.
    len: usize,
    events: Vec<Event>,
    dropped: Vec<Dropped>,
    truncated: Vec<Truncated>,
}

impl EventsOut {
    /// Validates the element at `index`, read into `fields` (`is_object`
    /// false when it was not an object).
    fn push(&mut self, index: usize, is_object: bool, fields: &mut EventFields<'_>, max_string_bytes: usize) {
        let mut paths = Vec::new();
        match validate_fields(is_object, fields, max_string_bytes, &mut paths) {
            Ok(ev) => {
                self.truncated.extend(paths.into_iter().map(|field| Truncated { index: Some(index), field }));
                self.events.push(ev);
            }
            Err(e) => self.dropped.push(Dropped {
                index,
                seq: e.seq,
                reason: e.reason,
                field: e.field.map(str::to_owned),
            }),
        }
    }
}

/// Reads the envelope; see [`Envelope`].
struct EnvelopeSeed<'l>(&'l Limits);

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = Envelope<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Envelope<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a batch object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<'de>, A::Error> {
        let mut env = Envelope::default();
        while let Some(Key(key)) = map.next_key()? {
            let slot = match &*key {
                "v" => &mut env.v,
                "sid" => &mut env.sid,
                "uid" => &mut env.uid,
                "sent_at" => &mut env.sent_at,
                "dropped" => &mut env.dropped,
                "ctx" => &mut env.ctx,
                "events" => {
                    if env.events.is_some() {
                        return Err(A::Error::duplicate_field("events"));
                    }
                    env.events = Some(map.next_value_seed(EventsSeed(self.0))?);
                    continue;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if slot.is_some() {
                return Err(A::Error::custom(format_args!("duplicate field `{key}`")));
            }
            *slot = Some(map.next_value()?);
        }
        Ok(env)
    }
}

/// Reads `events`, validating each element as it is parsed; past
/// `max_events` the rest are only checked to be JSON.
struct EventsSeed<'l>(&'l Limits);

impl<'de> DeserializeSeed<'de> for EventsSeed<'_> {
    type Value = Events;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Events, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventsSeed<'_> {
    type Value = Events;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Events, A::Error> {
        let mut out = EventsOut { events: Vec::with_capacity(128), ..EventsOut::default() };
        let mut fields = EventFields::default();
        loop {
            if out.len < self.0.max_events {
                let Some(is_object) = seq.next_element_seed(EventSeed(&mut fields))? else { break };
                out.push(out.len, is_object, &mut fields, self.0.max_string_bytes);
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            out.len += 1;
        }
        Ok(Events::Array(out))
    }
    fn visit_unit<E>(self) -> Result<Events, E> {
        Ok(Events::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Events, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Events::NotArray)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Events, E> {
        Ok(Events::NotArray)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Events, E> {
        Ok(Events::NotArray)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Events, E> {
        Ok(Events::NotArray)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Events, E> {
        Ok(Events::NotArray)
    }
    fn visit_str<E>(self, _: &str) -> Result<Events, E> {
        Ok(Events::NotArray)
    }
}

/// A present, non-null field.
fn present<'a>(v: Option<V<'a>>) -> Option<V<'a>> {
    v.filter(|v| *v != V::Null)
}

/// A field's JSON text, for messages.
fn text(v: V<'_>) -> String {
    v.into_value().to_string()
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
    // One pass over the body: the envelope's fields are kept as values
    // and the events validated as they are read.
    let mut de = serde_json::Deserializer::from_slice(body);
    let env = EnvelopeSeed(limits)
        .deserialize(&mut de)
        .and_then(|env| de.end().map(|()| env))
        .map_err(|e| Rejection::new(RejectReason::InvalidJson, e.to_string()))?;
    match present(env.v) {
        None => return Err(Rejection::new(RejectReason::MissingVersion, "`v` is required")),
        Some(V::U64(1)) => {}
        Some(v) => {
            return Err(Rejection::new(
                RejectReason::UnsupportedVersion,
                format!("`v` must be 1, got {}", text(v)),
            ))
        }
    }
    let sid = match present(env.sid) {
        None => return Err(Rejection::new(RejectReason::MissingSid, "`sid` is required")),
        Some(V::Str(s)) if valid_sid(&s) => s.into_owned(),
        Some(_) => {
            return Err(Rejection::new(
                RejectReason::BadSid,
                "`sid` must be 1 to 128 characters of [A-Za-z0-9_.:-]",
            ))
        }
    };
    let uid = match present(env.uid) {
        None => None,
        Some(V::Str(s)) if s.chars().count() <= MAX_UID_CHARS => Some(s.into_owned()),
        Some(_) => {
            return Err(Rejection::new(
                RejectReason::BadUid,
                "`uid` must be a string of at most 256 characters",
            ))
        }
    };
    let sent_at = match present(env.sent_at) {
        None => None,
        Some(v) => match v.as_i64() {
            Some(t) if (0..=MAX_TS).contains(&t) => Some(t),
            _ => {
                return Err(Rejection::new(
                    RejectReason::BadSentAt,
                    format!("`sent_at` must be an integer ms time, got {}", text(v)),
                ))
            }
        },
    };
    let sdk_dropped = match present(env.dropped) {
        None => 0,
        Some(V::U64(n)) => n,
        Some(v) => {
            return Err(Rejection::new(
                RejectReason::BadDropped,
                format!("`dropped` must be a non-negative integer, got {}", text(v)),
            ))
        }
    };
    let mut truncated = Vec::new();
    let ctx = match present(env.ctx) {
        None => None,
        Some(mut ctx @ V::Object(_)) => {
            let mut paths = Vec::new();
            ctx.truncate("ctx", limits.max_string_bytes, &mut paths);
            truncated.extend(paths.into_iter().map(|field| Truncated { index: None, field }));
            let V::Object(items) = ctx else { unreachable!("matched as an object") };
            Some(object_map(items))
        }
        Some(_) => return Err(Rejection::new(RejectReason::BadCtx, "`ctx` must be an object")),
    };
    let out = match env.events {
        None | Some(Events::Null) => {
            return Err(Rejection::new(RejectReason::MissingEvents, "`events` is required"))
        }
        Some(Events::Array(out)) => out,
        Some(Events::NotArray) => {
            return Err(Rejection::new(RejectReason::BadEvents, "`events` must be an array"))
        }
    };
    if out.len > limits.max_events {
        return Err(Rejection::new(
            RejectReason::TooManyEvents,
            format!("{} events, the limit is {}", out.len, limits.max_events),
        ));
    }
    truncated.extend(out.truncated);
    Ok(ParsedBatch {
        sid,
        uid,
        sent_at,
        sdk_dropped,
        ctx,
        events: out.events,
        dropped: out.dropped,
        truncated,
    })
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

/// A kind's builder's view of an event's fields.
struct Fields<'f, 'a> {
    f: &'f mut EventFields<'a>,
    seq: Option<u64>,
}

impl<'a> Fields<'_, 'a> {
    fn err(&self, reason: DropReason, field: &'static str) -> EventError {
        EventError { reason, seq: self.seq, field: Some(field) }
    }

    fn take(&mut self, k: K) -> Option<V<'a>> {
        self.f.take(k)
    }

    fn opt_str(&mut self, k: K) -> Result<Option<String>, EventError> {
        match self.take(k) {
            None | Some(V::Null) => Ok(None),
            Some(V::Str(s)) => Ok(Some(s.into_owned())),
            Some(_) => Err(self.err(DropReason::BadField, k.name())),
        }
    }

    fn str(&mut self, k: K) -> Result<String, EventError> {
        self.opt_str(k)?.ok_or_else(|| self.err(DropReason::MissingField, k.name()))
    }

    fn sel(&mut self) -> Result<String, EventError> {
        let s = self.str(K::Sel)?;
        if s.len() > MAX_SEL_BYTES {
            return Err(self.err(DropReason::FieldTooLong, "sel"));
        }
        Ok(s)
    }

    fn opt_num(&mut self, k: K) -> Result<Option<f64>, EventError> {
        match self.take(k) {
            None | Some(V::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                Some(f) if f.is_finite() => Ok(Some(f)),
                _ => Err(self.err(DropReason::BadField, k.name())),
            },
        }
    }

    fn num(&mut self, k: K) -> Result<f64, EventError> {
        self.opt_num(k)?.ok_or_else(|| self.err(DropReason::MissingField, k.name()))
    }

    /// A non-negative integer count or duration; durations may come as
    /// fractional ms from `performance.now()` and are rounded.
    fn opt_uint(&mut self, k: K, allow_fraction: bool) -> Result<Option<u64>, EventError> {
        match self.take(k) {
            None | Some(V::Null) => Ok(None),
            Some(V::U64(u)) => Ok(Some(u)),
            Some(V::F64(f)) if allow_fraction && (0.0..9.0e15).contains(&f) => Ok(Some(f.round() as u64)),
            Some(_) => Err(self.err(DropReason::BadField, k.name())),
        }
    }

    fn uint(&mut self, k: K, allow_fraction: bool) -> Result<u64, EventError> {
        self.opt_uint(k, allow_fraction)?.ok_or_else(|| self.err(DropReason::MissingField, k.name()))
    }

    fn element(&mut self) -> Result<Element, EventError> {
        let mut items = match self.take(K::El) {
            None => return Err(self.err(DropReason::MissingField, "el")),
            Some(V::Object(items)) => items,
            Some(_) => return Err(self.err(DropReason::BadField, "el")),
        };
        fn take<'a>(items: &mut Vec<(Cow<'a, str>, V<'a>)>, k: &str) -> Option<V<'a>> {
            let i = items.iter().position(|(n, _)| n == k)?;
            Some(items.remove(i).1)
        }
        let mut s = |k: &str, path: &'static str| match take(&mut items, k) {
            None | Some(V::Null) => Ok(None),
            Some(V::Str(s)) => Ok(Some(s.into_owned())),
            Some(_) => Err(self.err(DropReason::BadField, path)),
        };
        let lower = |mut t: String| {
            t.make_ascii_lowercase();
            t
        };
        let tag = s("tag", "el.tag")?.map(lower);
        let r#type = s("type", "el.type")?.map(lower);
        let href = s("href", "el.href")?;
        let target = s("target", "el.target")?;
        let mut flag = |k: &str, path: &'static str| match take(&mut items, k) {
            None | Some(V::Null) => Ok(false),
            Some(V::Bool(b)) => Ok(b),
            Some(_) => Err(self.err(DropReason::BadField, path)),
        };
        let download = flag("download", "el.download")?;
        let editable = flag("editable", "el.editable")?;
        let in_link = flag("in_link", "el.in_link")?;
        // What was left is unknown, passed on verbatim.
        let extra = (!items.is_empty()).then(|| Box::new(object_map(items)));
        Ok(Element { tag, r#type, href, target, download, editable, in_link, extra })
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
    let mut fields = EventFields::default();
    let mut de = serde_json::Deserializer::from_str(json);
    let is_object = EventSeed(&mut fields).deserialize(&mut de).and_then(|o| de.end().map(|()| o));
    let not_object = EventError { reason: DropReason::EventNotObject, seq: None, field: None };
    validate_fields(is_object.map_err(|_| not_object)?, &mut fields, max_string_bytes, truncated)
}

/// Validates one event object (strings already within their limits).
///
/// # Errors
///
/// The event's one [`EventError`] when it cannot be accepted.
pub fn parse_event(m: Map<String, Value>) -> Result<Event, EventError> {
    build_event(&mut from_map(m))
}

/// Truncates and validates one element of `events`, read into `fields`;
/// `is_object` is false for an element that is not an object.
fn validate_fields(
    is_object: bool,
    fields: &mut EventFields<'_>,
    max_string_bytes: usize,
    truncated: &mut Vec<String>,
) -> Result<Event, EventError> {
    if !is_object {
        return Err(EventError { reason: DropReason::EventNotObject, seq: None, field: None });
    }
    fields.truncate(max_string_bytes, truncated);
    build_event(fields)
}

/// Builds the event from its fields, taking what its kind knows; what is
/// left is passed on as unknown fields.
fn build_event(fields: &mut EventFields<'_>) -> Result<Event, EventError> {
    let mut f = Fields { f: fields, seq: None };
    let bare = |reason| EventError { reason, seq: None, field: None };
    let seq = match f.take(K::Seq) {
        None | Some(V::Null) => return Err(bare(DropReason::MissingSeq)),
        Some(v) => match v.as_u64() {
            Some(s) if (1..=MAX_SEQ).contains(&s) => s,
            _ => return Err(bare(DropReason::BadSeq)),
        },
    };
    f.seq = Some(seq);
    let with_seq = |reason| EventError { reason, seq: Some(seq), field: None };
    let t = match f.take(K::T) {
        None | Some(V::Null) => return Err(with_seq(DropReason::MissingKind)),
        Some(V::Str(t)) if !t.is_empty() => t,
        Some(_) => return Err(with_seq(DropReason::BadKind)),
    };
    let ts = match f.take(K::Ts) {
        None | Some(V::Null) => return Err(with_seq(DropReason::MissingTs)),
        Some(v) => match v.as_i64() {
            Some(ts) if (0..=MAX_TS).contains(&ts) => ts,
            _ => return Err(with_seq(DropReason::BadTs)),
        },
    };
    let unknown = !matches!(
        &*t,
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
    let url = if unknown { None } else { f.opt_str(K::Url)? };
    let body = match &*t {
        "nav" => {
            let nav = f.str(K::Nav)?;
            let nav = NavType::parse(&nav).ok_or_else(|| f.err(DropReason::BadField, "nav"))?;
            if url.is_none() {
                return Err(f.err(DropReason::MissingField, "url"));
            }
            Body::Nav { nav }
        }
        "click" => {
            let x = f.num(K::X)?;
            let y = f.num(K::Y)?;
            let sel = f.sel()?;
            let el = Box::new(f.element()?);
            let txt = f.opt_str(K::Txt)?;
            Body::Click { x, y, sel, el, txt }
        }
        "input" => Body::Input { sel: f.sel()? },
        "submit" => Body::Submit { sel: f.sel()? },
        "select" => Body::Select,
        "scroll" => {
            let y = f.num(K::Y)?;
            let vh = f.opt_num(K::Vh)?;
            Body::Scroll { y, vh }
        }
        "mutation" => Body::Mutation { n: f.uint(K::N, false)? },
        "move" => {
            let x = f.num(K::X)?;
            let y = f.num(K::Y)?;
            Body::Move { x, y }
        }
        "error" => {
            let msg = f.str(K::Msg)?;
            let src = f.opt_str(K::Src)?;
            let line = f.opt_uint(K::Line, false)?;
            let col = f.opt_uint(K::Col, false)?;
            let stack = f.opt_str(K::Stack)?;
            let kind = match f.str(K::Kind)?.as_str() {
                "error" => ErrorKind::Error,
                "rejection" => ErrorKind::Rejection,
                _ => return Err(f.err(DropReason::BadField, "kind")),
            };
            Body::Error(Box::new(JsError { msg, src, line, col, stack, kind }))
        }
        "net" => {
            let method = f.str(K::Method)?;
            let status = match f.uint(K::Status, false)? {
                s @ 0..=999 => s as u16,
                _ => return Err(f.err(DropReason::BadField, "status")),
            };
            let dur = f.uint(K::Dur, true)?;
            if url.is_none() {
                return Err(f.err(DropReason::MissingField, "url"));
            }
            if dur as i128 > ts as i128 {
                return Err(f.err(DropReason::BadField, "dur"));
            }
            Body::Net { method, status, dur }
        }
        "vis" => {
            let state = match f.str(K::State)?.as_str() {
                "hidden" => Visibility::Hidden,
                "visible" => Visibility::Visible,
                _ => return Err(f.err(DropReason::BadField, "state")),
            };
            Body::Vis { state }
        }
        "longtask" => Body::LongTask { dur: f.uint(K::Dur, true)? },
        "custom" => {
            let name = f.str(K::Name)?;
            let props = match f.take(K::Props) {
                None | Some(V::Null) => None,
                Some(p @ V::Object(_)) => Some(p.into_value()),
                Some(_) => return Err(f.err(DropReason::BadField, "props")),
            };
            Body::Custom { name, props }
        }
        _ => Body::Unknown { t: t.into_owned() },
    };
    Ok(Event { ts, seq, url, body, extra: f.f.take_extra() })
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
        let Body::Error(e) = &b.events[0].body else { panic!("not an error") };
        assert_eq!(e.msg.len(), 8192);
        assert!(e.msg.chars().all(|c| c == 'é'));
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

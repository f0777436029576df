//! A compact binary encoding of validated events, for log records.
//!
//! The processor reads every event the edge accepted; parsing JSON again
//! was most of its work. Events are written once here in a fixed layout
//! (little-endian integers, length-prefixed UTF-8 strings, a tag per kind)
//! and read back without a JSON parser. Unknown fields and unknown kinds
//! keep their JSON text, so nothing is lost. The encoding of an event is
//! deterministic, so it also serves as the event's identity digest input.

use serde_json::{Map, Value};

use crate::event::{Body, Element, ErrorKind, Event, JsError, NavType, Visibility};

const NAV: u8 = 0;
const CLICK: u8 = 1;
const INPUT: u8 = 2;
const SUBMIT: u8 = 3;
const SELECT: u8 = 4;
const SCROLL: u8 = 5;
const MUTATION: u8 = 6;
const MOVE: u8 = 7;
const ERROR: u8 = 8;
const NET: u8 = 9;
const VIS: u8 = 10;
const LONGTASK: u8 = 11;
const CUSTOM: u8 = 12;
const UNKNOWN: u8 = 255;

struct W<'a>(&'a mut Vec<u8>);

impl W<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
            None => self.u8(0),
        }
    }
    fn opt_f64(&mut self, v: Option<f64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.f64(v);
            }
            None => self.u8(0),
        }
    }
    fn opt_json(&mut self, v: Option<&Value>) {
        let text = v.map(|v| serde_json::to_string(v).expect("JSON values serialize"));
        self.opt_str(text.as_deref());
    }
    fn extra(&mut self, m: &Option<Box<Map<String, Value>>>) {
        let text = m.as_ref().map(|m| serde_json::to_string(m).expect("JSON maps serialize"));
        self.opt_str(text.as_deref());
    }
}

/// Appends the binary form of `ev` to `out`.
pub fn encode_event(ev: &Event, out: &mut Vec<u8>) {
    let mut w = W(out);
    let tag = match &ev.body {
        Body::Nav { .. } => NAV,
        Body::Click { .. } => CLICK,
        Body::Input { .. } => INPUT,
        Body::Submit { .. } => SUBMIT,
        Body::Select => SELECT,
        Body::Scroll { .. } => SCROLL,
        Body::Mutation { .. } => MUTATION,
        Body::Move { .. } => MOVE,
        Body::Error(_) => ERROR,
        Body::Net { .. } => NET,
        Body::Vis { .. } => VIS,
        Body::LongTask { .. } => LONGTASK,
        Body::Custom { .. } => CUSTOM,
        Body::Unknown { .. } => UNKNOWN,
    };
    w.u8(tag);
    w.i64(ev.ts);
    w.u64(ev.seq);
    w.opt_str(ev.url.as_deref());
    match &ev.body {
        Body::Nav { nav } => w.u8(*nav as u8),
        Body::Click { x, y, sel, el, txt } => {
            w.f64(*x);
            w.f64(*y);
            w.str(sel);
            w.opt_str(el.tag.as_deref());
            w.opt_str(el.r#type.as_deref());
            w.opt_str(el.href.as_deref());
            w.opt_str(el.target.as_deref());
            w.u8(u8::from(el.download) | u8::from(el.editable) << 1 | u8::from(el.in_link) << 2);
            w.extra(&el.extra);
            w.opt_str(txt.as_deref());
        }
        Body::Input { sel } | Body::Submit { sel } => w.str(sel),
        Body::Select => {}
        Body::Scroll { y, vh } => {
            w.f64(*y);
            w.opt_f64(*vh);
        }
        Body::Mutation { n } => w.u64(*n),
        Body::Move { x, y } => {
            w.f64(*x);
            w.f64(*y);
        }
        Body::Error(e) => {
            let JsError { msg, src, line, col, stack, kind } = &**e;
            w.str(msg);
            w.opt_str(src.as_deref());
            w.opt_u64(*line);
            w.opt_u64(*col);
            w.opt_str(stack.as_deref());
            w.u8(matches!(kind, ErrorKind::Rejection) as u8);
        }
        Body::Net { method, status, dur } => {
            w.str(method);
            w.u64(u64::from(*status));
            w.u64(*dur);
        }
        Body::Vis { state } => w.u8(matches!(state, Visibility::Hidden) as u8),
        Body::LongTask { dur } => w.u64(*dur),
        Body::Custom { name, props } => {
            w.str(name);
            w.opt_json(props.as_ref());
        }
        Body::Unknown { t } => w.str(t),
    }
    w.extra(&ev.extra);
}

/// Why bytes are not an encoded event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad binary event: {0}")]
pub struct BinaryError(pub &'static str);

struct R<'a>(&'a [u8]);

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BinaryError> {
        if self.0.len() < n {
            return Err(BinaryError("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, BinaryError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, BinaryError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("four bytes")))
    }
    fn u64(&mut self) -> Result<u64, BinaryError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("eight bytes")))
    }
    fn i64(&mut self) -> Result<i64, BinaryError> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("eight bytes")))
    }
    fn f64(&mut self) -> Result<f64, BinaryError> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().expect("eight bytes")))
    }
    fn str(&mut self) -> Result<String, BinaryError> {
        let n = self.u32()? as usize;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| BinaryError("invalid UTF-8"))
    }
    fn flag(&mut self) -> Result<bool, BinaryError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(BinaryError("bad option flag")),
        }
    }
    fn opt_str(&mut self) -> Result<Option<String>, BinaryError> {
        if self.flag()? {
            self.str().map(Some)
        } else {
            Ok(None)
        }
    }
    fn opt_u64(&mut self) -> Result<Option<u64>, BinaryError> {
        if self.flag()? {
            self.u64().map(Some)
        } else {
            Ok(None)
        }
    }
    fn opt_f64(&mut self) -> Result<Option<f64>, BinaryError> {
        if self.flag()? {
            self.f64().map(Some)
        } else {
            Ok(None)
        }
    }
    fn opt_json(&mut self) -> Result<Option<Value>, BinaryError> {
        match self.opt_str()? {
            Some(t) => serde_json::from_str(&t).map(Some).map_err(|_| BinaryError("bad JSON")),
            None => Ok(None),
        }
    }
    fn extra(&mut self) -> Result<Option<Box<Map<String, Value>>>, BinaryError> {
        match self.opt_json()? {
            Some(Value::Object(m)) => Ok(Some(Box::new(m))),
            Some(_) => Err(BinaryError("extra fields are not an object")),
            None => Ok(None),
        }
    }
}

/// Reads one event written by [`encode_event`]; `bytes` must hold exactly it.
///
/// # Errors
///
/// [`BinaryError`] for bytes that are not exactly one encoded event.
pub fn decode_event(bytes: &[u8]) -> Result<Event, BinaryError> {
    let mut r = R(bytes);
    let tag = r.u8()?;
    let ts = r.i64()?;
    let seq = r.u64()?;
    let url = r.opt_str()?;
    let body = match tag {
        NAV => {
            let nav = match r.u8()? {
                0 => NavType::Load,
                1 => NavType::Push,
                2 => NavType::Replace,
                3 => NavType::Pop,
                4 => NavType::Hash,
                5 => NavType::Reload,
                _ => return Err(BinaryError("bad nav type")),
            };
            Body::Nav { nav }
        }
        CLICK => {
            let x = r.f64()?;
            let y = r.f64()?;
            let sel = r.str()?;
            let tag = r.opt_str()?;
            let r#type = r.opt_str()?;
            let href = r.opt_str()?;
            let target = r.opt_str()?;
            let flags = r.u8()?;
            let extra = r.extra()?;
            let el = Element {
                tag,
                r#type,
                href,
                target,
                download: flags & 1 != 0,
                editable: flags & 2 != 0,
                in_link: flags & 4 != 0,
                extra,
            };
            let txt = r.opt_str()?;
            Body::Click { x, y, sel, el: Box::new(el), txt }
        }
        INPUT => Body::Input { sel: r.str()? },
        SUBMIT => Body::Submit { sel: r.str()? },
        SELECT => Body::Select,
        SCROLL => {
            let y = r.f64()?;
            let vh = r.opt_f64()?;
            Body::Scroll { y, vh }
        }
        MUTATION => Body::Mutation { n: r.u64()? },
        MOVE => {
            let x = r.f64()?;
            let y = r.f64()?;
            Body::Move { x, y }
        }
        ERROR => {
            let msg = r.str()?;
            let src = r.opt_str()?;
            let line = r.opt_u64()?;
            let col = r.opt_u64()?;
            let stack = r.opt_str()?;
            let kind = if r.flag()? { ErrorKind::Rejection } else { ErrorKind::Error };
            Body::Error(Box::new(JsError { msg, src, line, col, stack, kind }))
        }
        NET => {
            let method = r.str()?;
            let status = u16::try_from(r.u64()?).map_err(|_| BinaryError("bad status"))?;
            let dur = r.u64()?;
            Body::Net { method, status, dur }
        }
        VIS => Body::Vis { state: if r.flag()? { Visibility::Hidden } else { Visibility::Visible } },
        LONGTASK => Body::LongTask { dur: r.u64()? },
        CUSTOM => {
            let name = r.str()?;
            let props = r.opt_json()?;
            Body::Custom { name, props }
        }
        UNKNOWN => Body::Unknown { t: r.str()? },
        _ => return Err(BinaryError("unknown kind tag")),
    };
    let extra = r.extra()?;
    if !r.0.is_empty() {
        return Err(BinaryError("trailing bytes"));
    }
    Ok(Event { ts, seq, url, body, extra })
}

/// Appends a list of events: a `u32` count, then each event's binary form
/// prefixed with its `u32` length. Log records and snapshots both hold
/// events this way.
pub fn encode_event_list<'a>(events: impl ExactSizeIterator<Item = &'a Event>, out: &mut Vec<u8>) {
    out.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for ev in events {
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        encode_event(ev, out);
        let len = (out.len() - at - 4) as u32;
        out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }
}

/// Splits the start of `bytes`, a list written by [`encode_event_list`],
/// into each event's bytes; returns them and what follows the list.
///
/// # Errors
///
/// [`BinaryError`] when the list is cut short.
pub fn split_event_list(bytes: &[u8]) -> Result<(Vec<&[u8]>, &[u8]), BinaryError> {
    let mut r = R(bytes);
    let count = r.u32()? as usize;
    // Each event takes at least its length prefix: a corrupt count cannot
    // make this allocate more than the bytes could hold.
    let mut events = Vec::with_capacity(count.min(bytes.len() / 4));
    for _ in 0..count {
        let n = r.u32()? as usize;
        events.push(r.take(n)?);
    }
    Ok((events, r.0))
}

/// A serde adapter that keeps events in their binary form (a byte string
/// holding a length-prefixed list of binary events), for state snapshots:
/// `#[serde(with = "ufse_schema::event_list")]` on a `Vec<Event>`.
/// Compact binary serde formats cannot carry the JSON-shaped [`Event`].
pub mod event_list {
    use std::fmt;

    use serde::de::{Error, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    use super::{decode_event, encode_event_list, split_event_list};
    use crate::event::Event;

    /// Serializes `events` (a `Vec`, a `VecDeque`, ...) as one byte string.
    pub fn serialize<'a, C, S>(events: &'a C, s: S) -> Result<S::Ok, S::Error>
    where
        &'a C: IntoIterator<Item = &'a Event, IntoIter: ExactSizeIterator>,
        S: Serializer,
    {
        let events = events.into_iter();
        let mut out = Vec::with_capacity(4 + events.len() * 96);
        encode_event_list(events, &mut out);
        s.serialize_bytes(&out)
    }

    /// Reads what [`serialize`] wrote.
    pub fn deserialize<'de, C, D>(d: D) -> Result<C, D::Error>
    where
        C: FromIterator<Event>,
        D: Deserializer<'de>,
    {
        struct List;
        impl List {
            fn decode<E: Error>(bytes: &[u8]) -> Result<Vec<Event>, E> {
                let (events, rest) = split_event_list(bytes).map_err(E::custom)?;
                if !rest.is_empty() {
                    return Err(E::custom("trailing bytes after the event list"));
                }
                events.into_iter().map(|ev| decode_event(ev).map_err(E::custom)).collect()
            }
        }
        impl<'de> Visitor<'de> for List {
            type Value = Vec<Event>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a binary event list")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<Event>, E> {
                Self::decode(v)
            }
            // Self-describing formats such as JSON write bytes as an array.
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Event>, A::Error> {
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                Self::decode(&bytes)
            }
        }
        d.deserialize_bytes(List).map(C::from_iter)
    }
}

impl Event {
    /// The binary form (see [`encode_event`]): what log records hold, and
    /// what tells a duplicate from a conflicting copy.
    pub fn to_binary(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        encode_event(self, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{parse_batch, Limits};

    #[test]
    fn every_kind_round_trips_with_unknown_fields() {
        let body = br#"{"v":1,"sid":"s","events":[
            {"t":"nav","ts":1,"seq":1,"url":"https://a/","nav":"pop","zz":{"a":[1,2]}},
            {"t":"click","ts":2,"seq":2,"x":1.5,"y":-2,"sel":"b#x","el":{"tag":"A","type":"Submit","href":"/h","target":"_blank","download":true,"editable":false,"in_link":true,"shape":"o"},"txt":"Go"},
            {"t":"click","ts":2,"seq":3,"x":0,"y":0,"sel":"b","el":{}},
            {"t":"input","ts":3,"seq":4,"sel":"input#q"},
            {"t":"submit","ts":3,"seq":5,"sel":"form"},
            {"t":"select","ts":3,"seq":6},
            {"t":"scroll","ts":4,"seq":7,"y":900,"vh":700},
            {"t":"scroll","ts":4,"seq":8,"y":0},
            {"t":"mutation","ts":5,"seq":9,"n":3},
            {"t":"move","ts":5,"seq":10,"x":1,"y":2},
            {"t":"error","ts":6,"seq":11,"msg":"boom","src":"a.js","line":3,"col":4,"stack":"s","kind":"rejection"},
            {"t":"error","ts":6,"seq":12,"msg":"\u00e9","kind":"error"},
            {"t":"net","ts":9,"seq":13,"method":"POST","url":"https://api/x","status":503,"dur":7},
            {"t":"vis","ts":9,"seq":14,"state":"hidden"},
            {"t":"vis","ts":9,"seq":15,"state":"visible"},
            {"t":"longtask","ts":9,"seq":16,"dur":120},
            {"t":"custom","ts":9,"seq":17,"name":"n","props":{"k":"v"}},
            {"t":"custom","ts":9,"seq":18,"name":"n"},
            {"t":"from_the_future","ts":9,"seq":19,"url":"u","x":{"y":1}}
        ]}"#;
        let parsed = parse_batch(body, &Limits::default()).unwrap();
        assert!(parsed.dropped.is_empty(), "{:?}", parsed.dropped);
        for ev in &parsed.events {
            let bytes = ev.to_binary();
            assert_eq!(decode_event(&bytes).unwrap(), *ev, "seq {}", ev.seq);
            assert_eq!(ev.to_binary(), bytes, "deterministic");
        }
    }

    #[test]
    fn event_lists_round_trip_and_refuse_damage() {
        let body = br#"{"v":1,"sid":"s","events":[
            {"t":"click","ts":2,"seq":2,"x":1,"y":2,"sel":"b","el":{"tag":"a"},"txt":"Go"},
            {"t":"nav","ts":3,"seq":3,"url":"https://a/"}]}"#;
        let events = parse_batch(body, &Limits::default()).unwrap().events;
        let mut bytes = Vec::new();
        encode_event_list(events.iter(), &mut bytes);
        bytes.extend_from_slice(b"tail");
        let (raw, rest) = split_event_list(&bytes).unwrap();
        assert_eq!(rest, b"tail");
        let back: Vec<Event> = raw.iter().map(|r| decode_event(r).unwrap()).collect();
        assert_eq!(back, events);
        let end = bytes.len() - 4;
        for n in 0..end {
            assert!(split_event_list(&bytes[..n]).is_err(), "prefix of {n} bytes");
        }

        // Through serde (JSON writes the byte string as an array).
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Held(#[serde(with = "event_list")] Vec<Event>);
        let json = serde_json::to_string(&Held(events.clone())).unwrap();
        assert_eq!(serde_json::from_str::<Held>(&json).unwrap().0, events);
        let cut = serde_json::to_string(&bytes[..end - 1]).unwrap();
        assert!(serde_json::from_str::<Held>(&cut).is_err());
    }

    #[test]
    fn damaged_bytes_are_errors_not_panics() {
        let body = br#"{"v":1,"sid":"s","events":[{"t":"click","ts":2,"seq":2,"x":1,"y":2,"sel":"b","el":{"tag":"a"},"txt":"Go"}]}"#;
        let bytes = parse_batch(body, &Limits::default()).unwrap().events[0].to_binary();
        for n in 0..bytes.len() {
            assert!(decode_event(&bytes[..n]).is_err(), "prefix of {n} bytes");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode_event(&long), Err(BinaryError("trailing bytes")));
        let mut bad = bytes;
        bad[0] = 77;
        assert_eq!(decode_event(&bad), Err(BinaryError("unknown kind tag")));
    }
}

//! One event's fields, read straight from its JSON text.
//!
//! The edge and the processor read every event of every batch, so this is
//! the hottest code in UFSE. Instead of building a `serde_json::Value` map
//! per event and picking fields out of it, the fields are collected once
//! as a short list of lightly typed values — strings borrowed from the
//! input where they need no unescaping — and the kind's builder takes what
//! it knows; whatever is left is an unknown field, kept verbatim.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A field value: scalars typed, strings borrowed when possible, objects
/// as their fields in order (so `el` needs no map either).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
    Array(Vec<V<'a>>),
    Object(Vec<(Cow<'a, str>, V<'a>)>),
}

impl V<'_> {
    pub fn into_value(self) -> Value {
        match self {
            V::Null => Value::Null,
            V::Bool(b) => Value::Bool(b),
            V::U64(u) => Value::from(u),
            V::I64(i) => Value::from(i),
            V::F64(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            V::Str(s) => Value::String(s.into_owned()),
            V::Array(a) => Value::Array(a.into_iter().map(V::into_value).collect()),
            V::Object(o) => {
                Value::Object(o.into_iter().map(|(k, v)| (k.into_owned(), v.into_value())).collect())
            }
        }
    }

    /// Truncates every string under `self` longer than `max` bytes,
    /// pushing the dotted path of each.
    pub fn truncate(&mut self, path: &str, max: usize, out: &mut Vec<String>) {
        match self {
            V::Str(s) if s.len() > max => {
                let mut owned = std::mem::take(s).into_owned();
                crate::validate::truncate_utf8(&mut owned, max);
                *s = Cow::Owned(owned);
                out.push(path.to_owned());
            }
            V::Array(a) => {
                for (i, v) in a.iter_mut().enumerate() {
                    v.truncate(&format!("{path}[{i}]"), max, out);
                }
            }
            V::Object(o) => {
                for (k, v) in o.iter_mut() {
                    v.truncate(&format!("{path}.{k}"), max, out);
                }
            }
            _ => {}
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            V::U64(u) => Some(u),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            V::U64(u) => i64::try_from(u).ok(),
            V::I64(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            V::U64(u) => Some(u as f64),
            V::I64(i) => Some(i as f64),
            V::F64(f) => Some(f),
            _ => None,
        }
    }
}

struct VVisitor;

impl<'de> Visitor<'de> for VVisitor {
    type Value = V<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<V<'de>, E> {
        Ok(V::Null)
    }
    fn visit_none<E>(self) -> Result<V<'de>, E> {
        Ok(V::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<V<'de>, E> {
        Ok(V::Bool(b))
    }
    fn visit_u64<E>(self, u: u64) -> Result<V<'de>, E> {
        Ok(V::U64(u))
    }
    fn visit_i64<E>(self, i: i64) -> Result<V<'de>, E> {
        Ok(V::I64(i))
    }
    fn visit_f64<E>(self, f: f64) -> Result<V<'de>, E> {
        Ok(V::F64(f))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<V<'de>, E> {
        Ok(V::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<V<'de>, E> {
        Ok(V::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<V<'de>, E> {
        Ok(V::Str(Cow::Owned(s)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V<'de>, A::Error> {
        let mut items: Vec<(Cow<'de, str>, V<'de>)> = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            let v: V<'de> = map.next_value()?;
            // A repeated key: the last one wins, as in any JSON object reader.
            if let Some(i) = items.iter().position(|(n, _)| *n == k) {
                items.remove(i);
            }
            items.push((k, v));
        }
        Ok(V::Object(items))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(v) = seq.next_element::<V<'de>>()? {
            items.push(v);
        }
        Ok(V::Array(items))
    }
}

impl<'de> Deserialize<'de> for V<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(VVisitor)
    }
}

/// An event object's fields in input order; `None` when the JSON value is
/// not an object.
#[derive(Debug, Default)]
pub(crate) struct RawFields<'a>(pub Option<Vec<(Cow<'a, str>, V<'a>)>>);

impl<'de> Deserialize<'de> for RawFields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RawFields(match V::deserialize(d)? {
            V::Object(items) => Some(items),
            _ => None,
        }))
    }
}

/// Converts an already-parsed object (tests, compatibility) to fields.
pub(crate) fn from_map(m: Map<String, Value>) -> Vec<(Cow<'static, str>, V<'static>)> {
    m.into_iter().map(|(k, v)| (Cow::Owned(k), from_value(v))).collect()
}

fn from_value(v: Value) -> V<'static> {
    match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Bool(b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                V::U64(u)
            } else if let Some(i) = n.as_i64() {
                V::I64(i)
            } else {
                V::F64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => V::Str(Cow::Owned(s)),
        Value::Array(a) => V::Array(a.into_iter().map(from_value).collect()),
        Value::Object(m) => V::Object(from_map(m)),
    }
}

//! One event's fields, read straight from its JSON text.
//!
//! The edge reads every event of every batch, so this is the hottest code
//! in UFSE. Instead of building a `serde_json::Value` map per event and
//! picking fields out of it, each event's fields are sorted, as they are
//! parsed, into one slot per field name some kind knows ([`K`]) plus a
//! short list of the others: lightly typed values, strings borrowed from
//! the input where they need no unescaping. The kind's builder takes what
//! it knows from its slots; whatever is left is an unknown field, kept
//! verbatim. One set of slots is reused for all the events of a batch.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
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
            V::Object(o) => Value::Object(object_map(o)),
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
                for (i, v) in a.iter_mut().enumerate().filter(|(_, v)| v.is_over(max)) {
                    v.truncate(&format!("{path}[{i}]"), max, out);
                }
            }
            V::Object(o) => {
                for (k, v) in o.iter_mut().filter(|(_, v)| v.is_over(max)) {
                    v.truncate(&format!("{path}.{k}"), max, out);
                }
            }
            _ => {}
        }
    }

    /// Whether some string under `self` is longer than `max` bytes.
    fn is_over(&self, max: usize) -> bool {
        match self {
            V::Str(s) => s.len() > max,
            V::Array(a) => a.iter().any(|v| v.is_over(max)),
            V::Object(o) => o.iter().any(|(_, v)| v.is_over(max)),
            _ => false,
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

/// An object's fields as a JSON map.
pub(crate) fn object_map(items: Vec<(Cow<'_, str>, V<'_>)>) -> Map<String, Value> {
    items.into_iter().map(|(k, v)| (k.into_owned(), v.into_value())).collect()
}

/// Adds a field to an object's list: a repeated key replaces the earlier
/// one (the last one wins, as in any JSON object reader).
fn put_last<'a>(items: &mut Vec<(Cow<'a, str>, V<'a>)>, k: Cow<'a, str>, v: V<'a>) {
    if let Some(i) = items.iter().position(|(n, _)| *n == k) {
        items.remove(i);
    }
    items.push((k, v));
}

/// An object key, borrowed from the input unless it had escapes (serde's
/// own `Cow<str>` always copies).
pub(crate) struct Key<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis;
        impl<'de> Visitor<'de> for Vis {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(Vis)
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
        while let Some(Key(k)) = map.next_key()? {
            put_last(&mut items, k, map.next_value()?);
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

/// Every field name some known kind reads, in one list: an event's fields
/// are sorted into a fixed slot per name while they are parsed, so a
/// kind's builder finds each in one step, whatever order they came in.
macro_rules! keys {
    ($($k:ident = $name:literal,)*) => {
        /// A known event field.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub(crate) enum K { $($k,)* }

        /// Field names, indexed by [`K`].
        pub(crate) const KEYS: &[&str] = &[$($name,)*];

        impl K {
            fn of(name: &str) -> Option<K> {
                Some(match name { $($name => K::$k,)* _ => return None })
            }

            /// The wire name.
            pub fn name(self) -> &'static str {
                KEYS[self as usize]
            }
        }
    };
}

keys! {
    T = "t", Ts = "ts", Seq = "seq", Url = "url", Nav = "nav", X = "x", Y = "y", Sel = "sel",
    El = "el", Txt = "txt", Vh = "vh", N = "n", Msg = "msg", Src = "src", Line = "line",
    Col = "col", Stack = "stack", Kind = "kind", Method = "method", Status = "status",
    Dur = "dur", State = "state", Name = "name", Props = "props",
}

const N_KEYS: usize = KEYS.len();

/// One event object's fields: the known ones in their slots, the others
/// in input order. One is reused for every event of a batch.
#[derive(Debug, Default)]
pub(crate) struct EventFields<'a> {
    known: [Option<V<'a>>; N_KEYS],
    /// Bit `k` is set when `known[k]` holds a value, so clearing and
    /// collecting the leftovers visit only the fields an event had.
    filled: u32,
    rest: Vec<(Cow<'a, str>, V<'a>)>,
}

const _: () = assert!(N_KEYS <= 32, "`filled` has one bit per known key");

impl<'a> EventFields<'a> {
    /// Indexes of the filled slots.
    fn filled(&self) -> impl Iterator<Item = usize> {
        let mut bits = self.filled;
        std::iter::from_fn(move || {
            let i = bits.trailing_zeros() as usize;
            (bits != 0).then(|| {
                bits &= bits - 1;
                i
            })
        })
    }

    fn clear(&mut self) {
        for i in self.filled() {
            self.known[i] = None;
        }
        self.filled = 0;
        self.rest.clear();
    }

    fn set(&mut self, name: Cow<'a, str>, v: V<'a>) {
        match K::of(&name) {
            Some(k) => {
                self.known[k as usize] = Some(v);
                self.filled |= 1 << k as u32;
            }
            None => put_last(&mut self.rest, name, v),
        }
    }

    /// Takes a known field out.
    pub fn take(&mut self, k: K) -> Option<V<'a>> {
        self.filled &= !(1 << k as u32);
        self.known[k as usize].take()
    }

    /// Truncates every string longer than `max` bytes, pushing the dotted
    /// path of each.
    pub fn truncate(&mut self, max: usize, out: &mut Vec<String>) {
        for i in self.filled() {
            if let Some(v) = self.known[i].as_mut().filter(|v| v.is_over(max)) {
                v.truncate(KEYS[i], max, out);
            }
        }
        for (k, v) in self.rest.iter_mut().filter(|(_, v)| v.is_over(max)) {
            v.truncate(k, max, out);
        }
    }

    /// Takes what no builder took: unknown fields, passed on verbatim.
    /// Leaves the fields empty.
    pub fn take_extra(&mut self) -> Option<Box<Map<String, Value>>> {
        if self.filled == 0 && self.rest.is_empty() {
            return None;
        }
        let mut extra = Map::new();
        for i in self.filled() {
            if let Some(v) = self.known[i].take() {
                extra.insert(KEYS[i].to_owned(), v.into_value());
            }
        }
        self.filled = 0;
        extra.append(&mut object_map(std::mem::take(&mut self.rest)));
        Some(Box::new(extra))
    }
}

/// Reads one element of a batch's `events` into reused [`EventFields`];
/// its value is whether the element was an object.
pub(crate) struct EventSeed<'f, 'a>(pub &'f mut EventFields<'a>);

impl<'de> DeserializeSeed<'de> for EventSeed<'_, 'de> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        self.0.clear();
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_, 'de> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while let Some(Key(k)) = map.next_key()? {
            self.0.set(k, map.next_value()?);
        }
        Ok(true)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
}

/// Sorts an already-parsed object (tests, stored events) into fields.
pub(crate) fn from_map(m: Map<String, Value>) -> EventFields<'static> {
    let mut fields = EventFields::default();
    for (k, v) in m {
        fields.set(Cow::Owned(k), from_value(v));
    }
    fields
}

/// Converts a parsed value to a field value.
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
        Value::Object(m) => V::Object(m.into_iter().map(|(k, v)| (Cow::Owned(k), from_value(v))).collect()),
    }
}

//! Validated events: the typed form of one entry of a batch's `events`.
//!
//! Known fields are typed; unknown fields (and all fields of unknown kinds)
//! are kept verbatim in `extra` and written back out, so newer SDKs can send
//! data older servers pass on untouched.

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// How a page view or route change happened (`nav` events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NavType {
    /// First load of a document.
    Load,
    /// `history.pushState`.
    Push,
    /// `history.replaceState`.
    Replace,
    /// Back or forward.
    Pop,
    /// A fragment-only change.
    Hash,
    /// A reload.
    Reload,
}

impl NavType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NavType::Load => "load",
            NavType::Push => "push",
            NavType::Replace => "replace",
            NavType::Pop => "pop",
            NavType::Hash => "hash",
            NavType::Reload => "reload",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "load" => NavType::Load,
            "push" => NavType::Push,
            "replace" => NavType::Replace,
            "pop" => NavType::Pop,
            "hash" => NavType::Hash,
            "reload" => NavType::Reload,
            _ => return None,
        })
    }
}

/// Uncaught error or unhandled promise rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `window.onerror`.
    Error,
    /// `unhandledrejection`.
    Rejection,
}

/// Page visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// The page went to the background.
    Hidden,
    /// The page came back.
    Visible,
}

/// What the SDK observed about a clicked element.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    /// Lower-case tag name.
    pub tag: Option<String>,
    /// Lower-case `type` attribute.
    pub r#type: Option<String>,
    /// `href` attribute.
    pub href: Option<String>,
    /// `target` attribute.
    pub target: Option<String>,
    /// Has a `download` attribute.
    pub download: bool,
    /// Inherited contenteditable.
    pub editable: bool,
    /// Has an `a[href]` ancestor.
    pub in_link: bool,
    /// Unknown fields of `el`, passed on.
    pub extra: Option<Box<Map<String, Value>>>,
}

/// Input types on which a click is the start of typing, not a request for action.
const TEXT_INPUT_TYPES: &[&str] = &[
    "text",
    "email",
    "password",
    "search",
    "tel",
    "url",
    "number",
    "date",
    "datetime-local",
    "month",
    "time",
    "week",
];

impl Element {
    /// Text-like inputs, textareas, selects and contenteditable elements:
    /// clicking them is how one starts typing or choosing, so frustration
    /// rules leave them alone.
    pub fn is_text_like(&self) -> bool {
        if self.editable {
            return true;
        }
        match self.tag.as_deref() {
            Some("textarea") | Some("select") => true,
            // An input without a type is a text input.
            Some("input") => self.r#type.as_deref().is_none_or(|t| TEXT_INPUT_TYPES.contains(&t)),
            _ => false,
        }
    }

    /// A link whose click leaves the page in a way the page cannot react
    /// to: another browsing context (`target` other than `_self`) or a download.
    pub fn navigates_away(&self) -> bool {
        if self.download {
            return true;
        }
        self.href.is_some() && self.target.as_deref().is_some_and(|t| t != "_self" && !t.is_empty())
    }
}

/// An uncaught error or unhandled rejection (`error` events).
#[derive(Debug, Clone, PartialEq)]
pub struct JsError {
    /// Message.
    pub msg: String,
    /// Script URL.
    pub src: Option<String>,
    /// Line.
    pub line: Option<u64>,
    /// Column.
    pub col: Option<u64>,
    /// Stack trace.
    pub stack: Option<String>,
    /// Error or rejection.
    pub kind: ErrorKind,
}

/// The kind-specific part of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Page view or route change; the page is the event's `url`.
    Nav {
        /// How it happened.
        nav: NavType,
    },
    /// A pointer click.
    Click {
        /// Viewport x in CSS px.
        x: f64,
        /// Viewport y in CSS px.
        y: f64,
        /// CSS path of at most 5 levels.
        sel: String,
        /// The clicked element (boxed: it is the largest part of a click,
        /// and every event would otherwise be as large as a click).
        el: Box<Element>,
        /// Short label.
        txt: Option<String>,
    },
    /// User typed or changed a field.
    Input {
        /// The field.
        sel: String,
    },
    /// A form was submitted.
    Submit {
        /// The form.
        sel: String,
    },
    /// Text selection changed.
    Select,
    /// Scroll position.
    Scroll {
        /// Vertical offset in px.
        y: f64,
        /// Viewport height in px.
        vh: Option<f64>,
    },
    /// A coalesced group of DOM mutations.
    Mutation {
        /// How many.
        n: u64,
    },
    /// Pointer position sample.
    Move {
        /// x in px.
        x: f64,
        /// y in px.
        y: f64,
    },
    /// Uncaught JS error (boxed: it is the largest body, and rare).
    Error(Box<JsError>),
    /// A fetch/XHR that finished at `ts`; the request's URL is the event's `url`.
    Net {
        /// HTTP method.
        method: String,
        /// HTTP status, 0 when the request failed.
        status: u16,
        /// Duration in ms; the request started at `ts - dur`.
        dur: u64,
    },
    /// Page visibility changed.
    Vis {
        /// New state.
        state: Visibility,
    },
    /// Main thread blocked from `ts` for `dur` ms.
    LongTask {
        /// Duration in ms.
        dur: u64,
    },
    /// App-defined.
    Custom {
        /// Event name.
        name: String,
        /// Properties.
        props: Option<Value>,
    },
    /// A kind this server does not know; all its fields are in `extra`.
    Unknown {
        /// The kind as sent.
        t: String,
    },
}

impl Body {
    /// The wire name of the kind (`t`).
    pub fn kind(&self) -> &str {
        match self {
            Body::Nav { .. } => "nav",
            Body::Click { .. } => "click",
            Body::Input { .. } => "input",
            Body::Submit { .. } => "submit",
            Body::Select => "select",
            Body::Scroll { .. } => "scroll",
            Body::Mutation { .. } => "mutation",
            Body::Move { .. } => "move",
            Body::Error(_) => "error",
            Body::Net { .. } => "net",
            Body::Vis { .. } => "vis",
            Body::LongTask { .. } => "longtask",
            Body::Custom { .. } => "custom",
            Body::Unknown { t } => t,
        }
    }
}

/// One validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Client time, ms since the epoch.
    pub ts: i64,
    /// Per-session counter from 1; with `(project, sid)`, the event's identity.
    pub seq: u64,
    /// The page (or, for `net`, the request) URL, if the event carries one.
    pub url: Option<String>,
    /// Kind-specific fields.
    pub body: Body,
    /// Unknown fields, passed on verbatim.
    pub extra: Option<Box<Map<String, Value>>>,
}

impl Event {
    /// The wire name of the kind.
    pub fn kind(&self) -> &str {
        self.body.kind()
    }
}

fn put_opt<M: SerializeMap, T: Serialize>(m: &mut M, k: &str, v: &Option<T>) -> Result<(), M::Error> {
    match v {
        Some(v) => m.serialize_entry(k, v),
        None => Ok(()),
    }
}

fn put_extra<M: SerializeMap>(m: &mut M, extra: &Option<Box<Map<String, Value>>>) -> Result<(), M::Error> {
    if let Some(extra) = extra {
        for (k, v) in extra.iter() {
            m.serialize_entry(k, v)?;
        }
    }
    Ok(())
}

impl Serialize for Element {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        put_opt(&mut m, "tag", &self.tag)?;
        put_opt(&mut m, "type", &self.r#type)?;
        put_opt(&mut m, "href", &self.href)?;
        put_opt(&mut m, "target", &self.target)?;
        if self.download {
            m.serialize_entry("download", &true)?;
        }
        if self.editable {
            m.serialize_entry("editable", &true)?;
        }
        if self.in_link {
            m.serialize_entry("in_link", &true)?;
        }
        put_extra(&mut m, &self.extra)?;
        m.end()
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("t", self.kind())?;
        m.serialize_entry("ts", &self.ts)?;
        m.serialize_entry("seq", &self.seq)?;
        put_opt(&mut m, "url", &self.url)?;
        match &self.body {
            Body::Nav { nav } => m.serialize_entry("nav", nav.as_str())?,
            Body::Click { x, y, sel, el, txt } => {
                m.serialize_entry("x", x)?;
                m.serialize_entry("y", y)?;
                m.serialize_entry("sel", sel)?;
                m.serialize_entry("el", el)?;
                put_opt(&mut m, "txt", txt)?;
            }
            Body::Input { sel } | Body::Submit { sel } => m.serialize_entry("sel", sel)?,
            Body::Select | Body::Unknown { .. } => {}
            Body::Scroll { y, vh } => {
                m.serialize_entry("y", y)?;
                put_opt(&mut m, "vh", vh)?;
            }
            Body::Mutation { n } => m.serialize_entry("n", n)?,
            Body::Move { x, y } => {
                m.serialize_entry("x", x)?;
                m.serialize_entry("y", y)?;
            }
            Body::Error(e) => {
                let JsError { msg, src, line, col, stack, kind } = &**e;
                m.serialize_entry("msg", msg)?;
                put_opt(&mut m, "src", src)?;
                put_opt(&mut m, "line", line)?;
                put_opt(&mut m, "col", col)?;
                put_opt(&mut m, "stack", stack)?;
                let kind = match kind {
                    ErrorKind::Error => "error",
                    ErrorKind::Rejection => "rejection",
                };
                m.serialize_entry("kind", kind)?;
            }
            Body::Net { method, status, dur } => {
                m.serialize_entry("method", method)?;
                m.serialize_entry("status", status)?;
                m.serialize_entry("dur", dur)?;
            }
            Body::Vis { state } => {
                let state = match state {
                    Visibility::Hidden => "hidden",
                    Visibility::Visible => "visible",
                };
                m.serialize_entry("state", state)?;
            }
            Body::LongTask { dur } => m.serialize_entry("dur", dur)?,
            Body::Custom { name, props } => {
                m.serialize_entry("name", name)?;
                put_opt(&mut m, "props", props)?;
            }
        }
        put_extra(&mut m, &self.extra)?;
        m.end()
    }
}

/// Reads an event back from its wire form, validating it again (snapshots
/// and stored events go through the same checks as the edge).
impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = Map::<String, Value>::deserialize(d)?;
        crate::validate::parse_event(m)
            .map_err(|e| serde::de::Error::custom(format_args!("invalid event: {}", e.reason.as_str())))
    }
}

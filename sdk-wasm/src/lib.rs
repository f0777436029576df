//! The browser SDK's WebAssembly core.
//!
//! This crate owns everything the SDK decides about bytes: the event
//! buffer, sequence numbers, selector and label building and truncation,
//! URL query stripping, JSON encoding with correct escaping and UTF-8 safe
//! truncation, and batch sizing (DESIGN.md section 2). The JavaScript glue
//! (`js/`) only hooks browser APIs, writes their strings into [`Core::input`]
//! and moves the finished batches.
//!
//! It has no dependencies and no allocator: every buffer is a fixed array
//! in one [`Core`], so its memory is known up front and nothing here can
//! fail to allocate. An event is built field by field into a staging area
//! and joins the batch when complete; a batch never grows past
//! [`MAX_BATCH_BYTES`] of events (an event that would push it over waits
//! for the next one), so every batch fits the browser's 64 KiB keepalive
//! quota even uncompressed.
//!
//! - [`Core`]: the state and every operation, testable on the host.
//! - `wasm`: the exports the glue calls, one thin wrapper each.

#![no_std]

#[cfg(not(target_arch = "wasm32"))]
extern crate std;

pub mod gzip;
#[cfg(target_arch = "wasm32")]
mod wasm;

/// Events per batch: the glue flushes when a batch holds this many.
pub const MAX_EVENTS: u32 = 100;
/// Bytes of events per batch (the envelope adds at most [`MAX_ENVELOPE`]).
pub const MAX_BATCH_BYTES: usize = 60 * 1024;
/// Longest string field in bytes (messages, stacks, URLs); the server's
/// limit is 8 KiB, and an event must fit the staging area.
pub const MAX_STR_BYTES: usize = 2048;
/// Longest `sel` in bytes.
pub const MAX_SEL_BYTES: usize = 512;
/// Levels of a `sel`, from the clicked element up.
pub const MAX_SEL_LEVELS: u32 = 5;
/// Classes kept per `sel` level.
pub const MAX_CLASSES: usize = 3;
/// Longest `txt` in characters.
pub const MAX_LABEL_CHARS: usize = 64;
/// Longest raw JSON value (`custom` props); a longer one is left out.
pub const MAX_RAW_BYTES: usize = 4096;
/// Size of [`Core::input`].
pub const INPUT_BYTES: usize = 16 * 1024;
/// Largest envelope around the events: `sid`, `uid`, `ctx` and numbers.
pub const MAX_ENVELOPE: usize = 2048;

const STAGE_BYTES: usize = 16 * 1024;
const EVENTS_BYTES: usize = MAX_BATCH_BYTES + STAGE_BYTES;
const OUT_BYTES: usize = EVENTS_BYTES + MAX_ENVELOPE;

/// Names the glue refers to by index, separated by spaces: the kinds of
/// the wire table (0 to 12), then every field name (13 on). The indices
/// are the ABI shared with `js/ufse.js`. One string rather than a table
/// of slices: the module is smaller.
pub const NAMES: &str = "nav click input submit select scroll mutation move error net vis longtask custom \
     url nav x y sel el txt tag type href target download editable in_link vh n msg src line col stack \
     kind method status dur state name props";

/// The name numbered `i` in [`NAMES`]; `_` past the end.
fn name(i: u32) -> &'static [u8] {
    let mut rest = NAMES.as_bytes();
    for _ in 0..i {
        rest = cut(rest, b' ').1;
    }
    match cut(rest, b' ').0 {
        b"" => b"_",
        n => n,
    }
}

/// Whether `s` holds `b`.
// `contains` is core's word-at-a-time memchr: faster on long input, but
// hundreds of bytes of wasm for strings this short.
#[allow(clippy::manual_contains)]
fn has(s: &[u8], b: u8) -> bool {
    s.iter().any(|&x| x == b)
}

/// `s` before and after the first `sep` (which is in neither); all of
/// `s` and nothing when there is none.
fn cut(s: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == sep) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[]),
    }
}

/// How [`Core::str`] treats a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// As is, truncated to [`MAX_STR_BYTES`].
    Plain,
    /// A clickable element's label: trimmed, inner whitespace collapsed,
    /// digits shown as `#`, words with an `@` (emails) as `[email]`, at
    /// most [`MAX_LABEL_CHARS`] characters.
    Label,
    /// A URL: the query string is dropped except allowlisted parameters,
    /// and a fragment that looks like parameters (has `=`) is dropped.
    Url,
    /// A label the site allowlisted: as [`Text::Label`], digits and emails
    /// kept.
    LabelAsIs,
}

impl Text {
    /// The mode numbered `m` in the ABI (0, 1, 2).
    pub fn from_abi(m: u32) -> Text {
        match m {
            1 => Text::Label,
            2 => Text::Url,
            3 => Text::LabelAsIs,
            _ => Text::Plain,
        }
    }
}

/// Envelope settings, numbered in the ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The session id (`sid`).
    Sid = 0,
    /// The user id (`uid`); empty for none.
    Uid = 1,
    /// The `ctx` object, as raw JSON; empty for none.
    Ctx = 2,
    /// Query parameters kept in URLs, comma-separated.
    AllowQuery = 3,
}

impl Slot {
    /// The slot numbered `s` in the ABI.
    pub fn from_abi(s: u32) -> Option<Slot> {
        Some(match s {
            0 => Slot::Sid,
            1 => Slot::Uid,
            2 => Slot::Ctx,
            3 => Slot::AllowQuery,
            _ => return None,
        })
    }
}

/// What [`Core::done`] asks of the glue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Keep going.
    Ok = 0,
    /// The batch is full: send it ([`Core::batch`]) now.
    Flush = 1,
    /// The event was dropped (it did not fit its staging area); it is
    /// counted in the next batch's `dropped`.
    Dropped = 2,
}

/// A fixed-size byte buffer that refuses writes past its end and
/// remembers that it did. Writing goes through [`W`], so the code exists
/// once, not once per size.
pub struct Buf<const N: usize> {
    bytes: [u8; N],
    len: usize,
    overflow: bool,
}

impl<const N: usize> Buf<N> {
    const fn new() -> Self {
        Buf { bytes: [0; N], len: 0, overflow: false }
    }

    /// The bytes written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    fn w(&mut self) -> W<'_> {
        W { bytes: &mut self.bytes, len: &mut self.len, overflow: &mut self.overflow }
    }

    /// Replaces the contents with `s` whole, or with nothing when `s`
    /// does not fit (returning false).
    fn set_whole(&mut self, s: &[u8]) -> bool {
        self.w().set_whole(s)
    }
}

/// A writer into some [`Buf`].
struct W<'a> {
    bytes: &'a mut [u8],
    len: &'a mut usize,
    overflow: &'a mut bool,
}

impl W<'_> {
    fn set_whole(&mut self, s: &[u8]) -> bool {
        *self.len = 0;
        *self.overflow = false;
        self.push(s);
        if *self.overflow {
            *self.len = 0;
            *self.overflow = false;
            return false;
        }
        true
    }

    fn push(&mut self, s: &[u8]) {
        match self.bytes.get_mut(*self.len..*self.len + s.len()) {
            Some(dst) => {
                dst.copy_from_slice(s);
                *self.len += s.len();
            }
            None => *self.overflow = true,
        }
    }

    fn byte(&mut self, b: u8) {
        self.push(&[b]);
    }

    /// A decimal integer.
    fn int(&mut self, v: i64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut u = v.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        if v < 0 {
            self.byte(b'-');
        }
        self.push(&digits[i..]);
    }

    /// One byte of UTF-8 text inside a JSON string literal, escaped.
    fn esc_byte(&mut self, b: u8) {
        match b {
            b'"' | b'\\' => self.push(&[b'\\', b]),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.push(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
            _ => self.byte(b),
        }
    }

    /// Bytes of UTF-8 text inside a JSON string literal, escaped.
    fn esc(&mut self, s: &[u8]) {
        for &b in s {
            self.esc_byte(b);
        }
    }

    /// A JSON string literal of `s` (valid UTF-8).
    fn json_str(&mut self, s: &[u8]) {
        self.byte(b'"');
        self.esc(s);
        self.byte(b'"');
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
pub fn utf8_prefix(s: &[u8], max: usize) -> &[u8] {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && s[end] & 0xc0 == 0x80 {
        end -= 1;
    }
    &s[..end]
}

/// `v` rounded to the nearest integer (halves away from zero); NaN is 0.
fn round(v: f64) -> i64 {
    if v >= 0.0 {
        (v + 0.5) as i64
    } else {
        (v - 0.5) as i64
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// The SDK's whole state. One lives in the wasm module's memory.
pub struct Core {
    /// Where the glue writes a call's string argument (UTF-8).
    pub input: [u8; INPUT_BYTES],
    /// The event being built.
    stage: Buf<STAGE_BYTES>,
    /// Whether the next field of the open object needs a comma first.
    comma: bool,
    /// A complete event waiting for the next batch (this one was full).
    waiting: bool,
    /// The batch's events, comma-separated.
    events: Buf<EVENTS_BYTES>,
    count: u32,
    /// The last finished batch.
    out: Buf<OUT_BYTES>,
    sid: Buf<128>,
    uid: Buf<256>,
    ctx: Buf<1024>,
    allow_query: Buf<512>,
    seq: u64,
    dropped: u64,
}

impl Default for Core {
    fn default() -> Self {
        Self::new()
    }
}

impl Core {
    /// An empty core (a `const fn`: the wasm module's instance is static).
    pub const fn new() -> Self {
        Core {
            input: [0; INPUT_BYTES],
            stage: Buf::new(),
            comma: false,
            waiting: false,
            events: Buf::new(),
            count: 0,
            out: Buf::new(),
            sid: Buf::new(),
            uid: Buf::new(),
            ctx: Buf::new(),
            allow_query: Buf::new(),
            seq: 0,
            dropped: 0,
        }
    }

    /// Sets an envelope field from `input[..len]`. Returns false when the
    /// value is too long for it (the field is then left empty).
    pub fn set(&mut self, slot: Slot, len: u32) -> bool {
        let Core { input, sid, uid, ctx, allow_query, .. } = self;
        let v = arg(input, len);
        match slot {
            Slot::Sid => sid.set_whole(v),
            Slot::Uid => uid.set_whole(v),
            Slot::Ctx => ctx.set_whole(v),
            Slot::AllowQuery => allow_query.set_whole(v),
        }
    }

    /// The last `seq` given out (persisted by the glue across reloads).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Continues a session whose last `seq` was `seq`.
    pub fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// Counts `n` events lost outside the core (a batch the offline queue
    /// had to let go); the next batch reports them in `dropped`.
    pub fn lost(&mut self, n: u32) {
        self.dropped += u64::from(n);
    }

    /// Events in the batch being filled.
    pub fn pending(&self) -> u32 {
        self.count + u32::from(self.waiting)
    }

    /// Writes `"name":` (after a comma where one is due) and returns the
    /// stage for the value.
    fn key(&mut self, name: u32) -> W<'_> {
        let comma = core::mem::replace(&mut self.comma, true);
        let mut w = self.stage.w();
        if comma {
            w.byte(b',');
        }
        w.json_str(self::name(name));
        w.byte(b':');
        w
    }

    /// Starts an event of kind `NAMES[kind]` at client time `ts` (ms).
    pub fn event(&mut self, kind: u32, ts: f64) {
        self.stage.clear();
        let mut w = self.stage.w();
        w.push(b"{\"t\":");
        w.json_str(name(kind));
        w.push(b",\"ts\":");
        w.int(round(ts));
        self.comma = true;
    }

    /// A number field, rounded to an integer (coordinates, times, counts).
    pub fn num(&mut self, name: u32, v: f64) {
        self.key(name).int(round(v));
    }

    /// A boolean field.
    pub fn flag(&mut self, name: u32, v: bool) {
        self.key(name).push(if v { b"true" } else { b"false" });
    }

    /// A string field from `input[..len]`, treated as `mode` says.
    pub fn str(&mut self, name: u32, len: u32, mode: Text) {
        self.key(name);
        let Core { input, stage, allow_query, .. } = self;
        let s = utf8_prefix(arg(input, len), MAX_STR_BYTES);
        let mut w = stage.w();
        w.byte(b'"');
        match mode {
            Text::Plain => w.esc(s),
            Text::Label => write_label(s, &mut w, true),
            Text::LabelAsIs => write_label(s, &mut w, false),
            Text::Url => write_url(s, allow_query.as_bytes(), &mut w),
        }
        w.byte(b'"');
    }

    /// A field whose value is `input[..len]` as raw JSON (the glue's
    /// `JSON.stringify`); left out when empty or longer than [`MAX_RAW_BYTES`].
    pub fn raw(&mut self, name: u32, len: u32) {
        let len = len as usize;
        if len == 0 || len > MAX_RAW_BYTES {
            return;
        }
        self.key(name);
        let Core { input, stage, .. } = self;
        stage.w().push(&input[..len]);
    }

    /// Opens an object field (`el`).
    pub fn open(&mut self, name: u32) {
        self.key(name).byte(b'{');
        self.comma = false;
    }

    /// Closes the object [`Core::open`] opened.
    pub fn close(&mut self) {
        self.stage.w().byte(b'}');
        self.comma = true;
    }

    /// A `sel` field from `input[..len]`: the clicked element's level and
    /// the levels above it, one per line, each "tag id classes" (the id
    /// maybe empty). Written outermost first as `tag#id.c1.c2.c3 > ...`,
    /// with at most [`MAX_SEL_LEVELS`] levels, [`MAX_CLASSES`] classes
    /// each and [`MAX_SEL_BYTES`] bytes: the levels nearest the element
    /// are kept.
    pub fn sel(&mut self, name: u32, len: u32) {
        self.key(name);
        let Core { input, stage, .. } = self;
        // The levels that fit, nearest the element first.
        let mut levels: [&[u8]; MAX_SEL_LEVELS as usize] = [b""; MAX_SEL_LEVELS as usize];
        let (mut n, mut total, mut rest) = (0, 0, arg(input, len));
        while n < levels.len() && !rest.is_empty() {
            let (level, tail) = cut(rest, b'\n');
            total += write_level(level, None) + if n > 0 { 3 } else { 0 };
            if total > MAX_SEL_BYTES {
                break;
            }
            levels[n] = level;
            n += 1;
            rest = tail;
        }
        let mut w = stage.w();
        w.byte(b'"');
        for i in (0..n).rev() {
            write_level(levels[i], Some(&mut w));
            if i > 0 {
                w.push(b" > ");
            }
        }
        w.byte(b'"');
    }

    /// Ends the event: gives it the next `seq` and adds it to the batch.
    pub fn done(&mut self) -> Done {
        if self.waiting {
            // Only if the glue did not send the full batch it was told to.
            self.stage.clear();
            self.dropped += 1;
            return Done::Dropped;
        }
        let mut w = self.stage.w();
        w.push(b",\"seq\":");
        w.int(self.seq as i64 + 1);
        w.byte(b'}');
        if self.stage.overflow {
            self.stage.clear();
            self.dropped += 1;
            return Done::Dropped;
        }
        self.seq += 1;
        if self.count > 0 && self.events.len + 1 + self.stage.len > MAX_BATCH_BYTES {
            self.waiting = true;
            return Done::Flush;
        }
        self.commit();
        if self.count >= MAX_EVENTS || self.events.len >= MAX_BATCH_BYTES {
            Done::Flush
        } else {
            Done::Ok
        }
    }

    fn commit(&mut self) {
        let Core { events, stage, .. } = self;
        let mut w = events.w();
        if self.count > 0 {
            w.byte(b',');
        }
        w.push(stage.as_bytes());
        stage.clear();
        self.count += 1;
    }

    /// Builds the batch of every event so far into [`Core::out`], sent at
    /// client time `sent_at`, and starts the next one. Returns its length,
    /// 0 when there was nothing to send.
    pub fn batch(&mut self, sent_at: f64) -> u32 {
        self.out.clear();
        if self.count == 0 {
            return 0;
        }
        let mut w = self.out.w();
        w.push(b"{\"v\":1,\"sid\":");
        w.json_str(self.sid.as_bytes());
        if self.uid.len > 0 {
            w.push(b",\"uid\":");
            w.json_str(self.uid.as_bytes());
        }
        w.push(b",\"sent_at\":");
        w.int(round(sent_at));
        if self.dropped > 0 {
            w.push(b",\"dropped\":");
            w.int(self.dropped as i64);
        }
        if self.ctx.len > 0 {
            w.push(b",\"ctx\":");
            w.push(self.ctx.as_bytes());
        }
        w.push(b",\"events\":[");
        w.push(self.events.as_bytes());
        w.push(b"]}");
        self.dropped = 0;
        self.events.clear();
        self.count = 0;
        if self.waiting {
            self.waiting = false;
            self.commit();
        }
        self.out.len as u32
    }

    /// The last batch [`Core::batch`] built.
    pub fn out(&self) -> &[u8] {
        self.out.as_bytes()
    }
}

fn arg(input: &[u8], len: u32) -> &[u8] {
    &input[..(len as usize).min(input.len())]
}

/// A label: trimmed, whitespace runs as one space, at most
/// [`MAX_LABEL_CHARS`] characters, escaped for a JSON string; if `mask`,
/// digits as `#` and words with an `@` as `[email]`.
fn write_label(mut s: &[u8], w: &mut W<'_>, mask: bool) {
    let (mut chars, mut space) = (0, false);
    while let [first, rest @ ..] = s {
        if is_space(*first) {
            space = chars > 0;
            s = rest;
            continue;
        }
        let end = s.iter().position(|&b| is_space(b)).unwrap_or(s.len());
        let (word, tail) = s.split_at(end);
        s = tail;
        let word: &[u8] = if mask && has(word, b'@') { b"[email]" } else { word };
        for &b in if space { &b" "[..] } else { b"" }.iter().chain(word) {
            if b & 0xc0 != 0x80 {
                if chars == MAX_LABEL_CHARS {
                    return;
                }
                chars += 1;
            }
            w.esc_byte(if mask && b.is_ascii_digit() { b'#' } else { b });
        }
        space = false;
    }
}

/// One `sel` level, `tag#id.c1.c2.c3`, from "tag id classes" (the id
/// maybe empty), written to `w` if there is one. Returns its length
/// before escaping (which selector characters hardly ever need).
fn write_level(s: &[u8], mut w: Option<&mut W<'_>>) -> usize {
    let (tag, rest) = cut(s, b' ');
    let (id, mut classes) = cut(rest, b' ');
    let mut len = tag.len();
    if let Some(w) = w.as_deref_mut() {
        for &b in tag {
            w.byte(b.to_ascii_lowercase());
        }
    }
    let mut part = |mark: u8, name: &[u8]| {
        len += 1 + name.len();
        if let Some(w) = w.as_deref_mut() {
            w.byte(mark);
            w.esc(name);
        }
    };
    if !id.is_empty() {
        part(b'#', id);
    }
    let mut kept = 0;
    while kept < MAX_CLASSES && !classes.is_empty() {
        let (class, tail) = cut(classes, b' ');
        classes = tail;
        if !class.is_empty() {
            part(b'.', class);
            kept += 1;
        }
    }
    len
}

/// A URL without its query string, but for parameters named in `allow`
/// (comma-separated), and without a fragment that holds parameters;
/// escaped for a JSON string.
fn write_url(s: &[u8], allow: &[u8], w: &mut W<'_>) {
    let (rest, fragment) = match s.iter().position(|&b| b == b'#') {
        Some(i) => s.split_at(i),
        None => (s, &b""[..]),
    };
    let (base, mut query) = cut(rest, b'?');
    w.esc(base);
    let mut sep = b'?';
    while !query.is_empty() {
        let (param, tail) = cut(query, b'&');
        query = tail;
        let name = cut(param, b'=').0;
        let mut allowed = allow;
        while !name.is_empty() && !allowed.is_empty() {
            let (a, tail) = cut(allowed, b',');
            allowed = tail;
            if a == name {
                w.byte(sep);
                w.esc(param);
                sep = b'&';
                break;
            }
        }
    }
    if !has(fragment, b'=') {
        w.esc(fragment);
    }
}

#[cfg(test)]
mod tests;

//! The browser SDK's WebAssembly core.
//!
//! This crate owns everything the SDK decides about bytes: the event
//! buffer, sequence numbers, selector and label truncation, JSON encoding
//! with correct escaping and UTF-8 safe truncation, batch sizing
//! (DESIGN.md section 2), and gzip ([`gzip`]) for when the browser cannot
//! compress in time. The JavaScript glue (`js/`) hooks browser APIs,
//! writes what they say as strings (a selector, a URL without its query,
//! a masked label: the browser's own URL and RegExp do that in far fewer
//! bytes than this module could), passes them in and moves the finished
//! batches.
//!
//! It has no dependencies and no allocator: every buffer is a fixed array
//! in one [`Core`], so its memory is known up front and nothing here can
//! fail to allocate. An event is built field by field at the end of the
//! batch, and dropped whole if it does not fit; the glue sends a batch
//! once it holds [`MAX_EVENTS`] events or [`MAX_BATCH_BYTES`] of them, and
//! the envelope goes after the events when it does (a JSON object's keys
//! have no order), so events are written once and never copied.
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
/// Bytes of events at which the glue sends a batch; the event that
/// reaches it is the batch's last.
pub const MAX_BATCH_BYTES: usize = 60 * 1024;
/// Longest string field in bytes (messages, stacks, URLs); the server's
/// limit is 8 KiB, and an event must fit in [`MAX_EVENT_BYTES`].
pub const MAX_STR_BYTES: usize = 2048;
/// Longest `sel` in bytes.
pub const MAX_SEL_BYTES: usize = 512;
/// Longest `txt` in characters.
pub const MAX_LABEL_CHARS: usize = 64;
/// Longest raw JSON value (`custom` props); a longer one is left out.
pub const MAX_RAW_BYTES: usize = 4096;
/// Size of the area the glue writes a call's string argument into.
pub const INPUT_BYTES: usize = 16 * 1024;
/// Largest event in bytes, as encoded; a larger one is dropped.
pub const MAX_EVENT_BYTES: usize = 16 * 1024;
/// Longest click description [`Core::el`] can repeat, in bytes; a
/// longer one (a long `href`) is written in full each time.
pub const MAX_DESC_BYTES: usize = 1024;
/// What a batch begins with: its events, then the envelope.
const HEAD: &[u8] = b"{\"events\":[";
/// Room for the envelope, after the events: `sid` and `uid` (even escaped
/// at 6 bytes a byte), `ctx` and numbers.
const MAX_ENVELOPE: usize = 4096;
/// The batch buffer: [`HEAD`], events, the last event past
/// [`MAX_BATCH_BYTES`], and the envelope.
const OUT_BYTES: usize = HEAD.len() + MAX_BATCH_BYTES + MAX_EVENT_BYTES + MAX_ENVELOPE;

/// Names the glue refers to by index, separated by spaces: the kinds of
/// the wire table (0 to 12), then every field name (13 on). The indices
/// are the ABI shared with `js/ufse.js` (which relies on `tag` to
/// `in_link` being consecutive). One string rather than a table of
/// slices: the module is smaller.
pub const NAMES: &str = "nav click input submit select scroll mutation move error net vis longtask custom \
     url nav x y sel el txt tag type href target download editable in_link vh n msg src line col stack \
     kind method status dur state name props";

/// The index of `el` in [`NAMES`]: [`Core::el`] opens it.
const EL: u32 = 18;

/// Where each name in [`NAMES`] starts, and one past the end of the
/// last: computed at compile time, so a lookup does not scan.
const NAME_STARTS: [u16; name_count() + 1] = {
    let b = NAMES.as_bytes();
    let mut starts = [0; name_count() + 1];
    let (mut i, mut n) = (0, 1);
    while i < b.len() {
        if b[i] == b' ' {
            starts[n] = i as u16 + 1;
            n += 1;
        }
        i += 1;
    }
    starts[n] = b.len() as u16 + 1;
    starts
};

const fn name_count() -> usize {
    let b = NAMES.as_bytes();
    let (mut i, mut n) = (0, 1);
    while i < b.len() {
        n += (b[i] == b' ') as usize;
        i += 1;
    }
    n
}

/// The name numbered `i` in [`NAMES`]; `_` past the end.
fn name(i: u32) -> &'static [u8] {
    match NAME_STARTS.get(i as usize..i as usize + 2) {
        Some(&[start, end]) => &NAMES.as_bytes()[start as usize..end as usize - 1],
        _ => b"_",
    }
}

/// How [`Core::str`] treats a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// As is, truncated to [`MAX_STR_BYTES`].
    Plain,
    /// A clickable element's label, truncated to [`MAX_LABEL_CHARS`]
    /// characters (the glue trims and masks it).
    Label,
    /// A `sel` (levels separated by ` > `, the clicked element's last):
    /// while over [`MAX_SEL_BYTES`], its outermost level goes, so the
    /// levels nearest the element are kept whole.
    Sel,
}

impl Text {
    /// The mode numbered `m` in the ABI (0 to 2).
    pub fn from_abi(m: u32) -> Text {
        match m {
            1 => Text::Label,
            2 => Text::Sel,
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
}

impl Slot {
    /// The slot numbered `s` in the ABI.
    pub fn from_abi(s: u32) -> Option<Slot> {
        Some(match s {
            0 => Slot::Sid,
            1 => Slot::Uid,
            2 => Slot::Ctx,
            _ => return None,
        })
    }
}

/// The longest value of each [`Slot`], in bytes: the server's limits for
/// `sid` and `uid`.
const SLOT_LIMITS: [usize; 3] = [128, 256, 1024];
const SLOT_BYTES: usize = 1024;

/// What [`Core::done`] asks of the glue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Keep going.
    Ok = 0,
    /// The batch is full: send it ([`Core::batch`]) now.
    Flush = 1,
    /// The event was dropped (over [`MAX_EVENT_BYTES`], or no room left
    /// in a batch the glue did not send); it is counted in the next
    /// batch's `dropped`.
    Dropped = 2,
}

/// A byte buffer that refuses writes past its end and remembers that it
/// did. Made with a fixed size (`Buf<[u8; N]>`) and written through
/// `Deref` as a `Buf<[u8]>`: the code exists once, not once per size,
/// and a writer is a plain (fat) pointer.
pub struct Buf<B: ?Sized = [u8]> {
    len: usize,
    overflow: bool,
    bytes: B,
}

impl<const N: usize> Buf<[u8; N]> {
    const fn new() -> Self {
        Buf { len: 0, overflow: false, bytes: [0; N] }
    }
}

impl<const N: usize> core::ops::Deref for Buf<[u8; N]> {
    type Target = Buf;
    fn deref(&self) -> &Buf {
        self
    }
}

impl<const N: usize> core::ops::DerefMut for Buf<[u8; N]> {
    fn deref_mut(&mut self) -> &mut Buf {
        self
    }
}

impl Buf {
    /// The bytes written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    /// Replaces the contents with `s` (cut short where it does not fit).
    fn set(&mut self, s: &[u8]) {
        self.clear();
        self.push(s);
    }

    // The writers below are never inlined: copied into each of their many
    // callers, they cost more bytes of wasm than the calls do.

    /// Appends `s`, or nothing and notes the overflow when it does not fit.
    #[inline(never)]
    fn push(&mut self, s: &[u8]) {
        match self.bytes.get_mut(self.len..self.len + s.len()) {
            Some(dst) => {
                dst.copy_from_slice(s);
                self.len += s.len();
            }
            None => self.overflow = true,
        }
    }

    /// Appends `b`, as [`Buf::push`].
    #[inline(never)]
    fn byte(&mut self, b: u8) {
        // Not `push`: a one-byte `copy_from_slice` is a `memory.copy`, a
        // call out of compiled code in V8.
        match self.bytes.get_mut(self.len) {
            Some(d) => {
                *d = b;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    /// A decimal integer.
    #[inline(never)]
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
    #[inline(never)]
    fn esc_byte(&mut self, b: u8) {
        if b < 0x20 {
            // `\u00XX`, lowercase hex.
            self.push(b"\\u00");
            self.byte(b'0' + (b >> 4));
            let low = b & 15;
            return self.byte(if low < 10 { b'0' + low } else { b'a' - 10 + low });
        }
        if b == b'"' || b == b'\\' {
            self.byte(b'\\');
        }
        self.byte(b)
    }

    /// Bytes of UTF-8 text inside a JSON string literal, escaped. A
    /// string that needs no escape (most do not) is copied at once.
    #[inline(never)]
    fn esc(&mut self, s: &[u8]) {
        if !s.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
            return self.push(s);
        }
        for &b in s {
            self.esc_byte(b);
        }
    }

    /// A JSON string literal of `s` (valid UTF-8).
    #[inline(never)]
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

/// The SDK's whole state. One lives in the wasm module's memory.
pub struct Core {
    /// The batch: [`HEAD`], its events, comma-separated, then the event
    /// being built. [`Core::batch`] ends it with the envelope.
    out: Buf<[u8; OUT_BYTES]>,
    /// End of the batch's complete events.
    end: usize,
    /// Length of the batch [`Core::batch`] built last, at the start of `out`.
    built: usize,
    count: u32,
    /// Whether the next field of the open object needs a comma first.
    comma: bool,
    /// The [`Slot`]s' values, by number.
    slots: [Buf<[u8; SLOT_BYTES]>; 3],
    seq: u64,
    dropped: u64,
    /// The last click's description as written in full (its `el` object,
    /// `sel` and `txt`), empty when there is none to repeat.
    desc: Buf<[u8; MAX_DESC_BYTES]>,
    /// Where in `out` the description being written starts; past the
    /// end when [`Core::el`] did not begin one in this event.
    desc_at: usize,
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
            out: Buf { len: HEAD.len(), overflow: false, bytes: [0; OUT_BYTES] },
            end: HEAD.len(),
            built: 0,
            count: 0,
            comma: false,
            slots: [const { Buf::new() }; 3],
            seq: 0,
            dropped: 0,
            desc: Buf::new(),
            desc_at: 0,
        }
    }

    /// Sets an envelope field to `v`. Returns false when the value is too
    /// long for it (the field is then left empty).
    pub fn set(&mut self, slot: Slot, v: &[u8]) -> bool {
        let fits = v.len() <= SLOT_LIMITS[slot as usize];
        self.slots[slot as usize].set(if fits { v } else { b"" });
        fits
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
        self.count
    }

    /// Writes `"name":` (after a comma where one is due) and returns the
    /// buffer for the value.
    fn key(&mut self, name: u32) -> &mut Buf {
        let comma = core::mem::replace(&mut self.comma, true);
        let w: &mut Buf = &mut self.out;
        if comma {
            w.byte(b',');
        }
        w.json_str(self::name(name));
        w.byte(b':');
        w
    }

    /// Starts an event of kind `NAMES[kind]` at client time `ts` (ms),
    /// dropping one left unfinished.
    pub fn event(&mut self, kind: u32, ts: f64) {
        let w: &mut Buf = &mut self.out;
        w.len = self.end;
        w.overflow = false;
        if self.count > 0 {
            w.byte(b',');
        }
        w.push(b"{\"t\":");
        w.json_str(name(kind));
        w.push(b",\"ts\":");
        w.int(round(ts));
        self.comma = true;
        // No description begins until `el` says where.
        self.desc_at = usize::MAX;
    }

    /// A number field, rounded to an integer (coordinates, times, counts);
    /// left out when not finite.
    pub fn num(&mut self, name: u32, v: f64) {
        // Not a number (an `undefined` from the page) or infinite: left out.
        if v.is_finite() {
            self.key(name).int(round(v));
        }
    }

    /// A boolean field.
    pub fn flag(&mut self, name: u32, v: bool) {
        self.key(name).push(if v { b"true" } else { b"false" });
    }

    /// A string field, `s` treated as `mode` says.
    pub fn str(&mut self, name: u32, s: &[u8], mode: Text) {
        let w = self.key(name);
        w.byte(b'"');
        match mode {
            Text::Plain => w.esc(utf8_prefix(s, MAX_STR_BYTES)),
            Text::Label => {
                // Up to the start of the character past the last kept: a
                // character starts at any byte but a continuation.
                let mut chars = 0;
                let end = s.iter().position(|&b| {
                    chars += usize::from(b & 0xc0 != 0x80);
                    chars > MAX_LABEL_CHARS
                });
                w.esc(&s[..end.unwrap_or(s.len())]);
            }
            Text::Sel => {
                let mut s = s;
                while s.len() > MAX_SEL_BYTES {
                    s = match s.windows(3).position(|l| l == b" > ") {
                        Some(i) => &s[i + 3..],
                        None => b"",
                    };
                }
                w.esc(s);
            }
        }
        w.byte(b'"');
    }

    /// A field whose value is `v`, a JSON object (the glue's
    /// `JSON.stringify`); left out when it is no object (the server takes
    /// only an object for `props`, and drops the whole event for another
    /// value) or is longer than [`MAX_RAW_BYTES`].
    pub fn raw(&mut self, name: u32, v: &[u8]) {
        if v.first() != Some(&b'{') || v.len() > MAX_RAW_BYTES {
            return;
        }
        self.key(name).push(v);
    }

    /// Begins a click's description, its `el` object, then `sel` and
    /// `txt`. When `same` (the glue knows the element is described as it
    /// was last time: a rage click hits one element over and over), the
    /// last description written in full is repeated whole, and the answer
    /// is true. Otherwise (or with none to repeat) it opens `el` and
    /// answers false; the glue writes `el`'s fields, [`Core::close`], then
    /// the rest, and the core keeps what it wrote for next time.
    pub fn el(&mut self, same: bool) -> bool {
        let w: &mut Buf = &mut self.out;
        let d = &self.desc;
        if same && d.len > 0 {
            // It began after a field (the event's `ts` at least) and ends
            // with one: `comma` stays true.
            w.push(&d.bytes[..d.len]);
            return true;
        }
        // The old one goes now, not when `done` keeps the new one: the glue
        // takes the description it wrote last for the one the core has,
        // and if this event is dropped, an older one must not stand in.
        self.desc.len = 0;
        self.desc_at = w.len;
        self.key(EL).byte(b'{');
        self.comma = false;
        false
    }

    /// Closes the `el` object [`Core::el`] opened.
    pub fn close(&mut self) {
        self.out.byte(b'}');
        self.comma = true;
    }

    /// Ends the event: gives it the next `seq` and adds it to the batch.
    pub fn done(&mut self) -> Done {
        let w: &mut Buf = &mut self.out;
        let rest = self.desc_at..w.len;
        w.push(b",\"seq\":");
        w.int(self.seq as i64 + 1);
        w.byte(b'}');
        // Too big, or past the batch's room (the glue did not send it when
        // told to): gone, and counted.
        if w.overflow || w.len - self.end > MAX_EVENT_BYTES || w.len + MAX_ENVELOPE > OUT_BYTES {
            w.len = self.end;
            self.dropped += 1;
            return Done::Dropped;
        }
        // A click's description, written in full.
        if let Some(d) = w.bytes.get(rest) {
            self.desc.set(d);
        }
        self.seq += 1;
        self.end = w.len;
        self.count += 1;
        if self.count >= MAX_EVENTS || self.end - HEAD.len() >= MAX_BATCH_BYTES {
            Done::Flush
        } else {
            Done::Ok
        }
    }

    /// Builds the batch of every event so far, sent at client time
    /// `sent_at`, and starts the next one. Returns its length, 0 when
    /// there was nothing to send; [`Core::out`] is the batch until the
    /// next event.
    pub fn batch(&mut self, sent_at: f64) -> u32 {
        if self.count == 0 {
            return 0;
        }
        let [sid, uid, ctx] = &self.slots;
        let w: &mut Buf = &mut self.out;
        w.bytes[..HEAD.len()].copy_from_slice(HEAD);
        w.len = self.end;
        w.push(b"],\"v\":1,\"sid\":");
        w.json_str(sid.as_bytes());
        if uid.len > 0 {
            w.push(b",\"uid\":");
            w.json_str(uid.as_bytes());
        }
        w.push(b",\"sent_at\":");
        w.int(round(sent_at));
        if self.dropped > 0 {
            w.push(b",\"dropped\":");
            w.int(self.dropped as i64);
        }
        if ctx.len > 0 {
            w.push(b",\"ctx\":");
            w.push(ctx.as_bytes());
        }
        // The slots' limits keep the envelope within its room.
        w.byte(b'}');
        self.built = w.len;
        w.len = HEAD.len();
        self.end = HEAD.len();
        self.count = 0;
        self.dropped = 0;
        self.built as u32
    }

    /// The last batch [`Core::batch`] built, until the next event
    /// overwrites it.
    pub fn out(&self) -> &[u8] {
        &self.out.bytes[..self.built]
    }
}

#[cfg(test)]
mod tests;

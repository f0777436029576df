use std::prelude::rust_2021::*;

use super::*;

const X: u32 = 15;
const SEL: u32 = 17;
const EL: u32 = 18;
const TXT: u32 = 19;
const TAG: u32 = 20;
const HREF: u32 = 22;
const IN_LINK: u32 = 26;
const MSG: u32 = 29;
const PROPS: u32 = 40;

fn core() -> std::boxed::Box<Core> {
    let mut c = std::boxed::Box::new(Core::new());
    assert!(c.set(Slot::Sid, b"s-1"));
    c
}

fn batch_json(c: &mut Core) -> serde_like::Value {
    let n = c.batch(1_000.0);
    assert!(n > 0);
    let text = String::from_utf8(c.out().to_vec()).expect("a batch is UTF-8");
    serde_like::parse(&text)
}

/// Just enough of a JSON reader to check what the core writes, since the
/// crate has no dependencies (the Node tests check it with `JSON.parse`).
mod serde_like {
    use std::string::String;
    use std::vec::Vec;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Num(f64),
        Str(String),
        Arr(Vec<Value>),
        Obj(Vec<(String, Value)>),
    }

    impl Value {
        pub fn get(&self, k: &str) -> &Value {
            match self {
                Value::Obj(o) => o.iter().find(|(n, _)| n == k).map(|(_, v)| v).unwrap_or(&Value::Null),
                _ => &Value::Null,
            }
        }
        pub fn at(&self, i: usize) -> &Value {
            match self {
                Value::Arr(a) => &a[i],
                _ => panic!("not an array"),
            }
        }
        pub fn len(&self) -> usize {
            match self {
                Value::Arr(a) => a.len(),
                _ => 0,
            }
        }
        pub fn str(&self) -> &str {
            match self {
                Value::Str(s) => s,
                v => panic!("not a string: {v:?}"),
            }
        }
        pub fn num(&self) -> f64 {
            match self {
                Value::Num(n) => *n,
                v => panic!("not a number: {v:?}"),
            }
        }
    }

    pub fn parse(s: &str) -> Value {
        let mut p = P { s: s.as_bytes(), i: 0 };
        let v = p.value();
        p.ws();
        assert_eq!(p.i, p.s.len(), "trailing bytes in {s}");
        v
    }

    struct P<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl P<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn eat(&mut self, b: u8) {
            self.ws();
            assert_eq!(self.s[self.i] as char, b as char, "at {}", self.i);
            self.i += 1;
        }
        fn value(&mut self) -> Value {
            self.ws();
            match self.s[self.i] {
                b'{' => {
                    self.i += 1;
                    let mut o = Vec::new();
                    self.ws();
                    if self.s[self.i] == b'}' {
                        self.i += 1;
                        return Value::Obj(o);
                    }
                    loop {
                        self.ws();
                        let Value::Str(k) = self.value() else { panic!("key") };
                        self.eat(b':');
                        o.push((k, self.value()));
                        self.ws();
                        self.i += 1;
                        if self.s[self.i - 1] == b'}' {
                            return Value::Obj(o);
                        }
                    }
                }
                b'[' => {
                    self.i += 1;
                    let mut a = Vec::new();
                    self.ws();
                    if self.s[self.i] == b']' {
                        self.i += 1;
                        return Value::Arr(a);
                    }
                    loop {
                        a.push(self.value());
                        self.ws();
                        self.i += 1;
                        if self.s[self.i - 1] == b']' {
                            return Value::Arr(a);
                        }
                    }
                }
                b'"' => {
                    self.i += 1;
                    let mut out = Vec::new();
                    loop {
                        let b = self.s[self.i];
                        self.i += 1;
                        match b {
                            b'"' => return Value::Str(String::from_utf8(out).expect("UTF-8")),
                            b'\\' => {
                                let e = self.s[self.i];
                                self.i += 1;
                                match e {
                                    b'n' => out.push(b'\n'),
                                    b't' => out.push(b'\t'),
                                    b'r' => out.push(b'\r'),
                                    b'u' => {
                                        let hex = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                                        let c =
                                            char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap();
                                        self.i += 4;
                                        let mut buf = [0; 4];
                                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                                    }
                                    other => out.push(other),
                                }
                            }
                            0..=0x1f => panic!("raw control byte {b} in a string"),
                            _ => out.push(b),
                        }
                    }
                }
                b't' => {
                    self.i += 4;
                    Value::Bool(true)
                }
                b'f' => {
                    self.i += 5;
                    Value::Bool(false)
                }
                b'n' => {
                    self.i += 4;
                    Value::Null
                }
                _ => {
                    let start = self.i;
                    while self.i < self.s.len()
                        && matches!(self.s[self.i], b'-' | b'0'..=b'9' | b'.' | b'e' | b'+')
                    {
                        self.i += 1;
                    }
                    Value::Num(std::str::from_utf8(&self.s[start..self.i]).unwrap().parse().unwrap())
                }
            }
        }
    }
}

/// A click as the glue records one, its description written in full.
fn click(c: &mut Core, ts: f64, sel: &str, label: &str) -> Done {
    click_at(c, ts);
    assert!(!c.el(false));
    c.str(TAG, b"button", Text::Plain);
    c.flag(IN_LINK, false);
    c.close();
    c.str(SEL, sel.as_bytes(), Text::Sel);
    c.str(TXT, label.as_bytes(), Text::Label);
    c.done()
}

/// A click's kind and position, up to its description.
fn click_at(c: &mut Core, ts: f64) {
    c.event(1, ts);
    c.num(X, 12.6);
    c.num(X + 1, -3.5);
}

fn sel_of(sel: &str) -> String {
    let mut c = core();
    click(&mut c, 1.0, sel, "x");
    batch_json(&mut c).get("events").at(0).get("sel").str().to_owned()
}

#[test]
fn a_click_is_encoded_as_the_wire_format_says() {
    let mut c = core();
    assert_eq!(click(&mut c, 1_700_000_000_123.4, "main > div.cart > button#go", "Pay $20"), Done::Ok);
    let b = batch_json(&mut c);
    assert_eq!(b.get("v").num(), 1.0);
    assert_eq!(b.get("sid").str(), "s-1");
    assert_eq!(b.get("sent_at").num(), 1000.0);
    let e = b.get("events").at(0);
    assert_eq!(e.get("t").str(), "click");
    assert_eq!(e.get("ts").num(), 1_700_000_000_123.0);
    assert_eq!(e.get("seq").num(), 1.0);
    assert_eq!(e.get("x").num(), 13.0);
    assert_eq!(e.get("y").num(), -4.0, "halves round away from zero");
    assert_eq!(e.get("sel").str(), "main > div.cart > button#go");
    assert_eq!(e.get("el").get("tag").str(), "button");
    assert_eq!(e.get("el").get("in_link"), &serde_like::Value::Bool(false));
    assert_eq!(e.get("txt").str(), "Pay $20", "masking is the glue's");
}

#[test]
fn a_repeated_click_repeats_the_description_byte_for_byte() {
    let mut c = core();
    click(&mut c, 1.0, "main > button#go.big", "Pay");
    click_at(&mut c, 2.0);
    assert!(c.el(true), "the description just written is repeated");
    assert_eq!(c.done(), Done::Ok);
    c.batch(3.0);
    let text = std::str::from_utf8(c.out()).unwrap();
    // Each event's bytes from its description on, up to its seq.
    let descs: Vec<&str> =
        text.split("\"y\":-4").skip(1).map(|e| e.split(",\"seq\"").next().unwrap()).collect();
    assert_eq!(descs.len(), 2);
    assert_eq!(descs[0], descs[1]);
    assert_eq!(
        descs[0],
        r#","el":{"tag":"button","in_link":false},"sel":"main > button#go.big","txt":"Pay""#
    );
    let b = serde_like::parse(text);
    assert_eq!(b.get("events").at(1).get("el").get("tag").str(), "button");
    assert_eq!(b.get("events").at(1).get("seq").num(), 2.0);
}

#[test]
fn only_a_whole_description_is_repeated() {
    // None yet: `el` is opened.
    let mut c = core();
    click_at(&mut c, 1.0);
    assert!(!c.el(true));
    // The glue says it is described otherwise.
    click(&mut c, 1.0, "button", "Pay");
    click_at(&mut c, 2.0);
    assert!(!c.el(false));
    // Longer than the core keeps (a long href): written in full each time.
    click_at(&mut c, 3.0);
    assert!(!c.el(false));
    let href = std::format!("https://shop.example/{}", "p".repeat(MAX_DESC_BYTES));
    c.str(HREF, href.as_bytes(), Text::Plain);
    c.close();
    assert_eq!(c.done(), Done::Ok);
    click_at(&mut c, 4.0);
    assert!(!c.el(true));
    // A description cut short (the event did not fit) is not kept.
    click(&mut c, 5.0, "button", "Pay");
    click_at(&mut c, 6.0);
    assert!(!c.el(false));
    c.close();
    for _ in 0..MAX_EVENT_BYTES / MAX_STR_BYTES + 1 {
        c.str(TXT, "t".repeat(MAX_STR_BYTES).as_bytes(), Text::Plain);
    }
    assert_eq!(c.done(), Done::Dropped);
    click_at(&mut c, 7.0);
    assert!(!c.el(true), "nor is the one before: the glue knows only the last");
}

#[test]
fn labels_are_cut_at_64_characters() {
    let label = |s: &str| {
        let mut c = core();
        c.event(1, 1.0);
        c.str(TXT, s.as_bytes(), Text::Label);
        c.done();
        batch_json(&mut c).get("events").at(0).get("txt").str().to_owned()
    };
    assert_eq!(label("Say \"hi\""), "Say \"hi\"");
    assert_eq!(label(&"é".repeat(100)), "é".repeat(MAX_LABEL_CHARS));
    assert_eq!(label(&"😀a".repeat(40)).chars().count(), MAX_LABEL_CHARS);
}

#[test]
fn selectors_over_512_bytes_lose_their_outer_levels() {
    assert_eq!(sel_of("ul > li.item > a#x"), "ul > li.item > a#x");
    let level = std::format!("div#{}", "x".repeat(200));
    let levels = |n: usize| std::vec![level.as_str(); n].join(" > ");
    assert_eq!(sel_of(&levels(3)), levels(2), "the outermost level goes");
    assert_eq!(sel_of(&levels(2)).len(), 2 * level.len() + 3);
    assert_eq!(sel_of(&"y".repeat(600)), "", "one level over 512 bytes: nothing");
    assert_eq!(sel_of("b#id\"q"), "b#id\"q");
}

#[test]
fn strings_are_escaped_and_truncated_on_a_character_boundary() {
    let mut c = core();
    c.event(8, 1.0);
    let msg = std::format!("quote \" back \\ nl \n ctl \u{1} {}", "€".repeat(1000));
    c.str(MSG, msg.as_bytes(), Text::Plain);
    assert_eq!(c.done(), Done::Ok);
    let b = batch_json(&mut c);
    let got = b.get("events").at(0).get("msg").str().to_owned();
    assert!(got.starts_with("quote \" back \\ nl \n ctl \u{1} €"));
    assert!(got.len() <= MAX_STR_BYTES && msg.starts_with(&got));
    assert_eq!(utf8_prefix("aé".as_bytes(), 2), b"a");
}

#[test]
fn a_batch_flushes_at_100_events_and_numbers_them_in_order() {
    let mut c = core();
    for i in 0..99 {
        assert_eq!(click(&mut c, f64::from(i), "a", "x"), Done::Ok);
    }
    assert_eq!(click(&mut c, 99.0, "a", "x"), Done::Flush);
    let b = batch_json(&mut c);
    let events = b.get("events");
    assert_eq!(events.len(), 100);
    let seqs: Vec<f64> = (0..100).map(|i| events.at(i).get("seq").num()).collect();
    assert_eq!(seqs, (1..=100).map(f64::from).collect::<Vec<_>>());
    assert_eq!(c.batch(0.0), 0, "nothing left");
    assert_eq!(c.seq(), 100);
}

fn big_error(c: &mut Core, strings: usize) -> Done {
    c.event(8, 1.0);
    for _ in 0..strings {
        c.str(MSG, "m".repeat(MAX_STR_BYTES).as_bytes(), Text::Plain);
    }
    c.done()
}

#[test]
fn a_batch_is_sent_at_60_kb_with_the_event_that_reached_it() {
    let mut c = core();
    let mut n = 1;
    while big_error(&mut c, 1) == Done::Ok {
        n += 1;
    }
    assert_eq!(c.pending(), n);
    let len = c.batch(0.0) as usize;
    let b = serde_like::parse(std::str::from_utf8(c.out()).unwrap());
    assert_eq!(b.get("events").len() as u32, n);
    assert!(len > MAX_BATCH_BYTES && len < MAX_BATCH_BYTES + MAX_STR_BYTES + 200, "{len}");
    assert_eq!(c.pending(), 0);
    big_error(&mut c, 1);
    assert_eq!(batch_json(&mut c).get("events").at(0).get("seq").num(), f64::from(n + 1));
}

#[test]
fn events_that_do_not_fit_are_dropped_and_counted() {
    let mut c = core();
    assert_eq!(big_error(&mut c, 9), Done::Dropped, "over MAX_EVENT_BYTES");
    // A glue that does not send the batch when told to: once there is no
    // room, events are dropped, never cut.
    let done: Vec<Done> = (0..60).map(|_| big_error(&mut c, 1)).collect();
    let kept = done.iter().filter(|d| **d != Done::Dropped).count();
    assert!(kept < 60 && done[kept..].iter().all(|d| *d == Done::Dropped), "{done:?}");
    let b = batch_json(&mut c);
    assert_eq!(b.get("events").len(), kept);
    assert_eq!(b.get("dropped").num() as usize, 1 + 60 - kept);
    assert_eq!(b.get("events").at(kept - 1).get("seq").num() as usize, kept, "a dropped event takes no seq");
}

#[test]
fn an_unfinished_event_is_dropped_by_the_next() {
    let mut c = core();
    c.event(8, 1.0);
    c.str(MSG, b"never done", Text::Plain);
    click(&mut c, 2.0, "a", "x");
    let b = batch_json(&mut c);
    assert_eq!(b.get("events").len(), 1);
    assert_eq!(b.get("events").at(0).get("t").str(), "click");
}

#[test]
fn lost_events_are_reported_once_in_dropped() {
    let mut c = core();
    c.lost(7);
    click(&mut c, 1.0, "a", "x");
    assert_eq!(batch_json(&mut c).get("dropped").num(), 7.0);
    click(&mut c, 2.0, "a", "x");
    assert_eq!(batch_json(&mut c).get("dropped"), &serde_like::Value::Null);
}

#[test]
fn envelope_fields_and_raw_props() {
    let mut c = core();
    assert!(c.set(Slot::Uid, "user \"7\"".as_bytes()));
    assert!(c.set(Slot::Ctx, r#"{"vw":1280,"vh":720}"#.as_bytes()));
    assert!(!c.set(Slot::Uid, "u".repeat(300).as_bytes()), "too long for a uid");
    assert!(c.set(Slot::Uid, "u2".as_bytes()));
    c.set_seq(41);
    c.event(12, 5.0);
    c.str(39, "checkout".as_bytes(), Text::Plain);
    c.raw(PROPS, r#"{"step":2,"ok":true}"#.as_bytes());
    c.done();
    let b = batch_json(&mut c);
    assert_eq!(b.get("uid").str(), "u2");
    assert_eq!(b.get("ctx").get("vh").num(), 720.0);
    let e = b.get("events").at(0);
    assert_eq!(e.get("seq").num(), 42.0);
    assert_eq!(e.get("name").str(), "checkout");
    assert_eq!(e.get("props").get("step").num(), 2.0);
}

#[test]
fn props_that_are_no_object_are_left_out() {
    let mut c = core();
    for v in ["", "null", "[1,2]", "\"paid\"", "42", "true"] {
        c.event(12, 5.0);
        c.str(39, b"x", Text::Plain);
        c.raw(PROPS, v.as_bytes());
        assert_eq!(c.done(), Done::Ok);
        let e = batch_json(&mut c).get("events").at(0).clone();
        assert_eq!(e.get("props"), &serde_like::Value::Null, "props {v}");
        assert_eq!(e.get("name").str(), "x");
    }
}

#[test]
fn the_largest_envelope_fits_after_the_fullest_batch() {
    let mut c = core();
    let sid = "s".repeat(128);
    let uid = "\u{1}".repeat(256); // 1,536 bytes escaped
    let ctx = std::format!(r#"{{"k":"{}"}}"#, "c".repeat(1016));
    assert!(c.set(Slot::Sid, sid.as_bytes()) && c.set(Slot::Uid, uid.as_bytes()));
    assert!(c.set(Slot::Ctx, ctx.as_bytes()) && ctx.len() == 1024);
    c.lost(u32::MAX);
    // A glue that never sends: events until there is no room.
    while big_error(&mut c, 1) != Done::Dropped {}
    let b = batch_json(&mut c);
    assert_eq!(b.get("sid").str(), sid);
    assert_eq!(b.get("uid").str(), uid);
    assert_eq!(b.get("ctx").get("k").str().len(), 1016);
    assert_eq!(b.get("dropped").num(), f64::from(u32::MAX) + 1.0);
    assert!(b.get("events").len() > 30);
}

#[test]
fn names_are_found_by_index() {
    let all: Vec<&str> = NAMES.split(' ').collect();
    for (i, n) in all.iter().enumerate() {
        assert_eq!(name(i as u32), n.as_bytes());
    }
    assert_eq!(name(all.len() as u32), b"_");
    assert_eq!(name(EL), b"el");
}

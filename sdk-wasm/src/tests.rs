use std::prelude::rust_2021::*;

use super::*;

const URL: u32 = 13;
const X: u32 = 15;
const SEL: u32 = 17;
const EL: u32 = 18;
const TXT: u32 = 19;
const TAG: u32 = 20;
const IN_LINK: u32 = 26;
const MSG: u32 = 29;
const PROPS: u32 = 40;

fn core() -> std::boxed::Box<Core> {
    let mut c = std::boxed::Box::new(Core::new());
    c.input[..3].copy_from_slice(b"s-1");
    assert!(c.set(Slot::Sid, 3));
    c
}

fn arg(c: &mut Core, s: &str) -> u32 {
    c.input[..s.len()].copy_from_slice(s.as_bytes());
    s.len() as u32
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

fn click(c: &mut Core, ts: f64, levels: &[&str], label: &str) -> Done {
    c.event(1, ts);
    c.num(X, 12.6);
    c.num(X + 1, -3.5);
    let n = arg(c, &levels.join("\n"));
    c.sel(SEL, n);
    c.open(EL);
    let n = arg(c, "BUTTON");
    c.str(TAG, n, Text::Plain);
    c.flag(IN_LINK, false);
    c.close();
    let n = arg(c, label);
    c.str(TXT, n, Text::Label);
    c.done()
}

fn sel_of(levels: &[&str]) -> String {
    let mut c = core();
    click(&mut c, 1.0, levels, "x");
    batch_json(&mut c).get("events").at(0).get("sel").str().to_owned()
}

#[test]
fn a_click_is_encoded_as_the_wire_format_says() {
    let mut c = core();
    assert_eq!(
        click(&mut c, 1_700_000_000_123.4, &["button go primary big huge", "div  cart", "main  "], "Pay $20"),
        Done::Ok
    );
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
    assert_eq!(e.get("sel").str(), "main > div.cart > button#go.primary.big.huge");
    assert_eq!(e.get("el").get("tag").str(), "BUTTON");
    assert_eq!(e.get("el").get("in_link"), &serde_like::Value::Bool(false));
    assert_eq!(e.get("txt").str(), "Pay $##");
}

#[test]
fn labels_are_trimmed_collapsed_masked_and_short() {
    let label = |s: &str| {
        let mut out = Buf::<512>::new();
        write_label(s.as_bytes(), &mut out.w(), true);
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    };
    assert_eq!(label("  Order\n  #42 \t now "), "Order ### now");
    assert_eq!(label("Mail ann@example.com today"), "Mail [email] today");
    assert_eq!(label("Say \"hi\""), "Say \\\"hi\\\"", "escaped for JSON");
    assert_eq!(label(&"é".repeat(100)).chars().count(), MAX_LABEL_CHARS);
    assert_eq!(label(&"ab ".repeat(40)).chars().count(), MAX_LABEL_CHARS);
    assert_eq!(label(""), "");
    let mut out = Buf::<512>::new();
    write_label(b" Order #42  for ann@example.com ", &mut out.w(), false);
    assert_eq!(out.as_bytes(), b"Order #42 for ann@example.com", "allowlisted: trimmed, not masked");
}

#[test]
fn selectors_keep_five_levels_three_classes_and_512_bytes() {
    assert_eq!(sel_of(&["div  a b c d"; 8]), ["div.a.b.c"; 5].join(" > "));
    assert_eq!(sel_of(&["A x", "Li  item  active", "UL "]), "ul > li.item.active > a#x");
    let long = format!("div {}", "x".repeat(300));
    assert_eq!(
        sel_of(&[&long, &long]),
        format!("div#{}", "x".repeat(300)),
        "the level that does not fit is left out"
    );
    assert_eq!(sel_of(&["b id\"q"]), "b#id\"q");
}

#[test]
fn urls_lose_their_query_but_for_allowed_parameters() {
    let url = |s: &str, allow: &str| {
        let mut out = Buf::<2048>::new();
        write_url(s.as_bytes(), allow.as_bytes(), &mut out.w());
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    };
    assert_eq!(url("https://a.b/p?token=x&page=2#top", ""), "https://a.b/p#top");
    assert_eq!(url("https://a.b/p?token=x&page=2&tab=1", "page,tab"), "https://a.b/p?page=2&tab=1");
    assert_eq!(url("https://a.b/cb#access_token=abc", ""), "https://a.b/cb");
    assert_eq!(url("https://a.b/?", "page"), "https://a.b/");
}

#[test]
fn strings_are_escaped_and_truncated_on_a_character_boundary() {
    let mut c = core();
    c.event(8, 1.0);
    let msg = std::format!("quote \" back \\ nl \n ctl \u{1} {}", "€".repeat(1000));
    let n = arg(&mut c, &msg);
    c.str(MSG, n, Text::Plain);
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
        assert_eq!(click(&mut c, f64::from(i), &["a  "], "x"), Done::Ok);
    }
    assert_eq!(click(&mut c, 99.0, &["a  "], "x"), Done::Flush);
    let b = batch_json(&mut c);
    let events = b.get("events");
    assert_eq!(events.len(), 100);
    let seqs: Vec<f64> = (0..100).map(|i| events.at(i).get("seq").num()).collect();
    assert_eq!(seqs, (1..=100).map(f64::from).collect::<Vec<_>>());
    assert_eq!(c.batch(0.0), 0, "nothing left");
    assert_eq!(c.seq(), 100);
}

#[test]
fn a_batch_never_grows_past_60_kb_and_the_event_that_would_waits() {
    let mut c = core();
    let big = "m".repeat(MAX_STR_BYTES);
    let mut flushed = None;
    for i in 0..100 {
        c.event(8, f64::from(i));
        let n = arg(&mut c, &big);
        c.str(MSG, n, Text::Plain);
        if c.done() == Done::Flush {
            flushed = Some(i);
            break;
        }
    }
    let i = flushed.expect("flushed before 100 events");
    assert_eq!(c.pending(), i + 1, "the batch's events and the one waiting");
    let n = c.batch(0.0) as usize;
    assert!(n <= MAX_BATCH_BYTES + MAX_ENVELOPE, "{n}");
    let b = serde_like::parse(std::str::from_utf8(c.out()).unwrap());
    assert_eq!(b.get("events").len() as u32, i);
    // The waiting event starts the next batch.
    assert_eq!(c.pending(), 1);
    let next = batch_json(&mut c);
    assert_eq!(next.get("events").at(0).get("seq").num(), f64::from(i + 1));
}

#[test]
fn lost_events_are_reported_once_in_dropped() {
    let mut c = core();
    c.lost(7);
    click(&mut c, 1.0, &["a  "], "x");
    assert_eq!(batch_json(&mut c).get("dropped").num(), 7.0);
    click(&mut c, 2.0, &["a  "], "x");
    assert_eq!(batch_json(&mut c).get("dropped"), &serde_like::Value::Null);
}

#[test]
fn envelope_fields_and_raw_props() {
    let mut c = core();
    let n = arg(&mut c, "user \"7\"");
    assert!(c.set(Slot::Uid, n));
    let n = arg(&mut c, r#"{"vw":1280,"vh":720}"#);
    assert!(c.set(Slot::Ctx, n));
    let n = arg(&mut c, &"u".repeat(300));
    assert!(!c.set(Slot::Uid, n), "too long for a uid");
    let n = arg(&mut c, "u2");
    assert!(c.set(Slot::Uid, n));
    c.set_seq(41);
    c.event(12, 5.0);
    let n = arg(&mut c, "checkout");
    c.str(39, n, Text::Plain);
    let n = arg(&mut c, r#"{"step":2,"ok":true}"#);
    c.raw(PROPS, n);
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
fn a_nav_url_goes_through_the_query_allowlist() {
    let mut c = core();
    let n = arg(&mut c, "q");
    assert!(c.set(Slot::AllowQuery, n));
    c.event(0, 1.0);
    let n = arg(&mut c, "https://shop.test/search?q=shoes&email=a%40b.c");
    c.str(URL, n, Text::Url);
    c.done();
    assert_eq!(batch_json(&mut c).get("events").at(0).get("url").str(), "https://shop.test/search?q=shoes");
}

#[test]
fn names_are_found_by_index() {
    let all: Vec<&str> = NAMES.split(' ').collect();
    for (i, n) in all.iter().enumerate() {
        assert_eq!(name(i as u32), n.as_bytes());
    }
    assert_eq!(name(all.len() as u32), b"_");
}

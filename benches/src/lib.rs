//! Shared fixtures of the UFSE benchmarks (`benches/*.rs`): realistic
//! wire-format batches as a browser SDK sends them, and the validated
//! [`LogBatch`]es the processor reads back.
//!
//! Everything is deterministic: the same arguments give the same bytes, so
//! runs on different machines measure the same work.

use std::io::Write;

use serde_json::{json, Value};
use ufse_schema::{parse_batch, Limits, LogBatch};

/// The project every fixture belongs to.
pub const PROJECT: &str = "default";

/// Client time of the first event of every fixture session (2024-11-28).
pub const T0: i64 = 1_732_750_000_000;

/// Client-time step between consecutive events of a full batch, ms.
pub const STEP_MS: i64 = 150;

/// Events in a full batch.
pub const BATCH_EVENTS: usize = 100;

/// Client time a full batch spans.
pub const BATCH_SPAN_MS: i64 = BATCH_EVENTS as i64 * STEP_MS;

const PAGE: &str = "https://shop.example.com/products/42-wireless-headphones?ref=home";
const ADD_SEL: &str = "main > div.product > form.buy > div.actions > button.add-to-cart";
const LINK_SEL: &str = "body > header > nav.top > ul > li:nth-child(3) > a";
const QTY_SEL: &str = "main > div.product > form.buy > input#qty";
const API: &str = "https://api.shop.example.com/v1/cart/items";

/// The client context a desktop browser sends.
pub fn ctx() -> Value {
    json!({
        "ua": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "vw": 1440, "vh": 900, "dpr": 2, "lang": "en-US", "tz": "Europe/Berlin",
        "sdk": "ufse-js/1.0.0"
    })
}

fn click(ts: i64, seq: u64, x: f64, y: f64, sel: &str, el: Value, txt: &str) -> Value {
    json!({"t":"click","ts":ts,"seq":seq,"x":x,"y":y,"sel":sel,"el":el,"txt":txt})
}

fn button() -> Value {
    json!({"tag":"button","type":"submit"})
}

fn link() -> Value {
    json!({"tag":"a","href":"/deals","in_link":true})
}

/// One event of a full batch: a repeating cycle of ten with pointer moves,
/// scrolls, clicks on a button (reacted to by a mutation and a request),
/// clicks on a link (a route change), a field edit, and now and then a
/// rage burst or an error after a click. Event `i` of a session has
/// `seq = i + 1` and `ts = T0 + i * STEP_MS`.
pub fn event(i: u64) -> Value {
    let seq = i + 1;
    let ts = T0 + i as i64 * STEP_MS;
    if i == 0 {
        return json!({"t":"nav","ts":ts,"seq":seq,"url":PAGE,"nav":"load"});
    }
    let cycle = i / 10;
    let wobble = (i % 7) as f64;
    match i % 10 {
        0 | 1 | 6 => json!({"t":"move","ts":ts,"seq":seq,"x":400.0 + wobble * 13.0,"y":310.0 + wobble * 5.0}),
        2 => click(ts, seq, 612.0, 418.0 + wobble, ADD_SEL, button(), "Add to cart"),
        // Every fourth cycle the button is clicked again at once: a rage burst.
        3 | 4 if cycle % 4 == 3 => click(ts, seq, 614.0, 420.0, ADD_SEL, button(), "Add to cart"),
        3 => json!({"t":"mutation","ts":ts,"seq":seq,"n":12}),
        4 if cycle % 5 == 2 => json!({
            "t":"error","ts":ts,"seq":seq,"msg":"TypeError: Cannot read properties of undefined (reading 'sku')",
            "src":"https://shop.example.com/assets/app.3f9c2.js","line":1,"col":48213,"kind":"error"
        }),
        4 => json!({"t":"net","ts":ts,"seq":seq,"url":API,"method":"POST","status":201,"dur":120}),
        5 | 9 => json!({"t":"scroll","ts":ts,"seq":seq,"y":(i * 37 % 2400) as f64,"vh":900.0}),
        7 if cycle & 1 == 0 => click(ts, seq, 220.0, 24.0, LINK_SEL, link(), "Deals"),
        7 => json!({"t":"input","ts":ts,"seq":seq,"sel":QTY_SEL}),
        _ if cycle & 1 == 0 => {
            json!({"t":"nav","ts":ts,"seq":seq,"url":"https://shop.example.com/deals","nav":"push"})
        }
        _ => json!({"t":"mutation","ts":ts,"seq":seq,"n":3}),
    }
}

/// The wire-format body of a batch holding events `first..first + n`.
pub fn batch_json(sid: &str, first: u64, n: usize) -> Vec<u8> {
    let events: Vec<Value> = (first..first + n as u64).map(event).collect();
    let last_ts = T0 + (first as i64 + n as i64) * STEP_MS;
    let body = json!({
        "v": 1, "sid": sid, "uid": "user-8d2f1c", "sent_at": last_ts + 40, "dropped": 0,
        "ctx": ctx(), "events": events
    });
    serde_json::to_vec(&body).expect("fixture serializes")
}

/// The 20-event history of a short session: a page load, reading (moves and
/// scrolls), a few clicks each reacted to by a mutation or a request, and a
/// field edit. Nothing in it is frustrated.
pub fn short_history_json(sid: &str) -> Vec<u8> {
    let at = |k: i64| T0 + k * 400;
    let events = json!([
        {"t":"nav","ts":at(0),"seq":1,"url":PAGE,"nav":"load"},
        {"t":"move","ts":at(1),"seq":2,"x":400.0,"y":300.0},
        {"t":"scroll","ts":at(2),"seq":3,"y":320.0,"vh":900.0},
        {"t":"move","ts":at(3),"seq":4,"x":610.0,"y":410.0},
        click(at(4), 5, 612.0, 418.0, ADD_SEL, button(), "Add to cart"),
        {"t":"mutation","ts":at(4) + 30,"seq":6,"n":12},
        {"t":"net","ts":at(5),"seq":7,"url":API,"method":"POST","status":201,"dur":120},
        {"t":"scroll","ts":at(6),"seq":8,"y":640.0,"vh":900.0},
        {"t":"move","ts":at(7),"seq":9,"x":300.0,"y":520.0},
        click(at(8), 10, 330.0, 520.0, "main > section.reviews > button.more", json!({"tag":"button"}), "More reviews"),
        {"t":"mutation","ts":at(8) + 60,"seq":11,"n":40},
        {"t":"scroll","ts":at(9),"seq":12,"y":1100.0,"vh":900.0},
        {"t":"input","ts":at(10),"seq":13,"sel":QTY_SEL},
        {"t":"move","ts":at(11),"seq":14,"x":612.0,"y":418.0},
        click(at(12), 15, 612.0, 418.0, ADD_SEL, button(), "Add to cart"),
        {"t":"mutation","ts":at(12) + 25,"seq":16,"n":12},
        {"t":"net","ts":at(13),"seq":17,"url":API,"method":"POST","status":201,"dur":95},
        {"t":"move","ts":at(14),"seq":18,"x":700.0,"y":120.0},
        {"t":"scroll","ts":at(15),"seq":19,"y":0.0,"vh":900.0},
        {"t":"vis","ts":at(16),"seq":20,"state":"hidden"}
    ]);
    let body = json!({
        "v": 1, "sid": sid, "uid": "user-8d2f1c", "sent_at": at(16) + 40, "ctx": ctx(), "events": events
    });
    serde_json::to_vec(&body).expect("fixture serializes")
}

/// Gzip-compresses `data` at the default level, as browsers' `CompressionStream` does.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// Validates a wire body and wraps it as the edge would, received 40 ms
/// after its last event.
///
/// # Panics
///
/// When the body is not a valid batch (fixtures always are).
pub fn log_batch(body: &[u8]) -> LogBatch {
    let parsed = parse_batch(body, &Limits::default()).expect("fixture batch is valid");
    assert!(parsed.dropped.is_empty(), "fixture events are valid: {:?}", parsed.dropped);
    let received = parsed.events.last().map_or(T0, |e| e.ts + 80);
    LogBatch::from_parsed(PROJECT, received, parsed)
}

/// The `n`-th full batch of a session: events `n * 100 .. n * 100 + 100`.
pub fn full_batch(sid: &str, n: u64) -> LogBatch {
    log_batch(&batch_json(sid, n * BATCH_EVENTS as u64, BATCH_EVENTS))
}

/// The session ids of the fixtures: what SDKs generate (URL-safe, 22 chars).
pub fn sid(i: usize) -> String {
    format!("s{i:08x}-k3Jq9ZtW4mXe")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_valid_and_varied() {
        let b = full_batch(&sid(1), 3);
        assert_eq!(b.events.len(), BATCH_EVENTS);
        let kinds: std::collections::BTreeSet<&str> = b.events.iter().map(|e| e.kind()).collect();
        for k in ["nav", "click", "mutation", "move", "scroll", "net", "input", "error"] {
            assert!(kinds.contains(k), "{k} missing from {kinds:?}");
        }
        let short = log_batch(&short_history_json(&sid(2)));
        assert_eq!(short.events.len(), 20);
        assert!(gzip(&batch_json(&sid(1), 0, 100)).len() < batch_json(&sid(1), 0, 100).len() / 4);
    }
}

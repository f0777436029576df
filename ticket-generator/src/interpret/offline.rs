//! The offline interpreter: deterministic, no network. It says what the
//! evidence says, in words, per signal kind: a title, a summary with the
//! counts, a probable cause from the facts of the first incident (the
//! error and its top frame, the request and its status, the reaction that
//! never came), and the first thing to check.

use ufse_schema::fmt_ms;

use super::{Answer, InterpretError, Interpretation, Interpreter, OFFLINE_MODEL};
use crate::{BoxFuture, Evidence};

/// The offline interpreter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

/// `s` cut to `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Offline {
    /// The interpretation of `e`.
    pub fn explain(&self, e: &Evidence) -> Interpretation {
        let thing = match (&e.label, &e.selector) {
            (Some(l), _) if !l.is_empty() => format!("\"{l}\""),
            (_, Some(s)) => s.rsplit(" > ").next().unwrap_or(s).to_owned(),
            _ => "the page".to_owned(),
        };
        let page = &e.page;
        let error = e.error.as_ref();
        let request = e.request.as_ref();
        let secs = |ms: i64| format!("{:.1} s", ms as f64 / 1000.0);
        let (title, what, cause, fix, labels, confidence): (String, String, String, String, &[&str], f64) =
            match e.kind.as_str() {
                "error_click" => (
                    match error {
                        Some(err) => format!("Clicking {thing} throws {} on {page}", err.message),
                        None => format!("Clicking {thing} throws an uncaught error on {page}"),
                    },
                    format!("Clicking {thing} on {page} is followed by an uncaught JavaScript error"),
                    match error {
                        Some(err) => {
                            let at = err.top_frame.as_deref().or(err.source.as_deref());
                            match at {
                                Some(at) => format!("The click's handler throws \"{}\" ({at}).", err.message),
                                None => format!("The click's handler throws \"{}\".", err.message),
                            }
                        }
                        None => "An uncaught error follows the click; the session's events were not available to say which.".into(),
                    },
                    "Reproduce with the steps below, fix the code path at the top frame of the error, and guard it so a failure shows the user a message instead of nothing.".into(),
                    &["bug", "javascript-error"],
                    if error.is_some() { 0.8 } else { 0.5 },
                ),
                "failed_request" => (
                    match request {
                        Some(r) if r.status == 0 => format!("{} {} fails without an answer on {page}", r.method, r.url),
                        Some(r) => format!("{} {} answers {} on {page}", r.method, r.url, r.status),
                        None => format!("A request started from {page} fails"),
                    },
                    format!("A request started by clicking {thing} on {page} fails"),
                    match request {
                        Some(r) if r.status == 0 => format!(
                            "{} {} got no answer after {} ms: the network failed, or CORS, a blocker or a timeout stopped it.",
                            r.method, r.url, r.duration_ms
                        ),
                        Some(r) if r.status >= 500 => format!(
                            "{} {} answered {} after {} ms: the server failed.",
                            r.method, r.url, r.status, r.duration_ms
                        ),
                        Some(r) => format!(
                            "{} {} answered {} after {} ms: the server refused what the page sent.",
                            r.method, r.url, r.status, r.duration_ms
                        ),
                        None => "A request the click started failed; the session's events were not available to say which.".into(),
                    },
                    "Check the endpoint's server logs at the times of the incidents below, and show the user what failed with a way to retry.".into(),
                    &["bug", "network"],
                    if request.is_some() { 0.8 } else { 0.5 },
                ),
                "dead_click" => (
                    format!("Clicking {thing} does nothing on {page}"),
                    format!("Users click {thing} on {page} and nothing happens"),
                    format!(
                        "Nothing on the page reacted within {} of the click: no change to the page, no navigation, no request. The element looks clickable but has no action, or its action fails silently.",
                        secs(e.span_ms)
                    ),
                    "Give the element an action, or make it look not clickable; if it has one, make it answer within 100 ms (a state change or a spinner).".into(),
                    &["ux", "bug"],
                    0.6,
                ),
                "rage_click" => (
                    format!("Users rage-click {thing} on {page}"),
                    format!("Users click {thing} on {page} again and again in quick succession"),
                    format!(
                        "{} clicks within {} on one element: it gives no sign that the click was taken, or reacts too slowly.",
                        e.count,
                        secs(e.span_ms)
                    ),
                    "Make the element answer every click at once (disabled state, spinner, message), and check whether its action failed.".into(),
                    &["ux"],
                    0.5,
                ),
                "slow_click" => (
                    format!("{thing} responds slowly on {page}"),
                    format!("Clicking {thing} on {page} takes long to show anything"),
                    format!("The first reaction to the click came only after {}.", secs(e.span_ms)),
                    "Show progress at once, and profile what the click waits for.".into(),
                    &["performance"],
                    0.6,
                ),
                "unresponsive" => (
                    format!("The page freezes after clicking {thing} on {page}"),
                    format!("Clicking {thing} on {page} blocks the page"),
                    match e.long_task_ms {
                        Some(ms) => format!("The main thread was blocked for {ms} ms right after the click."),
                        None => "The main thread was blocked right after the click.".into(),
                    },
                    "Profile the click's handler; move the long work off the main thread or split it.".into(),
                    &["performance"],
                    0.6,
                ),
                "form_loop" => (
                    format!("Form {thing} is submitted again and again on {page}"),
                    format!("Users submit the form {thing} on {page} repeatedly without moving on"),
                    format!("{} submits in a row: the form rejects the input without saying why, or fails silently.", e.count),
                    "Show validation errors next to the fields and confirm what a submit did.".into(),
                    &["ux"],
                    0.5,
                ),
                "thrashed_cursor" => (
                    format!("Users thrash the cursor on {page}"),
                    format!("The pointer swings back and forth on {page}"),
                    format!("{} reversals of the pointer: users search for something they cannot find.", e.count),
                    "Review the page's layout and where its main action is.".into(),
                    &["ux"],
                    0.4,
                ),
                "u_turn" => (
                    format!("Users leave {page} right after arriving"),
                    format!("Users open {page} and leave it again within {}", secs(e.span_ms)),
                    "The page is not what the link promised, or it failed to show its content.".into(),
                    "Check what links to the page, and whether it loads and renders its content.".into(),
                    &["ux"],
                    0.4,
                ),
                "excessive_scroll" => (
                    format!("Users scroll back and forth on {page}"),
                    format!("Users scroll up and down on {page}, searching"),
                    format!("{} reversals of scrolling: the content users want is hard to find.", e.count),
                    "Review the page's structure, headings and search.".into(),
                    &["ux"],
                    0.4,
                ),
                other => (
                    format!("{other} on {page}"),
                    format!("{other} on {page}"),
                    "The evidence does not say.".into(),
                    "Replay a session to see what happened.".into(),
                    &["needs-investigation"],
                    0.2,
                ),
            };
        let mut labels: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        if e.status == "regressed" {
            labels.push("regression".into());
        }
        let since = fmt_ms(e.first_seen);
        let summary = format!(
            "{what}: {} in {} of {} since {} UTC (latest {} UTC).{}",
            plural(e.incidents, "incident", "incidents"),
            plural(e.sessions, "session", "sessions"),
            plural(e.users, "user", "users"),
            &since[..16],
            &fmt_ms(e.last_seen)[..16],
            if e.status == "regressed" { " It came back after it was resolved." } else { "" },
        );
        Interpretation {
            title: clip(&title, 120),
            summary: clip(&summary, 1200),
            probable_cause: clip(&cause, 800),
            suggested_fix: clip(&fix, 800),
            confidence,
            labels,
        }
    }
}

impl Interpreter for Offline {
    fn name(&self) -> &'static str {
        "offline"
    }

    fn model(&self) -> &str {
        OFFLINE_MODEL
    }

    fn interpret<'a>(&'a self, e: &'a Evidence) -> BoxFuture<'a, Result<Answer, InterpretError>> {
        let answer = Answer { interpretation: self.explain(e), input_tokens: 0, output_tokens: 0 };
        Box::pin(async move { Ok(answer) })
    }
}

//! What is known about an issue, as interpreters and tickets see it: the
//! store's counts and samples, and the facts of its first incident read
//! from that session's timeline (the error, the failing request, the steps
//! that led there). Every string that came from a page is redacted here,
//! once, so nothing downstream can forget to.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ufse_incident_store::{Incident, IssueDetail};
use ufse_schema::{Body, Event, NavType};

use crate::redact::{redact, redact_opt};

/// Steps kept before the incident; older ones are summarized as skipped.
const MAX_STEPS: usize = 10;
/// Longest error message kept.
const MAX_MESSAGE: usize = 300;

/// One of an issue's latest incidents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// The incident's id.
    pub id: String,
    /// Its session.
    pub sid: String,
    /// When it was seen (skew-corrected), ms.
    pub seen_ms: i64,
    /// Its clicks, reversals or submits (1 for other kinds).
    pub count: u32,
    /// The `seq`s of its evidence events.
    pub evidence: Vec<u64>,
}

/// The uncaught error of an error click.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFact {
    /// Its message.
    pub message: String,
    /// Where it was thrown (`script:line:col`), if the browser said.
    pub source: Option<String>,
    /// The top frame of its stack.
    pub top_frame: Option<String>,
}

/// The request a failed request was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFact {
    /// Its method.
    pub method: String,
    /// Its URL, without query string.
    pub url: String,
    /// Its status; 0 when no answer came.
    pub status: u16,
    /// How long it took, ms.
    pub duration_ms: u64,
}

/// What is known about an issue, redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The issue.
    pub fingerprint: String,
    /// Its project.
    pub project: String,
    /// Its signal kind.
    pub kind: String,
    /// Its severity.
    pub severity: String,
    /// Its lifecycle status.
    pub status: String,
    /// Host and path template.
    pub page: String,
    /// A page where it happened.
    pub example_url: Option<String>,
    /// The clicked element's selector.
    pub selector: Option<String>,
    /// The clicked element's label (its text or aria-label).
    pub label: Option<String>,
    /// The clicked element (`button`, `input[type=submit]`).
    pub element: Option<String>,
    /// Incidents.
    pub incidents: u64,
    /// Distinct sessions.
    pub sessions: u64,
    /// Distinct users.
    pub users: u64,
    /// First incident, ms.
    pub first_seen: i64,
    /// Latest incident, ms.
    pub last_seen: i64,
    /// Pages where it happened, with their incidents.
    pub pages: Vec<(String, u64)>,
    /// The first incident and the latest ones.
    pub samples: Vec<Sample>,
    /// The first incident's session, whose timeline the steps come from.
    pub first_sid: String,
    /// The first incident's clicks, reversals or submits.
    pub count: u32,
    /// The first incident's span, ms (for a dead click, the window nothing reacted in).
    pub span_ms: i64,
    /// Steps to reproduce, the last one what went wrong.
    pub steps: Vec<String>,
    /// The error, for an error click.
    pub error: Option<ErrorFact>,
    /// The request, for a failed request.
    pub request: Option<RequestFact>,
    /// How long the page froze, for an unresponsive page.
    pub long_task_ms: Option<u64>,
    /// Whether the session's timeline was read (else the incidents alone speak).
    pub from_timeline: bool,
}

impl Evidence {
    /// Gathers the evidence of `d`, with `timeline` the events of its
    /// first incident's session when they can be read.
    pub fn build(d: &IssueDetail, timeline: Option<&[Event]>) -> Evidence {
        let first = &d.first;
        let mut samples = vec![sample(first)];
        samples.extend(d.latest.iter().filter(|i| i.id != first.id).map(sample));
        let mut e = Evidence {
            fingerprint: d.issue.fingerprint.clone(),
            project: d.issue.project.clone(),
            kind: d.issue.kind.clone(),
            severity: d.issue.severity.clone(),
            status: d.issue.status.clone(),
            page: redact(&d.issue.url_template).into_owned(),
            example_url: redact_opt(first.url.as_deref().or(d.issue.example_url.as_deref())),
            selector: redact_opt(d.issue.sel.as_deref()),
            label: None,
            element: None,
            incidents: d.issue.incidents,
            sessions: d.issue.sessions,
            users: d.issue.users,
            first_seen: d.issue.first_seen,
            last_seen: d.issue.last_seen,
            pages: d.pages.iter().map(|(p, n)| (redact(p).into_owned(), *n)).collect(),
            samples,
            first_sid: first.sid.clone(),
            count: first.count,
            span_ms: first.end_ts - first.ts,
            steps: Vec::new(),
            error: None,
            request: None,
            long_task_ms: None,
            from_timeline: false,
        };
        match timeline.filter(|t| !t.is_empty()) {
            Some(events) => e.read_timeline(first, events),
            None => e.steps = e.steps_from_incident(),
        }
        e
    }

    /// The facts of the first incident, and the steps that led to it, from its session's events.
    fn read_timeline(&mut self, first: &Incident, events: &[Event]) {
        self.from_timeline = true;
        let is_evidence = |ev: &&Event| first.evidence.contains(&ev.seq);
        let evidence: Vec<&Event> = events.iter().filter(is_evidence).collect();
        for ev in &evidence {
            match &ev.body {
                Body::Click { sel, el, txt, .. } if self.label.is_none() && self.element.is_none() => {
                    self.label = redact_opt(txt.as_deref());
                    self.element = el.tag.as_ref().map(|tag| match &el.r#type {
                        Some(t) if tag == "input" || tag == "button" => format!("{tag}[type={t}]"),
                        _ => tag.clone(),
                    });
                    if self.selector.is_none() {
                        self.selector = Some(redact(sel).into_owned());
                    }
                }
                Body::Error(err) if self.error.is_none() => {
                    let mut message = redact(&err.msg).into_owned();
                    truncate(&mut message, MAX_MESSAGE);
                    let source = err.src.as_deref().map(|src| {
                        let src = redact(src);
                        match (err.line, err.col) {
                            (Some(l), Some(c)) => format!("{src}:{l}:{c}"),
                            (Some(l), None) => format!("{src}:{l}"),
                            _ => src.into_owned(),
                        }
                    });
                    let top_frame = err.stack.as_deref().and_then(top_frame).map(|f| redact(f).into_owned());
                    self.error = Some(ErrorFact { message, source, top_frame });
                }
                Body::Net { method, status, dur } if self.request.is_none() => {
                    let url = ev.url.as_deref().map(|u| redact(u).into_owned()).unwrap_or_default();
                    self.request =
                        Some(RequestFact { method: method.clone(), url, status: *status, duration_ms: *dur });
                }
                Body::LongTask { dur } => self.long_task_ms = Some(self.long_task_ms.unwrap_or(0).max(*dur)),
                _ => {}
            }
        }
        let Some(last) = events.iter().rposition(|ev| first.evidence.contains(&ev.seq)) else {
            // The evidence is not in what was read (retention): the incident alone speaks.
            self.steps = self.steps_from_incident();
            return;
        };
        let first_evidence = events.iter().position(|ev| first.evidence.contains(&ev.seq)).unwrap_or(last);
        // From the page view that led to the incident (or the one before it, for a u-turn).
        let navs_before: Vec<usize> = events[..=first_evidence]
            .iter()
            .enumerate()
            .filter(|(_, ev)| is_nav(ev))
            .map(|(i, _)| i)
            .collect();
        let start = match (self.kind.as_str(), navs_before.as_slice()) {
            ("u_turn", [.., before, _]) => *before,
            (_, [.., at]) => *at,
            _ => 0,
        };
        let mut steps = describe(&events[start..=last]);
        if steps.len() > MAX_STEPS {
            // The page it began on, a note, and the last steps.
            let tail = steps.split_off(steps.len() - (MAX_STEPS - 1));
            let skipped = steps.len() - 1;
            steps.truncate(1);
            steps.push(format!("({skipped} more steps)"));
            steps.extend(tail);
        }
        steps.push(self.outcome());
        self.steps = steps;
    }

    /// Steps from the incident alone: the page, the element, what went wrong.
    fn steps_from_incident(&self) -> Vec<String> {
        let mut steps = Vec::new();
        match &self.example_url {
            Some(url) => steps.push(format!("Open {url}")),
            None if !self.page.is_empty() => steps.push(format!("Open {}", self.page)),
            None => {}
        }
        if let Some(sel) = &self.selector {
            let target = target(sel, self.label.as_deref());
            let times = if self.count > 1 { format!(" {} times", self.count) } else { String::new() };
            let verb = if self.kind == "form_loop" { "Submit" } else { "Click" };
            steps.push(format!("{verb} {target}{times}"));
        }
        steps.push(self.outcome());
        steps
    }

    /// The last step: what went wrong, in the facts at hand.
    fn outcome(&self) -> String {
        let secs = |ms: i64| format!("{:.1} s", ms as f64 / 1000.0);
        let n = self.count;
        let span = self.span_ms;
        match self.kind.as_str() {
            "error_click" => match &self.error {
                Some(e) => format!("→ the page throws \"{}\"", e.message),
                None => "→ the page throws an uncaught error".into(),
            },
            "failed_request" => match &self.request {
                Some(r) if r.status == 0 => {
                    format!("→ {} {} fails without an answer after {} ms", r.method, r.url, r.duration_ms)
                }
                Some(r) => {
                    format!("→ {} {} answers {} after {} ms", r.method, r.url, r.status, r.duration_ms)
                }
                None => "→ the request the click started fails".into(),
            },
            "dead_click" => format!("→ nothing on the page reacts within {}", secs(span)),
            "slow_click" => format!("→ the first reaction comes only after {}", secs(span)),
            "rage_click" => format!(
                "→ the user clicks {n} times within {}: nothing shows the click was taken",
                secs(span)
            ),
            "unresponsive" => match self.long_task_ms {
                Some(ms) => format!("→ the page freezes for {ms} ms"),
                None => "→ the page freezes".into(),
            },
            "form_loop" => format!("→ the form is submitted {n} times without moving on"),
            "thrashed_cursor" => format!("→ the pointer swings back and forth {n} times"),
            "u_turn" => format!("→ the user leaves the page again after {}", secs(span)),
            "excessive_scroll" => format!("→ the user scrolls up and down {n} times"),
            other => format!("→ {other}"),
        }
    }

    /// A digest of what an explanation depends on: not the counts, which
    /// move with every incident (they are shown beside the explanation),
    /// but the issue's identity and the facts of its first incident.
    pub fn hash(&self) -> String {
        #[derive(Serialize)]
        struct Facts<'a> {
            fingerprint: &'a str,
            kind: &'a str,
            status: &'a str,
            page: &'a str,
            selector: &'a Option<String>,
            label: &'a Option<String>,
            element: &'a Option<String>,
            steps: &'a [String],
            error: &'a Option<ErrorFact>,
            request: &'a Option<RequestFact>,
            long_task_ms: Option<u64>,
        }
        let facts = Facts {
            fingerprint: &self.fingerprint,
            kind: &self.kind,
            status: &self.status,
            page: &self.page,
            selector: &self.selector,
            label: &self.label,
            element: &self.element,
            steps: &self.steps,
            error: &self.error,
            request: &self.request,
            long_task_ms: self.long_task_ms,
        };
        hex::encode(Sha256::digest(serde_json::to_vec(&facts).expect("facts serialize")))
    }

    /// `ufse replay` of the first incident's session, explained.
    pub fn replay_command(&self) -> String {
        format!("ufse replay {} --project {} --explain", self.first_sid, self.project)
    }
}

fn sample(i: &Incident) -> Sample {
    Sample {
        id: i.id.clone(),
        sid: i.sid.clone(),
        seen_ms: i.seen_ms.unwrap_or(i.ts),
        count: i.count,
        evidence: i.evidence.clone(),
    }
}

fn is_nav(ev: &Event) -> bool {
    matches!(ev.body, Body::Nav { .. })
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
}

/// The first line of a stack that names a frame (Chromium's `at ...`,
/// Firefox's and Safari's `fn@url:line:col`).
fn top_frame(stack: &str) -> Option<&str> {
    stack.lines().map(str::trim).find(|l| l.starts_with("at ") || (l.contains('@') && l.contains(':')))
}

/// An element as a person finds it: its label, and the last level of its selector.
fn target(sel: &str, label: Option<&str>) -> String {
    let last = sel.rsplit(" > ").next().unwrap_or(sel);
    match label.filter(|l| !l.is_empty()) {
        Some(l) => format!("\"{l}\" ({last})"),
        None => last.to_owned(),
    }
}

/// The actions in `events`, as steps: page views, clicks (repeated clicks
/// on one element as one step), typing, submits.
fn describe(events: &[Event]) -> Vec<String> {
    let mut steps: Vec<String> = Vec::new();
    let mut run: Option<(String, u32, i64, i64)> = None; // (target, clicks, first ts, last ts)
    let flush = |run: &mut Option<(String, u32, i64, i64)>, steps: &mut Vec<String>| {
        if let Some((target, n, t0, t1)) = run.take() {
            steps.push(match n {
                1 => format!("Click {target}"),
                n => format!("Click {target} {n} times within {} ms", t1 - t0),
            });
        }
    };
    for ev in events {
        match &ev.body {
            Body::Click { sel, txt, .. } => {
                let t = target(&redact(sel), redact_opt(txt.as_deref()).as_deref());
                match &mut run {
                    Some((target, n, _, last)) if *target == t => {
                        *n += 1;
                        *last = ev.ts;
                    }
                    _ => {
                        flush(&mut run, &mut steps);
                        run = Some((t, 1, ev.ts, ev.ts));
                    }
                }
                continue;
            }
            Body::Nav { nav } => {
                flush(&mut run, &mut steps);
                let url = ev.url.as_deref().map(|u| redact(u).into_owned()).unwrap_or_default();
                steps.push(match nav {
                    NavType::Load => format!("Open {url}"),
                    NavType::Reload => format!("Reload {url}"),
                    NavType::Pop => format!("Go back or forward to {url}"),
                    NavType::Push | NavType::Replace | NavType::Hash => format!("Navigate to {url}"),
                });
            }
            Body::Input { sel } => {
                flush(&mut run, &mut steps);
                let step = format!("Type into {}", target(&redact(sel), None));
                if steps.last() != Some(&step) {
                    steps.push(step);
                }
            }
            Body::Submit { sel } => {
                flush(&mut run, &mut steps);
                steps.push(format!("Submit {}", target(&redact(sel), None)));
            }
            _ => {}
        }
    }
    flush(&mut run, &mut steps);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use ufse_incident_store::Issue;
    use ufse_schema::{Element, JsError};

    fn event(seq: u64, ts: i64, url: Option<&str>, body: Body) -> Event {
        Event { ts, seq, url: url.map(Into::into), body, extra: None }
    }

    fn click(seq: u64, ts: i64) -> Event {
        let el = Box::new(Element { tag: Some("button".into()), ..Element::default() });
        let body = Body::Click {
            x: 1.0,
            y: 1.0,
            sel: "div.cart > button#checkout".into(),
            el,
            txt: Some("Checkout".into()),
        };
        event(seq, ts, None, body)
    }

    fn detail(kind: &str, evidence: Vec<u64>) -> IssueDetail {
        let incident = Incident {
            id: "0123456789abcdef0123456789abcdef".into(),
            project: "default".into(),
            issue: "fp".into(),
            profile: "ufse".into(),
            kind: kind.into(),
            sid: "s1".into(),
            uid: Some("ann@example.com".into()),
            ts: 1000,
            end_ts: 1500,
            count: 3,
            evidence,
            sel: Some("div.cart > button#checkout".into()),
            url: Some("https://shop.example.com/cart/42?coupon=SECRET".into()),
            seen_ms: Some(1000),
        };
        IssueDetail {
            issue: Issue {
                fingerprint: "fp".into(),
                project: "default".into(),
                kind: kind.into(),
                url_template: "shop.example.com/cart/:id".into(),
                sel: Some("div.cart > button#checkout".into()),
                status: "open".into(),
                severity: "medium".into(),
                incidents: 4,
                sessions: 2,
                users: 2,
                first_seen: 1000,
                last_seen: 9000,
                example_url: incident.url.clone(),
            },
            status_ms: 0,
            first: incident.clone(),
            latest: vec![incident],
            pages: vec![("https://shop.example.com/cart/42".into(), 4)],
            tickets: vec![],
            explanation: None,
            requests: vec![],
            audit: vec![],
        }
    }

    #[test]
    fn an_error_click_yields_its_error_and_the_steps_that_led_there() {
        let err = JsError {
            msg: "TypeError: cart is undefined for ann@example.com".into(),
            src: Some("https://shop.example.com/app.js?v=1".into()),
            line: Some(10),
            col: Some(5),
            stack: Some(
                "TypeError: cart is undefined\n    at checkout (https://shop.example.com/app.js:10:5)".into(),
            ),
            kind: ufse_schema::ErrorKind::Error,
        };
        let events = vec![
            event(1, 0, Some("https://shop.example.com/"), Body::Nav { nav: NavType::Load }),
            event(
                2,
                100,
                Some("https://shop.example.com/cart/42?token=abc"),
                Body::Nav { nav: NavType::Push },
            ),
            event(3, 200, None, Body::Input { sel: "input#qty".into() }),
            event(4, 250, None, Body::Input { sel: "input#qty".into() }),
            click(5, 1000),
            click(6, 1200),
            click(7, 1400),
            event(8, 1500, None, Body::Error(Box::new(err))),
            event(9, 9000, None, Body::Custom { name: "later".into(), props: None }),
        ];
        let e = Evidence::build(&detail("error_click", vec![5, 6, 7, 8]), Some(&events));
        assert!(e.from_timeline);
        assert_eq!(
            e.steps,
            [
                "Navigate to https://shop.example.com/cart/42",
                "Type into input#qty",
                "Click \"Checkout\" (button#checkout) 3 times within 400 ms",
                "→ the page throws \"TypeError: cart is undefined for [email]\"",
            ]
        );
        let err = e.error.as_ref().unwrap();
        assert_eq!(err.source.as_deref(), Some("https://shop.example.com/app.js:10:5"));
        assert_eq!(err.top_frame.as_deref(), Some("at checkout (https://shop.example.com/app.js:10:5)"));
        assert_eq!((e.label.as_deref(), e.element.as_deref()), (Some("Checkout"), Some("button")));
        assert_eq!(e.example_url.as_deref(), Some("https://shop.example.com/cart/42"));
        assert_eq!(e.replay_command(), "ufse replay s1 --project default --explain");
        // The hash follows the facts, not the counts.
        let mut more = e.clone();
        more.incidents += 10;
        assert_eq!(more.hash(), e.hash());
        more.error = None;
        assert_ne!(more.hash(), e.hash());
    }

    #[test]
    fn without_a_timeline_the_incident_alone_gives_steps() {
        let e = Evidence::build(&detail("dead_click", vec![5]), None);
        assert!(!e.from_timeline);
        assert_eq!(
            e.steps,
            [
                "Open https://shop.example.com/cart/42",
                "Click button#checkout 3 times",
                "→ nothing on the page reacts within 0.5 s",
            ]
        );
        let request = Evidence::build(&detail("failed_request", vec![5]), None);
        assert_eq!(request.steps.last().unwrap(), "→ the request the click started fails");
    }

    #[test]
    fn long_sessions_keep_the_first_step_and_the_last_ones() {
        let mut events = vec![event(1, 0, Some("https://a.io/"), Body::Nav { nav: NavType::Load })];
        for i in 0..20 {
            events.push(event(2 + i, 10 + i as i64, None, Body::Submit { sel: format!("form#f{i}") }));
        }
        events.push(click(30, 1000));
        let e = Evidence::build(&detail("dead_click", vec![30]), Some(&events));
        assert_eq!(e.steps.len(), MAX_STEPS + 2, "ten, the note of what was skipped, and the outcome");
        assert_eq!(e.steps[0], "Open https://a.io/");
        assert_eq!(e.steps[1], "(12 more steps)");
        assert_eq!(e.steps[MAX_STEPS], "Click \"Checkout\" (button#checkout)");
    }
}

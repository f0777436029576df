//! The ticket as it is filed: a [`Draft`] built from the evidence and its
//! explanation, checked for readiness, and rendered from one small document
//! model into Markdown (Linear) and the Atlassian Document Format (Jira).
//! The model writes prose only; every fact (counts, steps, evidence, the
//! replay command) comes from the data.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ufse_incident_store::Explanation;
use ufse_schema::fmt_ms;

use crate::{Evidence, Interpretation};

/// Incidents listed as evidence.
const EVIDENCE_ROWS: usize = 5;

/// One incident in a ticket's evidence table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRow {
    /// The incident's id.
    pub incident: String,
    /// Its session.
    pub sid: String,
    /// When it was seen, ms.
    pub seen_ms: i64,
    /// Its count and evidence events.
    pub detail: String,
}

/// A ticket, ready to be filed (or held, or awaiting approval).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    /// The issue.
    pub fingerprint: String,
    /// Its project.
    pub project: String,
    /// Which ticket of the issue (0, then follow-ups after regressions).
    pub round: u32,
    /// The prose: title, summary, probable cause, suggested fix, confidence, labels.
    pub explanation: Interpretation,
    /// Who explained it (`offline`, `openai gpt-4o-mini`).
    pub explained_by: String,
    /// Why the offline interpreter answered instead of the configured one.
    pub fallback: Option<String>,
    /// The signal kind.
    pub kind: String,
    /// Its severity when drafted.
    pub severity: String,
    /// Host and path template.
    pub page: String,
    /// A page where it happened.
    pub example_url: Option<String>,
    /// The element's selector.
    pub selector: Option<String>,
    /// The element's label.
    pub label: Option<String>,
    /// Incidents when drafted.
    pub incidents: u64,
    /// Sessions when drafted.
    pub sessions: u64,
    /// Users when drafted.
    pub users: u64,
    /// First incident, ms.
    pub first_seen: i64,
    /// Latest incident, ms.
    pub last_seen: i64,
    /// Steps to reproduce; the last says what went wrong.
    pub steps: Vec<String>,
    /// Incidents as evidence.
    pub evidence: Vec<EvidenceRow>,
    /// The command that replays the first incident's session.
    pub replay: String,
    /// Earlier tickets of the issue (`ENG-12 https://...`), for a follow-up.
    pub previous: Vec<String>,
}

impl Draft {
    /// The ticket for `e`, explained by `x` (whose result is an
    /// [`Interpretation`]), as ticket `round` of the issue.
    ///
    /// # Errors
    ///
    /// When the explanation's result is not an interpretation (corrupt).
    pub fn new(e: &Evidence, x: &Explanation, round: u32, previous: Vec<String>) -> Result<Draft, String> {
        let explanation: Interpretation = serde_json::from_str(&x.result)
            .map_err(|err| format!("explanation of {}: {err}", e.fingerprint))?;
        let explained_by = if x.interpreter == "offline" {
            "offline".to_owned()
        } else {
            format!("{} {}", x.interpreter, x.model)
        };
        let evidence = e
            .samples
            .iter()
            .take(EVIDENCE_ROWS)
            .map(|s| {
                let seqs: Vec<String> = s.evidence.iter().map(u64::to_string).collect();
                EvidenceRow {
                    incident: s.id.clone(),
                    sid: s.sid.clone(),
                    seen_ms: s.seen_ms,
                    detail: format!("count {}, events {}", s.count, seqs.join(", ")),
                }
            })
            .collect();
        Ok(Draft {
            fingerprint: e.fingerprint.clone(),
            project: e.project.clone(),
            round,
            explanation,
            explained_by,
            fallback: x.fallback.clone(),
            kind: e.kind.clone(),
            severity: e.severity.clone(),
            page: e.page.clone(),
            example_url: e.example_url.clone(),
            selector: e.selector.clone(),
            label: e.label.clone(),
            incidents: e.incidents,
            sessions: e.sessions,
            users: e.users,
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            steps: e.steps.clone(),
            evidence,
            replay: e.replay_command(),
            previous,
        })
    }

    /// Linear's priority: 1 urgent, 2 high, 3 medium, 4 low.
    pub fn linear_priority(&self) -> i64 {
        match self.severity.as_str() {
            "critical" => 1,
            "high" => 2,
            "medium" => 3,
            _ => 4,
        }
    }

    /// The ticket's body as a document.
    pub(crate) fn document(&self) -> Vec<Block> {
        use Inline::*;
        let x = &self.explanation;
        let mut doc = vec![Block::Para(vec![Strong(x.summary.clone())])];
        if !self.previous.is_empty() {
            doc.push(Block::Para(vec![Text(format!(
                "This issue regressed after it was resolved; earlier tickets: {}.",
                self.previous.join(", ")
            ))]));
        }
        let element = match (&self.label, &self.selector) {
            (Some(l), Some(s)) => vec![Text(format!("\"{l}\" ")), Code(s.clone())],
            (None, Some(s)) => vec![Code(s.clone())],
            _ => vec![Text("—".into())],
        };
        let mut facts = vec![
            vec![vec![Text("Signal".into())], vec![Code(self.kind.clone())]],
            vec![vec![Text("Severity".into())], vec![Text(self.severity.clone())]],
            vec![vec![Text("Page".into())], vec![Code(self.page.clone())]],
            vec![vec![Text("Element".into())], element],
            vec![
                vec![Text("Reach".into())],
                vec![Text(format!(
                    "{} incidents in {} sessions of {} users",
                    self.incidents, self.sessions, self.users
                ))],
            ],
            vec![vec![Text("First seen".into())], vec![Text(utc(self.first_seen))]],
            vec![vec![Text("Last seen".into())], vec![Text(utc(self.last_seen))]],
        ];
        if let Some(url) = &self.example_url {
            facts.insert(3, vec![vec![Text("Example".into())], vec![Text(url.clone())]]);
        }
        doc.push(Block::Table { header: vec!["".into(), "".into()], rows: facts });
        doc.push(Block::Heading("Probable cause".into()));
        doc.push(Block::Para(vec![Text(x.probable_cause.clone())]));
        doc.push(Block::Heading("Suggested fix".into()));
        doc.push(Block::Para(vec![Text(x.suggested_fix.clone())]));
        doc.push(Block::Heading("Steps to reproduce".into()));
        doc.push(Block::Ordered(self.steps.clone()));
        doc.push(Block::Heading("Evidence".into()));
        doc.push(Block::Table {
            header: vec!["Incident".into(), "Session".into(), "Seen".into(), "Detail".into()],
            rows: self
                .evidence
                .iter()
                .map(|r| {
                    vec![
                        vec![Code(r.incident.clone())],
                        vec![Code(r.sid.clone())],
                        vec![Text(utc(r.seen_ms))],
                        vec![Text(r.detail.clone())],
                    ]
                })
                .collect(),
        });
        doc.push(Block::Heading("Replay".into()));
        doc.push(Block::Code(self.replay.clone()));
        doc.push(Block::Rule);
        let mut footer = format!(
            "Filed by UFSE. Issue {} (project {}). Explained by {} (confidence {:.2}).",
            self.fingerprint, self.project, self.explained_by, x.confidence
        );
        if let Some(why) = &self.fallback {
            footer.push_str(&format!(" The configured model did not answer: {why}."));
        }
        doc.push(Block::Para(vec![Text(footer)]));
        doc
    }

    /// The body in Markdown, for Linear.
    pub fn markdown(&self) -> String {
        markdown(&self.document())
    }

    /// The body in the Atlassian Document Format, for Jira.
    pub fn adf(&self) -> Value {
        adf(&self.document())
    }
}

/// What keeps `d` from being filed; empty when it is ready: a title, at
/// least one step before the outcome, the page, counts, evidence incident
/// ids and the replay command.
pub fn readiness(d: &Draft) -> Vec<String> {
    let mut reasons = Vec::new();
    if d.explanation.title.trim().is_empty() {
        reasons.push("no title".to_owned());
    }
    if !d.steps.iter().any(|s| !s.starts_with('→')) {
        reasons.push("no step to reproduce it".to_owned());
    }
    if d.page.trim().is_empty() {
        reasons.push("no affected page".to_owned());
    }
    if d.incidents == 0 || d.sessions == 0 {
        reasons.push("no counts".to_owned());
    }
    if d.evidence.is_empty() || d.evidence.iter().any(|r| r.incident.is_empty()) {
        reasons.push("no evidence incident ids".to_owned());
    }
    if d.replay.trim().is_empty() {
        reasons.push("no replay command".to_owned());
    }
    reasons
}

/// `ms` as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn utc(ms: i64) -> String {
    format!("{} UTC", &fmt_ms(ms)[..16])
}

/// A comment with an issue's new counts since the last one.
pub(crate) fn update_comment(
    incidents: u64,
    sessions: u64,
    users: u64,
    new: u64,
    last_seen: i64,
) -> Vec<Block> {
    vec![Block::Para(vec![Inline::Text(format!(
        "Still happening: {new} new incidents since the last update. Now {incidents} incidents in {sessions} sessions of {users} users; latest {}.",
        utc(last_seen)
    ))])]
}

/// The comment of a ticket reopened because its issue regressed.
pub(crate) fn regression_comment(incidents: u64, last_seen: i64, resolved_ms: i64) -> Vec<Block> {
    vec![Block::Para(vec![Inline::Text(format!(
        "Reopened by UFSE: the issue came back after it was resolved on {}. Latest incident {}; {incidents} incidents in all.",
        utc(resolved_ms),
        utc(last_seen)
    ))])]
}

/// Text within a block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Inline {
    Text(String),
    Strong(String),
    Code(String),
}

/// A block of a document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    Para(Vec<Inline>),
    Heading(String),
    /// A table; an all-empty header is none.
    Table {
        header: Vec<String>,
        rows: Vec<Vec<Vec<Inline>>>,
    },
    Ordered(Vec<String>),
    Code(String),
    Rule,
}

/// Markdown text with its special characters escaped; `cell` also makes a
/// table cell of it (no pipes, no line breaks).
fn md_text(s: &str, cell: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' if cell => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A code span that holds `s` whatever backticks it has.
fn md_code(s: &str) -> String {
    let run = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(run + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{}{pad}{fence}", s.replace('\n', " "))
}

fn md_inlines(inlines: &[Inline], cell: bool) -> String {
    inlines
        .iter()
        .map(|i| match i {
            Inline::Text(t) => md_text(t, cell),
            Inline::Strong(t) => format!("**{}**", md_text(t, cell)),
            Inline::Code(t) => md_code(t),
        })
        .collect()
}

pub(crate) fn markdown(doc: &[Block]) -> String {
    let mut out = String::new();
    for b in doc {
        match b {
            Block::Para(inlines) => out.push_str(&md_inlines(inlines, false)),
            Block::Heading(h) => out.push_str(&format!("### {}", md_text(h, false))),
            Block::Table { header, rows } => {
                let cols = header.len();
                let head: Vec<String> = header.iter().map(|h| md_text(h, true)).collect();
                out.push_str(&format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(cols)));
                for row in rows {
                    let cells: Vec<String> = row.iter().map(|c| md_inlines(c, true)).collect();
                    out.push_str(&format!("| {} |\n", cells.join(" | ")));
                }
                out.pop();
            }
            Block::Ordered(items) => {
                let lines: Vec<String> = items
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("{}. {}", i + 1, md_text(s, true)))
                    .collect();
                out.push_str(&lines.join("\n"));
            }
            Block::Code(code) => {
                let fence = if code.contains("```") { "~~~~" } else { "```" };
                out.push_str(&format!("{fence}\n{code}\n{fence}"));
            }
            Block::Rule => out.push_str("---"),
        }
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out
}

fn adf_inlines(inlines: &[Inline]) -> Vec<Value> {
    inlines
        .iter()
        .filter_map(|i| {
            let (text, mark) = match i {
                Inline::Text(t) => (t, None),
                Inline::Strong(t) => (t, Some("strong")),
                Inline::Code(t) => (t, Some("code")),
            };
            // ADF refuses empty text nodes.
            (!text.is_empty()).then(|| match mark {
                Some(m) => json!({"type": "text", "text": text, "marks": [{"type": m}]}),
                None => json!({"type": "text", "text": text}),
            })
        })
        .collect()
}

fn adf_para(inlines: &[Inline]) -> Value {
    json!({"type": "paragraph", "content": adf_inlines(inlines)})
}

pub(crate) fn adf(doc: &[Block]) -> Value {
    let content: Vec<Value> = doc
        .iter()
        .map(|b| match b {
            Block::Para(inlines) => adf_para(inlines),
            Block::Heading(h) => json!({"type": "heading", "attrs": {"level": 3},
                                        "content": adf_inlines(&[Inline::Text(h.clone())])}),
            Block::Table { header, rows } => {
                let mut trs = Vec::new();
                if header.iter().any(|h| !h.is_empty()) {
                    let ths: Vec<Value> = header
                        .iter()
                        .map(|h| json!({"type": "tableHeader", "content": [adf_para(&[Inline::Text(h.clone())])]}))
                        .collect();
                    trs.push(json!({"type": "tableRow", "content": ths}));
                }
                for row in rows {
                    let tds: Vec<Value> =
                        row.iter().map(|c| json!({"type": "tableCell", "content": [adf_para(c)]})).collect();
                    trs.push(json!({"type": "tableRow", "content": tds}));
                }
                json!({"type": "table", "content": trs})
            }
            Block::Ordered(items) => {
                let lis: Vec<Value> = items
                    .iter()
                    .map(|s| json!({"type": "listItem", "content": [adf_para(&[Inline::Text(s.clone())])]}))
                    .collect();
                json!({"type": "orderedList", "content": lis})
            }
            Block::Code(code) => json!({"type": "codeBlock", "attrs": {"language": "shell"},
                                        "content": adf_inlines(&[Inline::Text(code.clone())])}),
            Block::Rule => json!({"type": "rule"}),
        })
        .collect();
    json!({"type": "doc", "version": 1, "content": content})
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn draft() -> Draft {
        Draft {
            fingerprint: "ab".repeat(32),
            project: "default".into(),
            round: 0,
            explanation: Interpretation {
                title: "Clicking \"Checkout\" throws TypeError on shop.example.com/cart/:id".into(),
                summary: "Clicking \"Checkout\" fails".into(),
                probable_cause: "The handler throws `cart` is *undefined*".into(),
                suggested_fix: "Guard it".into(),
                confidence: 0.8,
                labels: vec!["bug".into()],
            },
            explained_by: "offline".into(),
            fallback: None,
            kind: "error_click".into(),
            severity: "high".into(),
            page: "shop.example.com/cart/:id".into(),
            example_url: Some("https://shop.example.com/cart/42".into()),
            selector: Some("div.cart > button#checkout".into()),
            label: Some("Checkout".into()),
            incidents: 3,
            sessions: 2,
            users: 2,
            first_seen: 1_732_750_000_000,
            last_seen: 1_732_760_000_000,
            steps: vec![
                "Open https://shop.example.com/cart/42".into(),
                "Click a | b".into(),
                "→ it throws".into(),
            ],
            evidence: vec![EvidenceRow {
                incident: "0123456789abcdef".into(),
                sid: "s1".into(),
                seen_ms: 1_732_750_000_000,
                detail: "count 3, events 2, 3, 4".into(),
            }],
            replay: "ufse replay s1 --project default --explain".into(),
            previous: vec![],
        }
    }

    #[test]
    fn a_ready_draft_and_what_holds_one_back() {
        let d = draft();
        assert!(readiness(&d).is_empty());
        let bare = Draft {
            explanation: Interpretation { title: " ".into(), ..d.explanation.clone() },
            steps: vec!["→ it throws".into()],
            page: String::new(),
            incidents: 0,
            evidence: vec![],
            replay: String::new(),
            ..d
        };
        assert_eq!(
            readiness(&bare),
            [
                "no title",
                "no step to reproduce it",
                "no affected page",
                "no counts",
                "no evidence incident ids",
                "no replay command"
            ]
        );
    }

    #[test]
    fn markdown_escapes_what_pages_sent_and_keeps_the_facts() {
        let md = draft().markdown();
        assert!(md.starts_with("**Clicking \"Checkout\" fails**\n\n"), "{md}");
        assert!(md.contains("The handler throws \\`cart\\` is \\*undefined\\*"), "{md}");
        assert!(md.contains("2. Click a \\| b"), "{md}");
        assert!(md.contains("| Element | \"Checkout\" `div.cart > button#checkout` |"), "{md}");
        assert!(md.contains("```\nufse replay s1 --project default --explain\n```"), "{md}");
        assert!(
            md.contains("| `0123456789abcdef` | `s1` | 2024-11-27 23:26 UTC | count 3, events 2, 3, 4 |"),
            "{md}"
        );
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x"), "`` `x ``");
    }

    #[test]
    fn adf_has_only_block_nodes_at_the_top_and_no_empty_text() {
        let doc = draft().adf();
        assert_eq!((doc["type"].as_str(), doc["version"].as_i64()), (Some("doc"), Some(1)));
        let blocks: Vec<&str> =
            doc["content"].as_array().unwrap().iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert!(blocks
            .iter()
            .all(|t| ["paragraph", "heading", "table", "orderedList", "codeBlock", "rule"].contains(t)));
        fn texts(v: &Value, out: &mut Vec<String>) {
            if v["type"] == "text" {
                out.push(v["text"].as_str().unwrap().to_owned());
            }
            for c in v["content"].as_array().into_iter().flatten() {
                texts(c, out);
            }
        }
        let mut all = Vec::new();
        texts(&doc, &mut all);
        assert!(all.iter().all(|t| !t.is_empty()));
        assert!(all.contains(&"ufse replay s1 --project default --explain".to_owned()));
        // The facts table has no header row: its first row is a fact.
        let table = &doc["content"][1];
        assert_eq!(table["content"][0]["content"][0]["type"], "tableCell");
    }
}

//! `ufse detect`: wire-format batches in, signals out, offline.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::sync::Arc;

use ufse_engine::{RuleSet, Signal};
use ufse_schema::{parse_batch, Limits, LogBatch};

use crate::{Output, Sessionizer, SessionizerConfig};

/// What a `detect` run found.
#[derive(Debug, Default)]
pub struct DetectReport {
    /// Signals in the canonical order `(sid, ts, kind, evidence)`.
    pub signals: Vec<Signal>,
    /// One line per refused input line or dropped event, for stderr.
    pub problems: Vec<String>,
    /// Input lines refused whole.
    pub invalid_lines: usize,
    /// The sessions of the batches taken in.
    pub sessions: BTreeSet<String>,
}

/// Runs the hot path's validation, deduplication, ordering and rules over
/// newline-delimited batches, as `serve` would, with the end of the input
/// ending every session.
///
/// # Errors
///
/// Only I/O errors reading `input`; bad lines are reported in the result.
pub fn detect<R: BufRead>(
    input: R,
    rules: Arc<RuleSet>,
    config: SessionizerConfig,
) -> std::io::Result<DetectReport> {
    let mut sessions = Sessionizer::new(config, rules);
    let mut out = Output::default();
    let mut report = DetectReport::default();
    let limits = Limits::default();
    for (i, line) in input.split(b'\n').enumerate() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_batch(&line, &limits) {
            Ok(batch) => {
                for d in &batch.dropped {
                    let field = d.field.as_deref().map(|f| format!(" ({f})")).unwrap_or_default();
                    report.problems.push(format!(
                        "line {}: event {} dropped: {}{field}",
                        i + 1,
                        d.index,
                        d.reason
                    ));
                }
                report.sessions.insert(batch.sid.clone());
                sessions.on_batch_raw(LogBatch::from_parsed("default", 0, batch), &[], None, &mut out);
                // Summaries are not part of detect's output.
                out.summaries.clear();
            }
            Err(e) => {
                report.invalid_lines += 1;
                report.problems.push(format!("line {}: {}: {}", i + 1, e.reason, e.detail));
            }
        }
    }
    report.signals = finish(sessions, out);
    Ok(report)
}

/// Runs the rules over stored batches (log records, in log order) as
/// [`detect`] runs them over wire batches: the same signals `ufse detect`
/// prints for the same events, in the same order.
pub fn detect_batches(
    batches: impl IntoIterator<Item = LogBatch>,
    rules: Arc<RuleSet>,
    config: SessionizerConfig,
) -> Vec<Signal> {
    let mut sessions = Sessionizer::new(config, rules);
    let mut out = Output::default();
    for batch in batches {
        sessions.on_batch_raw(batch, &[], None, &mut out);
        out.summaries.clear();
    }
    finish(sessions, out)
}

/// Ends every session; the signals in canonical order.
fn finish(mut sessions: Sessionizer, mut out: Output) -> Vec<Signal> {
    sessions.finish(&mut out);
    let mut signals: Vec<Signal> = out.signals.into_iter().map(|s| s.signal).collect();
    signals.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    signals
}

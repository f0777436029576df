//! `ufse detect`: wire-format batches in, signals out, offline.

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
    sessions.finish(&mut out);
    report.signals = out.signals.into_iter().map(|s| s.signal).collect();
    report.signals.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    Ok(report)
}

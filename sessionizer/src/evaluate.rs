//! Scoring the rules against a labelled corpus: sessions whose labels say
//! what their author meant them to show (see `corpus/build.py`), run
//! through the same path as [`detect`](crate::detect), and compared per
//! session and kind.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ufse_engine::RuleSet;

use crate::{detect, SessionizerConfig};

/// One labelled session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Session id.
    pub sid: String,
    /// Which part of the corpus: `train` (may be looked at while tuning) or `holdout`.
    pub split: String,
    /// The story the session tells.
    pub scenario: String,
    /// The signal kinds it was meant to show; empty for a look-alike.
    pub kinds: Vec<String>,
}

/// How one kind scored.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KindScore {
    /// Signal kind.
    pub kind: String,
    /// Sessions meant to show it that did.
    pub true_positives: usize,
    /// Sessions that showed it without being meant to.
    pub false_positives: usize,
    /// Sessions meant to show it that did not.
    pub false_negatives: usize,
    /// `tp / (tp + fp)`, 1 when nothing was found.
    pub precision: f64,
    /// `tp / (tp + fn)`, 1 when nothing was expected.
    pub recall: f64,
    /// Whether the profile has a rule for this kind at all (a peer profile
    /// without one has recall 0 on it by construction).
    pub in_profile: bool,
}

/// A disagreement between a label and the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Miss {
    /// Session id.
    pub sid: String,
    /// Its scenario.
    pub scenario: String,
    /// The kind.
    pub kind: String,
    /// `false_positive` or `false_negative`.
    pub error: &'static str,
}

/// A corpus run's scores.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evaluation {
    /// Labelled sessions scored.
    pub sessions: usize,
    /// Per kind, sorted by kind.
    pub kinds: Vec<KindScore>,
    /// Look-alike sessions (labelled with no kind).
    pub lookalikes: usize,
    /// Look-alike sessions with any signal.
    pub lookalikes_with_signals: usize,
    /// Every disagreement.
    pub misses: Vec<Miss>,
    /// Problems with the input: invalid lines or events, labels for
    /// sessions the input does not have, sessions labelled twice.
    pub problems: Vec<String>,
}

/// Runs the rules over `batches` (newline-delimited wire batches) and
/// scores them against `labels`: per session, each kind the rules found is
/// a true positive if the label has it, else a false positive; each
/// labelled kind they did not find is a false negative. Scoring is by
/// presence per session and kind (labels carry no evidence), so a signal
/// on the wrong element still counts. Sessions without a label are ignored.
///
/// # Errors
///
/// Only I/O errors reading `batches`.
pub fn evaluate<R: BufRead>(
    batches: R,
    labels: &[Label],
    rules: Arc<RuleSet>,
    config: SessionizerConfig,
) -> std::io::Result<Evaluation> {
    let report = detect(batches, Arc::clone(&rules), config)?;
    let mut found: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in &report.signals {
        found.entry(s.sid.as_str()).or_default().insert(s.kind.as_str());
    }
    let mut scores: BTreeMap<String, KindScore> = BTreeMap::new();
    let mut eval = Evaluation { problems: report.problems, ..Evaluation::default() };
    let mut labelled = BTreeSet::new();
    for label in labels {
        if !labelled.insert(label.sid.as_str()) {
            eval.problems.push(format!("session {} is labelled twice", label.sid));
            continue;
        }
        if !report.sessions.contains(&label.sid) {
            eval.problems.push(format!("session {} is labelled but has no events in the input", label.sid));
            continue;
        }
        eval.sessions += 1;
        let meant: BTreeSet<&str> = label.kinds.iter().map(String::as_str).collect();
        let got = found.get(label.sid.as_str()).cloned().unwrap_or_default();
        if meant.is_empty() {
            eval.lookalikes += 1;
            eval.lookalikes_with_signals += usize::from(!got.is_empty());
        }
        let mut miss = |kind: &str, error| {
            eval.misses.push(Miss {
                sid: label.sid.clone(),
                scenario: label.scenario.clone(),
                kind: kind.into(),
                error,
            });
        };
        for &k in meant.union(&got) {
            let score = scores
                .entry(k.to_owned())
                .or_insert_with(|| KindScore { kind: k.into(), ..KindScore::default() });
            match (meant.contains(k), got.contains(k)) {
                (true, true) => score.true_positives += 1,
                (false, true) => {
                    score.false_positives += 1;
                    miss(k, "false_positive");
                }
                (true, false) => {
                    score.false_negatives += 1;
                    miss(k, "false_negative");
                }
                (false, false) => {}
            }
        }
    }
    let ratio = |a: usize, b: usize| if a + b == 0 { 1.0 } else { a as f64 / (a + b) as f64 };
    eval.kinds = scores
        .into_values()
        .map(|mut s| {
            s.precision = ratio(s.true_positives, s.false_positives);
            s.recall = ratio(s.true_positives, s.false_negatives);
            s.in_profile =
                ufse_engine::SignalKind::parse(&s.kind).is_some_and(|k| rules.parameters(k).is_some());
            s
        })
        .collect();
    Ok(eval)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(sid: &str, kinds: &[&str]) -> Label {
        Label {
            sid: sid.into(),
            split: "train".into(),
            scenario: sid.into(),
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
        }
    }

    #[test]
    fn scores_per_session_and_kind() {
        let click = |sid: &str, seq: u64, ts: i64| {
            format!(
                r#"{{"v":1,"sid":"{sid}","events":[{{"t":"click","ts":{ts},"seq":{seq},"x":1,"y":1,"sel":"b","el":{{"tag":"button"}}}}]}}"#
            )
        };
        // `a` has a dead click as meant; `b` has one though meant as a look-alike;
        // `c` was meant to rage but shows only a dead click; `d` is unlabelled.
        let input = [click("a", 1, 0), click("b", 1, 0), click("c", 1, 0), click("d", 1, 0)].join("\n");
        let labels = [label("a", &["dead_click"]), label("b", &[]), label("c", &["rage_click"])];
        let e =
            evaluate(input.as_bytes(), &labels, Arc::new(RuleSet::default()), SessionizerConfig::default())
                .unwrap();
        assert_eq!((e.sessions, e.lookalikes, e.lookalikes_with_signals), (3, 1, 1));
        let dead = &e.kinds[0];
        assert_eq!((dead.kind.as_str(), dead.true_positives, dead.false_positives), ("dead_click", 1, 2));
        assert!((dead.precision - 1.0 / 3.0).abs() < 1e-9);
        let rage = &e.kinds[1];
        assert_eq!((rage.kind.as_str(), rage.false_negatives, rage.recall), ("rage_click", 1, 0.0));
        assert_eq!(e.misses.len(), 3);
        assert!(e.problems.is_empty());
        // A typo in a label, or a label given twice, is a problem, not a clean look-alike.
        let labels = [label("a", &["dead_click"]), label("a", &[]), label("zz", &[])];
        let e =
            evaluate(input.as_bytes(), &labels, Arc::new(RuleSet::default()), SessionizerConfig::default())
                .unwrap();
        assert_eq!(e.problems.len(), 2, "{:?}", e.problems);
        assert_eq!(e.sessions, 1);
    }
}

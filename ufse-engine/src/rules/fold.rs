//! Folding click verdicts into rage runs: a rage run in which a click was
//! dead yields one `dead_click` for the whole run, and one with an error
//! after one of its clicks one `error_click`, instead of a signal per
//! click. Each shares the run's clicks as evidence, beside the
//! `rage_click` itself.
//!
//! This is a stage after the rules: it holds the dead and error verdicts of
//! clicks in the open run (which may still become rage), absorbs those of
//! rage runs, and lets a run's folded signals go once no verdict on its
//! clicks can still come.

use serde::{Deserialize, Serialize};

use crate::{Signal, SignalKind};

/// A closed rage run still collecting its clicks' verdicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run {
    rage: Signal,
    /// Errors after its clicks: `(seq, ts)`.
    errors: Vec<(u64, i64)>,
    dead: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    runs: Vec<Run>,
    /// Verdicts on clicks of the open run, held until it closes; the run
    /// is known by its first click.
    held: Vec<Signal>,
    held_for: Option<u64>,
}

/// Boxed: empty unless a session is mid-rage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Fold {
    state: Option<Box<State>>,
}

/// The times a fold depends on, from the profile's rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// After a run's last click, how long until no verdict on its clicks can still come.
    pub settle_ms: i64,
    /// The dead-click window, for a folded dead click's `end_ts`.
    pub dead_window_ms: i64,
}

fn folds(kind: SignalKind) -> bool {
    matches!(kind, SignalKind::DeadClick | SignalKind::ErrorClick)
}

impl Fold {
    pub fn is_idle(&self) -> bool {
        self.state.is_none()
    }

    /// Takes the signals the rules emitted in this step (`out[from..]`) and
    /// leaves in `out` what may be emitted now. `open` is the rage rule's
    /// open run; `now` the session time reached (`None` at the end, when
    /// everything goes).
    pub fn process(
        &mut self,
        timing: Timing,
        open: &[u64],
        now: Option<i64>,
        out: &mut Vec<Signal>,
        from: usize,
    ) {
        if self.state.is_none() {
            let new = &out[from..];
            let rage = new.iter().any(|s| s.kind == SignalKind::RageClick);
            let held = !open.is_empty() && new.iter().any(|s| folds(s.kind));
            if !rage && !held {
                return;
            }
        }
        let settle = timing.settle_ms;
        let st = self.state.get_or_insert_with(Default::default);
        // Most steps bring nothing new: unless a run has settled or the
        // held verdicts' run has closed, there is nothing to do.
        let quiet = out.len() == from
            && (st.held.is_empty() || st.held_for == open.first().copied())
            && now.is_some_and(|now| st.runs.iter().all(|r| now <= r.rage.end_ts + settle));
        if quiet {
            return;
        }
        let mut new: Vec<Signal> = out.drain(from..).collect();
        for s in &new {
            if s.kind == SignalKind::RageClick {
                st.runs.push(Run { rage: s.clone(), errors: Vec::new(), dead: false });
            }
        }
        // Held verdicts wait for their run to close: looking at them again
        // on every step of a long run would cost its length squared.
        if st.held_for != open.first().copied() {
            new.append(&mut st.held);
        }
        for s in new {
            if !folds(s.kind) {
                out.push(s);
                continue;
            }
            if let Some(run) = st.runs.iter_mut().find(|r| shares_click(&r.rage.evidence, &s.evidence)) {
                match s.kind {
                    SignalKind::DeadClick => run.dead = true,
                    _ => run.errors.extend(
                        s.evidence.iter().filter(|q| !run.rage.evidence.contains(q)).map(|&q| (q, s.end_ts)),
                    ),
                }
            } else if open.iter().any(|seq| s.evidence.contains(seq)) {
                st.held_for = open.first().copied();
                st.held.push(s);
            } else {
                out.push(s);
            }
        }
        // A run is settled once no verdict on its last click can still come.
        st.runs.retain(|r| {
            let settled = now.is_none_or(|now| now > r.rage.end_ts + settle);
            if settled {
                emit_folded(timing, r, out);
            }
            !settled
        });
        if st.runs.is_empty() && st.held.is_empty() {
            self.state = None;
        }
    }
}

/// Whether a verdict's evidence holds one of the run's clicks (evidence is ascending).
fn shares_click(run: &[u64], evidence: &[u64]) -> bool {
    evidence.iter().any(|seq| run.binary_search(seq).is_ok())
}

fn emit_folded(timing: Timing, r: &Run, out: &mut Vec<Signal>) {
    let rage = &r.rage;
    if r.dead {
        out.push(Signal {
            kind: SignalKind::DeadClick,
            end_ts: rage.end_ts + timing.dead_window_ms,
            ..rage.clone()
        });
    }
    if !r.errors.is_empty() {
        let mut evidence = rage.evidence.clone();
        evidence.extend(r.errors.iter().map(|e| e.0));
        evidence.sort_unstable();
        evidence.dedup();
        out.push(Signal {
            kind: SignalKind::ErrorClick,
            end_ts: r.errors.iter().map(|e| e.1).max().unwrap_or(rage.end_ts),
            count: 1,
            evidence,
            ..rage.clone()
        });
    }
}

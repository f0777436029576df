//! Recall against ground truth: polls `ufse incidents list --json` until
//! the server's verdicts settle, then compares them with what was injected.
//!
//! The server decides a dead click only after 13 s of the session's own
//! time or of silence, and closes windows of silent sessions about 18 s of
//! log time after their last batch, so right after the run the counts are
//! still moving; polling stops when every expected incident is found, when
//! nothing changed for `settle`, or at `wait`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::gen::{InjectKind, Injection};

/// How to ask the server.
#[derive(Debug, Clone)]
pub struct RecallConfig {
    /// The `ufse` binary.
    pub ufse_bin: PathBuf,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Project name.
    pub project: String,
    /// Longest time to wait for verdicts.
    pub wait: Duration,
    /// Counts unchanged this long are final.
    pub settle: Duration,
    /// Between polls.
    pub poll: Duration,
}

/// One line of `incidents list --json`; only what matching needs.
#[derive(Debug, Clone, Deserialize)]
pub struct IncidentLine {
    /// rage_click, dead_click, error_click.
    pub kind: String,
    /// Session.
    pub sid: String,
    /// Selector.
    #[serde(default)]
    pub sel: Option<String>,
}

/// Per injected kind.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct KindRecall {
    /// Patterns injected and delivered.
    pub expected: u64,
    /// Of those, sessions with an incident of this kind.
    pub found: u64,
    /// found / expected.
    pub recall: f64,
}

/// The comparison.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RecallReport {
    /// By incident kind.
    pub by_kind: BTreeMap<String, KindRecall>,
    /// Patterns injected but not delivered (a batch was lost), left out of `expected`.
    pub undelivered: u64,
    /// Incidents of this run on sessions without injection, or on other
    /// selectors than the injected one: false positives, by kind.
    pub unexpected: BTreeMap<String, u64>,
    /// Incidents on the injected selector but of another kind (a rage run or
    /// an error click nothing reacted to is also a dead click), by
    /// `injected->reported`.
    pub secondary: BTreeMap<String, u64>,
    /// Incidents of this run seen.
    pub incidents: u64,
    /// Time spent polling.
    pub waited_secs: f64,
    /// Why polling stopped.
    pub stopped_because: String,
}

/// Compares incidents with the ground truth. `truth` holds, per sid of the
/// run, its injection and whether it was delivered; incidents of other
/// sids (earlier runs in the same data dir) are ignored.
pub fn compare(
    truth: &HashMap<String, (Option<Injection>, bool)>,
    incidents: &[IncidentLine],
) -> RecallReport {
    let mut r = RecallReport::default();
    for kind in InjectKind::ALL {
        r.by_kind.insert(kind.as_str().to_owned(), KindRecall::default());
    }
    for (inj, delivered) in truth.values() {
        if let Some(inj) = inj {
            if *delivered {
                r.by_kind.get_mut(inj.kind.as_str()).expect("all kinds listed").expected += 1;
            } else {
                r.undelivered += 1;
            }
        }
    }
    let mut found: HashSet<(&str, &str)> = HashSet::new();
    for inc in incidents {
        let Some((inj, delivered)) = truth.get(&inc.sid) else { continue };
        r.incidents += 1;
        match inj {
            Some(inj) if inc.sel.as_deref() == Some(inj.sel.as_str()) => {
                if inc.kind == inj.kind.as_str() {
                    if *delivered && found.insert((inc.sid.as_str(), inc.kind.as_str())) {
                        r.by_kind.get_mut(inj.kind.as_str()).expect("all kinds listed").found += 1;
                    }
                } else {
                    *r.secondary.entry(format!("{}->{}", inj.kind.as_str(), inc.kind)).or_default() += 1;
                }
            }
            _ => *r.unexpected.entry(inc.kind.clone()).or_default() += 1,
        }
    }
    for k in r.by_kind.values_mut() {
        k.recall = if k.expected == 0 { 1.0 } else { k.found as f64 / k.expected as f64 };
    }
    r
}

fn list(cfg: &RecallConfig) -> Result<Vec<IncidentLine>> {
    let out = Command::new(&cfg.ufse_bin)
        .arg("incidents")
        .arg("list")
        .args(["--json", "--limit", "1000000", "--project", &cfg.project])
        .arg("--data-dir")
        .arg(&cfg.data_dir)
        .output()
        .with_context(|| format!("running {}", cfg.ufse_bin.display()))?;
    if !out.status.success() {
        bail!(
            "{} incidents list failed: {}",
            cfg.ufse_bin.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8(out.stdout).context("incidents list printed non-UTF-8")?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("parsing incident line {l}")))
        .collect()
}

/// Polls until the verdicts settle, then compares. `progress` is told about each poll.
///
/// # Errors
///
/// When the incidents could never be listed.
pub fn check(
    cfg: &RecallConfig,
    truth: &HashMap<String, (Option<Injection>, bool)>,
    mut progress: impl FnMut(&RecallReport),
) -> Result<RecallReport> {
    let started = Instant::now();
    let mut last: Option<(RecallReport, Instant)> = None;
    loop {
        match list(cfg) {
            Ok(incidents) => {
                let mut r = compare(truth, &incidents);
                r.waited_secs = started.elapsed().as_secs_f64();
                progress(&r);
                let all_found = r.by_kind.values().all(|k| k.found == k.expected);
                let changed_at = match &last {
                    Some((prev, at)) if prev.incidents == r.incidents => *at,
                    _ => Instant::now(),
                };
                let stop = if all_found && r.by_kind.values().any(|k| k.expected > 0) {
                    Some("every expected incident was found")
                } else if changed_at.elapsed() >= cfg.settle {
                    Some("the counts stopped changing")
                } else if started.elapsed() >= cfg.wait {
                    Some("--recall-wait-secs expired")
                } else {
                    None
                };
                if let Some(why) = stop {
                    r.stopped_because = why.into();
                    return Ok(r);
                }
                last = Some((r, changed_at));
            }
            Err(e) => {
                if started.elapsed() >= cfg.wait {
                    return match last {
                        Some((mut r, _)) => {
                            r.stopped_because =
                                format!("--recall-wait-secs expired (last poll failed: {e:#})");
                            Ok(r)
                        }
                        None => Err(e.context("no incident list could be read before --recall-wait-secs")),
                    };
                }
                // The store may be busy with the server's writes; try again.
                eprintln!("note: listing incidents failed, retrying: {e:#}");
            }
        }
        std::thread::sleep(cfg.poll);
    }
}

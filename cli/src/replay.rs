//! `ufse replay`: a stored session's timeline in the terminal, with the
//! signals inline where their evidence completes (what happened, not when
//! it could be known: a dead click shows at its click); `--explain` shows
//! each signal's rule, parameters and evidence; `--profile` compares with
//! another profile over the whole session; `--follow` paces it as it
//! happened. Colour only on a terminal; `--json` prints the same as JSON
//! Lines.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use ufse_engine::{RuleSet, Signal};

use crate::cli::ReplayArgs;
use crate::output::Out;

/// The signals of one profile over the session.
pub struct Run {
    pub signals: Vec<Signal>,
    pub rules: Arc<RuleSet>,
}

/// Longest pause `--follow` keeps; longer quiet is shortened and marked.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// ANSI styling, on only when stdout is a terminal.
struct Style(bool);

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    fn signal(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    fn kind(&self, s: &str) -> String {
        self.paint("36", s)
    }
}

/// Where a signal shows: after the event that completed its evidence.
fn anchor(events: &[Value], s: &Signal) -> usize {
    let last = s.evidence.iter().max().copied().unwrap_or(0);
    events.iter().position(|e| e["seq"].as_u64() == Some(last)).unwrap_or_else(|| {
        events.iter().rposition(|e| e["ts"].as_i64().unwrap_or(0) <= s.end_ts).unwrap_or(0)
    })
}

/// One signal's identity, for comparing profiles.
fn identity(s: &Signal) -> (String, i64, Vec<u64>) {
    (s.kind.as_str().to_owned(), s.ts, s.evidence.clone())
}

/// `1500`, `1500ms`, `30s`, `2m`, `1h` as ms.
fn parse_offset(flag: &str, s: &str) -> Result<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let bad = || format!("invalid {flag} `{s}`: use 1500ms, 30s, 2m or 1h");
    let n: i64 = num.parse().with_context(bad)?;
    let scale = match unit {
        "" | "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => bail!("invalid {flag} `{s}`: the unit must be ms, s, m or h"),
    };
    n.checked_mul(scale).with_context(bad)
}

/// What an event touched, in a few words.
pub fn describe(e: &Value) -> String {
    let s = |k: &str| e[k].as_str().unwrap_or("");
    match e["t"].as_str().unwrap_or("?") {
        "nav" => format!("{} {}", s("nav"), s("url")),
        "click" => format!(
            "{} ({}, {}){}",
            s("sel"),
            e["x"],
            e["y"],
            e.get("txt").map(|t| format!(" \"{}\"", t.as_str().unwrap_or(""))).unwrap_or_default()
        ),
        "input" | "submit" => s("sel").to_owned(),
        "error" => s("msg").to_owned(),
        "net" => format!("{} {} -> {} in {} ms", s("method"), s("url"), e["status"], e["dur"]),
        "scroll" => format!("y={}", e["y"]),
        "move" => format!("x={} y={}", e["x"], e["y"]),
        "mutation" => format!("n={}", e["n"]),
        "vis" => s("state").to_owned(),
        "longtask" => format!("{} ms", e["dur"]),
        "custom" => s("name").to_owned(),
        _ => String::new(),
    }
}

/// One timeline line: offset from the start, seq, kind, what it touched.
pub fn timeline_line(e: &Value, start: i64) -> String {
    let ts = e["ts"].as_i64().unwrap_or(start);
    let kind = e["t"].as_str().unwrap_or("?");
    format!("  +{:>9.3}s  #{:<5} {:<9} {}", (ts - start) as f64 / 1000.0, e["seq"], kind, describe(e))
}

/// A rule's parameters as `key=value` pairs.
fn parameters(rules: &RuleSet, s: &Signal) -> String {
    match rules.parameters(s.kind) {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
        Some(v) => v.to_string(),
        None => "-".into(),
    }
}

pub fn print(
    out: &mut Out,
    args: &ReplayArgs,
    events: &[Value],
    base: &Run,
    other: Option<&Run>,
) -> Result<()> {
    let start = events.first().and_then(|e| e["ts"].as_i64()).unwrap_or(0);
    let end = events.last().and_then(|e| e["ts"].as_i64()).unwrap_or(start);
    let from = args.from.as_deref().map(|s| parse_offset("--from", s)).transpose()?;
    let to = args.to.as_deref().map(|s| parse_offset("--to", s)).transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            bail!("--from ({f} ms) is after --to ({t} ms)");
        }
    }
    let from = from.map_or(i64::MIN, |o| start.saturating_add(o));
    let to = to.map_or(i64::MAX, |o| start.saturating_add(o));
    if args.follow && !(args.speed > 0.0 && args.speed.is_finite()) {
        bail!("invalid --speed {}: must be a positive number", args.speed);
    }
    let style = Style(!out.json && std::io::stdout().is_terminal());
    // The same profile twice means the configured rules against its defaults.
    let same = other.is_some_and(|o| o.rules.name() == base.rules.name());
    let base_label =
        if same { format!("{} (configured)", base.rules.name()) } else { base.rules.name().to_owned() };
    let other_label =
        other
            .map(|o| if same { format!("{} (defaults)", o.rules.name()) } else { o.rules.name().to_owned() });
    let base_name = base_label.as_str();
    let other_name = other_label.as_deref();

    // Signals to show: the base profile's, and with --profile, the other's
    // where they differ (each marked with the profile it is only under).
    let in_base: BTreeSet<_> = base.signals.iter().map(identity).collect();
    let in_other: BTreeSet<_> = other.map(|o| o.signals.iter().map(identity).collect()).unwrap_or_default();
    let mut shown: Vec<(usize, &Signal, &RuleSet, Option<&str>)> = Vec::new();
    for s in &base.signals {
        let only = (other.is_some() && !in_other.contains(&identity(s))).then_some(base_name);
        shown.push((anchor(events, s), s, &base.rules, only));
    }
    if let (Some(o), Some(name)) = (other, other_name) {
        for s in o.signals.iter().filter(|s| !in_base.contains(&identity(s))) {
            shown.push((anchor(events, s), s, &o.rules, Some(name)));
        }
    }
    shown.sort_by(|a, b| (a.0, a.1.sort_key()).cmp(&(b.0, b.1.sort_key())));

    let profiles = match other_name {
        Some(o) => format!("{base_name} vs {o}"),
        None => base_name.to_owned(),
    };
    if out.json {
        out.json_line(&json!({"type": "session", "project": args.project, "sid": args.sid,
            "profile": base_name, "compared_with": other_name, "events": events.len(),
            "start_ts": start, "end_ts": end}))?;
    } else {
        out.line(format!(
            "session {}  project {}  {} events  {:.3} s  profile {profiles}",
            args.sid,
            args.project,
            events.len(),
            (end - start) as f64 / 1000.0
        ))?;
    }

    let mut next = 0;
    let mut last_shown: Option<i64> = None;
    for (i, e) in events.iter().enumerate() {
        let ts = e["ts"].as_i64().unwrap_or(start);
        let visible = (from..=to).contains(&ts);
        if visible {
            if args.follow {
                if let Some(prev) = last_shown {
                    pause(out, &style, ts - prev, args.speed)?;
                }
                last_shown = Some(ts);
            }
            if out.json {
                out.json_line(&json!({"type": "event", "offset_ms": ts - start, "event": e}))?;
            } else {
                out.line(timeline_line(e, start))?;
            }
        }
        while next < shown.len() && shown[next].0 == i {
            let (_, s, rules, only) = shown[next];
            next += 1;
            if visible {
                signal(out, &style, args.explain, events, start, s, rules, only)?;
            }
        }
        if args.follow {
            out.flush()?;
        }
    }

    if let Some(o) = other_name {
        let only_base = shown.iter().filter(|x| x.3 == Some(base_name)).count();
        let only_other = shown.iter().filter(|x| x.3 == Some(o)).count();
        if out.json {
            out.json_line(&json!({"type": "difference", "profiles": [base_name, o],
                "only_under": {base_name: only_base, o: only_other}}))?;
        } else if only_base + only_other == 0 {
            out.line(format!("{base_name} and {o} find the same signals"))?;
        } else {
            out.line(format!("{only_base} signal(s) only under {base_name}, {only_other} only under {o}"))?;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn signal(
    out: &mut Out,
    style: &Style,
    explain: bool,
    events: &[Value],
    start: i64,
    s: &Signal,
    rules: &RuleSet,
    only: Option<&str>,
) -> Result<()> {
    if out.json {
        let mut line = json!({"type": "signal", "profile": rules.name(), "signal": s});
        if let Some(p) = only {
            line["only_under"] = json!(p);
        }
        if explain {
            line["rule"] = json!({"kind": s.kind.as_str(), "parameters": rules.parameters(s.kind)});
        }
        out.json_line(&line)?;
        return Ok(());
    }
    let only = only.map(|p| format!("  [only under {p}]")).unwrap_or_default();
    out.line(format!(
        "  {:>11} {} count={} evidence={:?}  {}{}",
        style.signal("▲"),
        style.signal(s.kind.as_str()),
        s.count,
        s.evidence,
        s.sel.as_deref().or(s.url.as_deref()).unwrap_or("-"),
        style.dim(&only)
    ))?;
    if explain {
        out.line(format!(
            "              {} {} (profile {}): {}",
            style.dim("rule"),
            style.kind(s.kind.as_str()),
            rules.name(),
            parameters(rules, s)
        ))?;
        for seq in &s.evidence {
            if let Some(e) = events.iter().find(|e| e["seq"].as_u64() == Some(*seq)) {
                out.line(format!(
                    "              {} {}",
                    style.dim("evidence"),
                    timeline_line(e, start).trim_start()
                ))?;
            }
        }
        out.line(format!(
            "              {} +{:.3}s .. +{:.3}s",
            style.dim("window"),
            (s.ts - start) as f64 / 1000.0,
            (s.end_ts - start) as f64 / 1000.0
        ))?;
    }
    Ok(())
}

/// Waits as long as the session did between two events (scaled), and
/// marks quiet stretches that were shortened.
fn pause(out: &mut Out, style: &Style, gap_ms: i64, speed: f64) -> Result<()> {
    out.flush()?;
    let secs = (gap_ms.max(0) as f64 / 1000.0) / speed;
    if secs > MAX_PAUSE.as_secs_f64() {
        if out.json {
            out.json_line(&json!({"type": "gap", "ms": gap_ms}))?;
        } else {
            out.line(style.dim(&format!("  … {:.1} s later", gap_ms as f64 / 1000.0)))?;
        }
        out.flush()?;
        std::thread::sleep(MAX_PAUSE);
    } else {
        std::thread::sleep(Duration::from_secs_f64(secs));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("--from", "1500").unwrap(), 1500);
        assert_eq!(parse_offset("--from", "1500ms").unwrap(), 1500);
        assert_eq!(parse_offset("--from", "30s").unwrap(), 30_000);
        assert_eq!(parse_offset("--from", "2m").unwrap(), 120_000);
        assert_eq!(parse_offset("--to", "1h").unwrap(), 3_600_000);
        assert!(parse_offset("--to", "2d").unwrap_err().to_string().contains("--to"));
        assert!(parse_offset("--from", "soon").is_err());
        assert!(parse_offset("--from", "9999999999999999h").is_err());
    }
}

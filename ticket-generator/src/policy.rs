//! The ticket policy: which issues deserve a ticket, from a TOML file of
//! rules (the built-in one is `policy.default.toml`), and the thresholds
//! the hot path queues triage at.

use serde::Deserialize;
use ufse_engine::SignalKind;
use ufse_incident_store::{Issue, Severity, TriggerRule, Triggers};

/// The built-in policy's text.
pub const DEFAULT_POLICY: &str = include_str!("../policy.default.toml");

/// One rule: an issue of one of `kinds` (any kind when empty) at or above
/// `min_severity`, with `min_sessions` affected sessions (within
/// `window_ms` when set), deserves a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Signal kinds it covers; empty, every kind.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// The least severity.
    pub min_severity: Severity,
    /// The fewest affected sessions.
    #[serde(default = "one")]
    pub min_sessions: u64,
    /// Count sessions over this window only; unset, all time.
    #[serde(default)]
    pub window_ms: Option<u64>,
}

fn one() -> u64 {
    1
}

impl Rule {
    fn covers(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind)
    }
}

/// Why a policy file is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not TOML of the policy's shape.
    #[error("invalid policy: {0}")]
    Toml(#[from] toml::de::Error),
    /// A kind that no rule of the engine produces.
    #[error("invalid policy: rule {rule} names `{kind}`, which is no signal kind (known: {known})")]
    UnknownKind {
        /// The rule's position, from 1.
        rule: usize,
        /// The name given.
        kind: String,
        /// The names there are.
        known: String,
    },
    /// A rule that no issue can meet.
    #[error("invalid policy: rule {0} asks for 0 sessions; every issue has at least one")]
    ZeroSessions(usize),
}

/// Which issues deserve a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The rules; an issue deserves a ticket when any rule covering it is met.
    #[serde(rename = "rule", default)]
    pub rules: Vec<Rule>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::from_toml(DEFAULT_POLICY).expect("the built-in policy is valid")
    }
}

impl Policy {
    /// Parses and checks a policy file's text.
    ///
    /// # Errors
    ///
    /// When it is not a policy, names an unknown kind or asks for no sessions.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(text)?;
        for (i, rule) in policy.rules.iter().enumerate() {
            if rule.min_sessions == 0 {
                return Err(PolicyError::ZeroSessions(i + 1));
            }
            if let Some(kind) = rule.kinds.iter().find(|k| SignalKind::parse(k).is_none()) {
                let known: Vec<&str> = SignalKind::ALL.iter().map(|(_, n)| *n).collect();
                return Err(PolicyError::UnknownKind {
                    rule: i + 1,
                    kind: kind.clone(),
                    known: known.join(", "),
                });
            }
        }
        Ok(policy)
    }

    /// The rules `issue` might meet: those covering its kind whose severity it has.
    pub fn candidates<'a>(&'a self, issue: &'a Issue) -> impl Iterator<Item = &'a Rule> + 'a {
        let severity = Severity::parse(&issue.severity).unwrap_or(Severity::Low);
        self.rules.iter().filter(move |r| r.covers(&issue.kind) && severity >= r.min_severity)
    }

    /// What the hot path queues, for a cold path that files tickets (or
    /// explains with AI) when `active`: nothing otherwise, since nothing
    /// would come of it.
    pub fn triggers(&self, enabled: bool, active: bool, comment_delay_ms: i64) -> Triggers {
        let rules = self
            .rules
            .iter()
            .map(|r| TriggerRule {
                kinds: r.kinds.clone(),
                min_severity: r.min_severity,
                min_sessions: r.min_sessions,
            })
            .collect();
        Triggers { enabled: enabled && active, rules, comment_delay_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(kind: &str, severity: &str) -> Issue {
        Issue {
            fingerprint: "fp".into(),
            project: "default".into(),
            kind: kind.into(),
            url_template: "a.io/".into(),
            sel: None,
            status: "open".into(),
            severity: severity.into(),
            incidents: 1,
            sessions: 1,
            users: 1,
            first_seen: 0,
            last_seen: 0,
            example_url: None,
        }
    }

    #[test]
    fn the_built_in_policy_files_broken_apps_at_once_and_friction_when_it_spreads() {
        let p = Policy::default();
        let error = issue("error_click", "medium");
        assert_eq!(p.candidates(&error).map(|r| r.min_sessions).collect::<Vec<_>>(), [1]);
        assert_eq!(p.candidates(&issue("error_click", "low")).count(), 0);
        let dead = issue("dead_click", "high");
        let rule = p.candidates(&dead).next().unwrap();
        assert_eq!((rule.min_sessions, rule.window_ms), (5, Some(604_800_000)));
        assert_eq!(p.candidates(&issue("u_turn", "high")).count(), 0);
        assert_eq!(p.candidates(&issue("u_turn", "critical")).count(), 1, "critical is always worth it");
        let t = p.triggers(true, true, 5);
        assert!(t.enabled);
        assert_eq!(t.rules.len(), 3);
        assert_eq!(
            (t.rules[1].min_severity, t.rules[1].min_sessions),
            (Severity::High, 5),
            "no window in the hot path"
        );
        assert!(!p.triggers(true, false, 5).enabled, "nothing to file or explain: nothing queued");
        assert!(!p.triggers(false, true, 5).enabled);
    }

    #[test]
    fn bad_policies_are_refused_saying_why() {
        let e = Policy::from_toml("[[rule]]\nkinds = [\"rage\"]\nmin_severity = \"low\"\n").unwrap_err();
        assert!(e.to_string().contains("`rage`") && e.to_string().contains("rage_click"), "{e}");
        let e = Policy::from_toml("[[rule]]\nmin_severity = \"low\"\nmin_sessions = 0\n").unwrap_err();
        assert!(e.to_string().contains("rule 1"), "{e}");
        assert!(Policy::from_toml("[[rule]]\nmin_severity = \"urgent\"\n").is_err());
        assert!(Policy::from_toml("[[rules]]\nmin_severity = \"low\"\n").is_err(), "unknown keys are errors");
        assert_eq!(Policy::from_toml("").unwrap().rules.len(), 0, "an empty policy files nothing");
    }
}

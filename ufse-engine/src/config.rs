//! Rules as data: every parameter of every rule, from a TOML rules file
//! with built-in defaults (see `docs/rules.md` for the reasoning behind each).

use serde::{Deserialize, Serialize};

use crate::selector::SelectorList;

/// Why a rules file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// Not valid TOML, or a key of the wrong type or unknown.
    #[error("invalid rules file: {0}")]
    Parse(#[from] toml::de::Error),
    /// A profile this build does not have.
    #[error("unknown profile `{0}` (known: ufse)")]
    UnknownProfile(String),
    /// A parameter outside its range.
    #[error("invalid value for `{key}`: {why}")]
    Invalid {
        /// Dotted key.
        key: &'static str,
        /// What is wrong.
        why: &'static str,
    },
}

/// `rage_click`: several clicks in one spot in quick succession.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RageClickConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Clicks a run needs to be rage.
    pub min_clicks: u32,
    /// Longest gap between consecutive clicks of a run.
    pub max_interval_ms: i64,
    /// Largest distance (Euclidean, CSS px) between consecutive clicks.
    pub radius_px: f64,
    /// Clicks matching these are transparent: they neither count nor break a run.
    pub ignore_selectors: SelectorList,
}

impl Default for RageClickConfig {
    fn default() -> Self {
        RageClickConfig {
            enabled: true,
            min_clicks: 3,
            max_interval_ms: 1000,
            radius_px: 30.0,
            ignore_selectors: SelectorList::default(),
        }
    }
}

/// `dead_click`: a click nothing reacted to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadClickConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// How long after the click a reaction may come.
    pub window_ms: i64,
    /// How much longer to wait for requests that started in the window but
    /// are reported only when they end.
    pub net_grace_ms: i64,
    /// A second click on the same selector within this long is not another dead click.
    pub repeat_ms: i64,
    /// Clicks matching these are never dead.
    pub ignore_selectors: SelectorList,
}

impl Default for DeadClickConfig {
    fn default() -> Self {
        DeadClickConfig {
            enabled: true,
            window_ms: 3000,
            net_grace_ms: 10_000,
            repeat_ms: 1000,
            ignore_selectors: SelectorList::default(),
        }
    }
}

/// `error_click`: an uncaught error soon after a click.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorClickConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Longest delay from click to error.
    pub window_ms: i64,
}

impl Default for ErrorClickConfig {
    fn default() -> Self {
        ErrorClickConfig { enabled: true, window_ms: 1000 }
    }
}

/// A complete rule set: the profile and every rule's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSet {
    /// The profile; part of every incident id, so the same input under two
    /// profiles never collides.
    pub profile: String,
    /// Rage clicks.
    pub rage_click: RageClickConfig,
    /// Dead clicks.
    pub dead_click: DeadClickConfig,
    /// Error clicks.
    pub error_click: ErrorClickConfig,
}

impl Default for RuleSet {
    fn default() -> Self {
        RuleSet {
            profile: "ufse".into(),
            rage_click: RageClickConfig::default(),
            dead_click: DeadClickConfig::default(),
            error_click: ErrorClickConfig::default(),
        }
    }
}

/// The profiles this build knows.
pub const PROFILES: &[&str] = &["ufse"];

impl RuleSet {
    /// The built-in defaults of a profile.
    ///
    /// # Errors
    ///
    /// [`RulesError::UnknownProfile`] for a name not in [`PROFILES`].
    pub fn profile(name: &str) -> Result<Self, RulesError> {
        match name {
            "ufse" => Ok(RuleSet::default()),
            other => Err(RulesError::UnknownProfile(other.to_owned())),
        }
    }

    /// Parses a rules file; keys it does not set keep the profile's defaults.
    /// `profile` overrides the file's `profile` key when given.
    ///
    /// # Errors
    ///
    /// [`RulesError`] naming the bad key.
    pub fn from_toml(text: &str, profile: Option<&str>) -> Result<Self, RulesError> {
        let mut table: toml::Table = text.parse()?;
        let name = match profile {
            Some(p) => p.to_owned(),
            None => table.get("profile").and_then(|v| v.as_str()).unwrap_or("ufse").to_owned(),
        };
        RuleSet::profile(&name)?;
        table.insert("profile".into(), toml::Value::String(name));
        let rules: RuleSet = table.try_into()?;
        rules.validate()?;
        Ok(rules)
    }

    fn validate(&self) -> Result<(), RulesError> {
        let check = |ok: bool, key, why| if ok { Ok(()) } else { Err(RulesError::Invalid { key, why }) };
        check(self.rage_click.min_clicks >= 2, "rage_click.min_clicks", "must be at least 2")?;
        check(self.rage_click.max_interval_ms > 0, "rage_click.max_interval_ms", "must be positive")?;
        check(self.rage_click.radius_px >= 0.0, "rage_click.radius_px", "must not be negative")?;
        check(self.dead_click.window_ms > 0, "dead_click.window_ms", "must be positive")?;
        check(self.dead_click.net_grace_ms >= 0, "dead_click.net_grace_ms", "must not be negative")?;
        check(self.dead_click.repeat_ms >= 0, "dead_click.repeat_ms", "must not be negative")?;
        check(self.error_click.window_ms > 0, "error_click.window_ms", "must be positive")?;
        Ok(())
    }

    /// How far behind the newest event a rule may still need to look:
    /// the horizon after which a silent session has nothing left to decide.
    pub fn horizon_ms(&self) -> i64 {
        self.rage_click
            .max_interval_ms
            .max(self.dead_click.window_ms + self.dead_click.net_grace_ms)
            .max(self.error_click.window_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rules_file_overrides_only_what_it_sets() {
        let r = RuleSet::from_toml("[rage_click]\nmin_clicks = 4\nignore_selectors = ['.stepper']\n", None)
            .unwrap();
        assert_eq!(r.rage_click.min_clicks, 4);
        assert_eq!(r.rage_click.max_interval_ms, 1000);
        assert_eq!(r.dead_click, DeadClickConfig::default());
        assert!(r.rage_click.ignore_selectors.matches("div.stepper > button"));
    }

    #[test]
    fn bad_rules_files_name_the_problem() {
        let e = RuleSet::from_toml("[rage_click]\nmin_clicks = 1\n", None).unwrap_err();
        assert_eq!(e.to_string(), "invalid value for `rage_click.min_clicks`: must be at least 2");
        let e = RuleSet::from_toml("[rage_click]\nmin_clikcs = 4\n", None).unwrap_err();
        assert!(e.to_string().contains("min_clikcs"), "{e}");
        let e = RuleSet::from_toml("", Some("fullstory")).unwrap_err();
        assert!(matches!(e, RulesError::UnknownProfile(p) if p == "fullstory"));
    }
}

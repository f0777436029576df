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
    #[error("unknown profile `{0}` (known: ufse, posthog, datadog, sentry, amplitude, openreplay)")]
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
    /// A selection change within this long after a run's last click means
    /// its clicks were selecting text (a double or triple click): the run
    /// is dropped, not emitted.
    pub select_ms: i64,
    /// Clicks matching these are transparent: they neither count nor break a run.
    pub ignore_selectors: SelectorList,
    /// Clicks whose whole label (`txt`, trimmed, case-insensitive) is one of
    /// these are transparent too: steppers and pagination are clicked
    /// quickly and repeatedly on purpose.
    pub ignore_labels: Vec<String>,
    /// Clicks whose label is only digits (`#` on the wire) are transparent:
    /// page numbers.
    pub ignore_digit_labels: bool,
    /// A rage run with a dead click in it also yields one `dead_click` for
    /// the run, and one with an error one `error_click`, instead of one
    /// per click.
    pub fold: bool,
}

impl Default for RageClickConfig {
    fn default() -> Self {
        RageClickConfig {
            enabled: true,
            min_clicks: 3,
            max_interval_ms: 1000,
            radius_px: 30.0,
            select_ms: 500,
            ignore_selectors: SelectorList::default(),
            ignore_labels: ["+", "-", "\u{2212}", "next", "prev", "previous", ">", "<", "\u{bb}", "\u{ab}"]
                .map(String::from)
                .to_vec(),
            ignore_digit_labels: true,
            fold: true,
        }
    }
}

impl RageClickConfig {
    /// Whether a click label marks a stepper or pagination control.
    pub(crate) fn ignores_label(&self, txt: Option<&str>) -> bool {
        let Some(label) = txt.map(str::trim).filter(|t| !t.is_empty()) else { return false };
        if self.ignore_digit_labels && label.bytes().all(|b| b == b'#' || b.is_ascii_digit()) {
            return true;
        }
        // Runs on every click: the words are trimmed and lower-cased once
        // (see `RuleSet::from_toml`), and ASCII labels (nearly all) compare
        // without allocating.
        if label.is_ascii() {
            return self
                .ignore_labels
                .iter()
                .any(|w| w.len() == label.len() && w.eq_ignore_ascii_case(label));
        }
        let label = label.to_lowercase();
        self.ignore_labels.contains(&label)
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
    /// A reaction within this long after a later click on another element
    /// is that click's: the clicks before it still waiting do not get it.
    pub cause_ms: i64,
    /// The page going hidden answers the latest click only within this
    /// long (a button that opened a tab); later, the user left.
    pub hidden_ms: i64,
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
            cause_ms: 100,
            hidden_ms: 300,
            ignore_selectors: SelectorList::default(),
        }
    }
}

/// `slow_click`: the first reaction to a click comes late, but within the
/// dead-click window (the same reactions count; see [`DeadClickConfig`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlowClickConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// A first reaction later than this after the click is slow.
    pub min_delay_ms: i64,
}

impl Default for SlowClickConfig {
    fn default() -> Self {
        SlowClickConfig { enabled: true, min_delay_ms: 1000 }
    }
}

/// `failed_request`: a request started soon after a click or submit failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailedRequestConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Longest delay from the click or submit to the request's start.
    pub window_ms: i64,
    /// Statuses from this one up count as failed (0, a network failure, always does).
    pub min_status: u16,
    /// How long a click stays a candidate for requests still running: a
    /// request is reported when it ends, so one that started in the window
    /// may arrive this much later.
    pub max_request_ms: i64,
}

impl Default for FailedRequestConfig {
    fn default() -> Self {
        FailedRequestConfig { enabled: true, window_ms: 5000, min_status: 500, max_request_ms: 30_000 }
    }
}

/// `form_loop`: the same form submitted again and again without leaving the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FormLoopConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Submits of one form a loop needs.
    pub min_submits: u32,
    /// Longest span from the loop's first submit to its last.
    pub window_ms: i64,
}

impl Default for FormLoopConfig {
    fn default() -> Self {
        FormLoopConfig { enabled: true, min_submits: 3, window_ms: 30_000 }
    }
}

/// Reversals of direction along one axis: `thrashed_cursor` (pointer, x)
/// and `excessive_scroll` (scroll, y). No `Default`: each rule has its own
/// (a rules file is merged over the profile's values, see [`RuleSet::from_toml`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReversalsConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Reversals within `window_ms` that make a signal.
    pub min_reversals: u32,
    /// The span those reversals must fit in.
    pub window_ms: i64,
    /// Shortest leg between two reversals, in px (`thrashed_cursor`).
    pub min_leg_px: f64,
    /// Shortest leg as a share of the viewport height (`excessive_scroll`;
    /// 0 = use `min_leg_px`).
    pub min_leg_viewports: f64,
}

impl ReversalsConfig {
    /// The shortest leg, in px, given the viewport height where known;
    /// `None` when it cannot be told (a viewport share without a viewport).
    pub(crate) fn leg_px(&self, vh: Option<f64>) -> Option<f64> {
        match vh.filter(|vh| *vh > 0.0) {
            Some(vh) if self.min_leg_viewports > 0.0 => Some(vh * self.min_leg_viewports),
            _ => (self.min_leg_px > 0.0).then_some(self.min_leg_px),
        }
    }

    fn thrashed_cursor() -> Self {
        ReversalsConfig {
            enabled: true,
            min_reversals: 10,
            window_ms: 2000,
            min_leg_px: 20.0,
            min_leg_viewports: 0.0,
        }
    }

    fn excessive_scroll() -> Self {
        ReversalsConfig {
            enabled: true,
            min_reversals: 4,
            window_ms: 5000,
            min_leg_px: 0.0,
            min_leg_viewports: 0.5,
        }
    }
}

/// `u_turn`: the user went to a page and straight back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UTurnConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Longest stay on the page before going back.
    pub window_ms: i64,
}

impl Default for UTurnConfig {
    fn default() -> Self {
        UTurnConfig { enabled: true, window_ms: 5000 }
    }
}

/// `unresponsive`: a long task blocked the page right after a click.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnresponsiveConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Shortest long task that counts.
    pub min_task_ms: u64,
    /// Longest delay from the click to the task's start.
    pub window_ms: i64,
}

impl Default for UnresponsiveConfig {
    fn default() -> Self {
        UnresponsiveConfig { enabled: true, min_task_ms: 1000, window_ms: 1000 }
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

/// The `ufse` profile: the full catalogue, every rule's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Catalogue {
    /// Rage clicks.
    pub rage_click: RageClickConfig,
    /// Dead clicks.
    pub dead_click: DeadClickConfig,
    /// Error clicks.
    pub error_click: ErrorClickConfig,
    /// Slow clicks.
    pub slow_click: SlowClickConfig,
    /// Failed requests.
    pub failed_request: FailedRequestConfig,
    /// Form loops.
    pub form_loop: FormLoopConfig,
    /// Thrashed cursor.
    pub thrashed_cursor: ReversalsConfig,
    /// U-turns.
    pub u_turn: UTurnConfig,
    /// Excessive scrolling.
    pub excessive_scroll: ReversalsConfig,
    /// Unresponsive page.
    pub unresponsive: UnresponsiveConfig,
}

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue {
            rage_click: RageClickConfig::default(),
            dead_click: DeadClickConfig::default(),
            error_click: ErrorClickConfig::default(),
            slow_click: SlowClickConfig::default(),
            failed_request: FailedRequestConfig::default(),
            form_loop: FormLoopConfig::default(),
            thrashed_cursor: ReversalsConfig::thrashed_cursor(),
            u_turn: UTurnConfig::default(),
            excessive_scroll: ReversalsConfig::excessive_scroll(),
            unresponsive: UnresponsiveConfig::default(),
        }
    }
}

/// A complete rule set: a profile and its parameters. A profile replaces
/// the catalogue and emits only its own kinds; `ufse` is the default, the
/// others reproduce peers' published rules (see `docs/profiles.md`). The
/// profile's name is part of every incident id, so the same input under
/// two profiles never collides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "profile", rename_all = "snake_case")]
#[non_exhaustive]
// Built once per process and shared behind an `Arc`: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum RuleSet {
    /// The full catalogue.
    Ufse(Catalogue),
    /// PostHog's rage and dead clicks.
    Posthog(crate::peers::posthog::Rules),
    /// OpenReplay's rage and dead clicks.
    Openreplay(crate::peers::openreplay::Rules),
    /// Amplitude's rage, dead and error clicks and thrashed cursor.
    Amplitude(crate::peers::amplitude::Rules),
    /// Sentry's slow, dead and rage clicks.
    Sentry(crate::peers::sentry::Rules),
    /// Datadog's rage, dead and error clicks.
    Datadog(crate::peers::datadog::Rules),
}

impl Default for RuleSet {
    fn default() -> Self {
        RuleSet::Ufse(Catalogue::default())
    }
}

/// The longest window or delay a rule may have: a day, a session part's
/// longest life.
const MAX_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// The profiles this build knows.
pub const PROFILES: &[&str] = &["ufse", "posthog", "datadog", "sentry", "amplitude", "openreplay"];

impl RuleSet {
    /// The built-in defaults of a profile.
    ///
    /// # Errors
    ///
    /// [`RulesError::UnknownProfile`] for a name not in [`PROFILES`].
    pub fn profile(name: &str) -> Result<Self, RulesError> {
        Ok(match name {
            "ufse" => RuleSet::default(),
            "posthog" => RuleSet::Posthog(Default::default()),
            "openreplay" => RuleSet::Openreplay(Default::default()),
            "amplitude" => RuleSet::Amplitude(Default::default()),
            "sentry" => RuleSet::Sentry(Default::default()),
            "datadog" => RuleSet::Datadog(Default::default()),
            other => return Err(RulesError::UnknownProfile(other.to_owned())),
        })
    }

    /// The profile's name.
    pub fn name(&self) -> &'static str {
        match self {
            RuleSet::Ufse(_) => "ufse",
            RuleSet::Posthog(_) => "posthog",
            RuleSet::Openreplay(_) => "openreplay",
            RuleSet::Amplitude(_) => "amplitude",
            RuleSet::Sentry(_) => "sentry",
            RuleSet::Datadog(_) => "datadog",
        }
    }

    /// The parameters behind signals of `kind` under this profile (its
    /// section of the rules file, as JSON), for explanations; `None` when
    /// the profile has no such rule.
    pub fn parameters(&self, kind: crate::SignalKind) -> Option<serde_json::Value> {
        let all = serde_json::to_value(self).expect("rule sets serialize");
        // Sentry judges every click once, in one section; Datadog decides
        // dead and error clicks from one action.
        use crate::SignalKind as K;
        let section = match (self, kind) {
            (RuleSet::Sentry(_), K::SlowClick | K::DeadClick | K::RageClick) => "click",
            (RuleSet::Sentry(_), _) => return None,
            (RuleSet::Datadog(_), K::DeadClick | K::ErrorClick) => "action",
            _ => kind.as_str(),
        };
        all.get(section).cloned()
    }

    /// The catalogue, under the `ufse` profile.
    pub fn catalogue(&self) -> Option<&Catalogue> {
        match self {
            RuleSet::Ufse(c) => Some(c),
            _ => None,
        }
    }

    /// Parses a rules file; keys it does not set keep the profile's defaults.
    /// `profile` overrides the file's `profile` key when given.
    ///
    /// # Errors
    ///
    /// [`RulesError`] naming the bad key.
    pub fn from_toml(text: &str, profile: Option<&str>) -> Result<Self, RulesError> {
        let mut file: toml::Table = text.parse()?;
        let name = match (profile, file.get("profile")) {
            (Some(p), _) => p.to_owned(),
            (None, None) => "ufse".to_owned(),
            (None, Some(toml::Value::String(p))) => p.clone(),
            (None, Some(_)) => {
                return Err(RulesError::Invalid { key: "profile", why: "must be a profile name (a string)" })
            }
        };
        file.insert("profile".into(), toml::Value::String(name.clone()));
        // The file is laid over the profile's own values, key by key, so a
        // partial section keeps that profile's defaults for the rest.
        let mut merged =
            toml::Table::try_from(RuleSet::profile(&name)?).expect("rule sets serialize to TOML");
        merge(&mut merged, file);
        let mut rules: RuleSet = merged.try_into()?;
        match &mut rules {
            RuleSet::Ufse(c) => {
                for w in &mut c.rage_click.ignore_labels {
                    *w = w.trim().to_lowercase();
                }
                c.validate()?;
            }
            RuleSet::Posthog(r) => r.validate()?,
            RuleSet::Openreplay(r) => r.validate()?,
            RuleSet::Amplitude(r) => r.validate()?,
            RuleSet::Sentry(r) => r.validate()?,
            RuleSet::Datadog(r) => r.validate()?,
        }
        Ok(rules)
    }
}

/// Checks a duration parameter: positive where a window must exist (or
/// not negative), and at most a day, so time arithmetic on client times
/// can never overflow.
pub(crate) fn check_ms(ms: i64, key: &'static str, zero_ok: bool) -> Result<(), RulesError> {
    let ok = if zero_ok { (0..=MAX_WINDOW_MS).contains(&ms) } else { ms > 0 && ms <= MAX_WINDOW_MS };
    let why = if zero_ok {
        "must be between 0 and 86400000 (24 h)"
    } else {
        "must be between 1 and 86400000 (24 h)"
    };
    if ok {
        Ok(())
    } else {
        Err(RulesError::Invalid { key, why })
    }
}

impl Catalogue {
    fn validate(&self) -> Result<(), RulesError> {
        let check = |ok: bool, key, why| if ok { Ok(()) } else { Err(RulesError::Invalid { key, why }) };
        let window = |ms, key| check_ms(ms, key, false);
        let span = |ms, key| check_ms(ms, key, true);
        check(self.rage_click.min_clicks >= 2, "rage_click.min_clicks", "must be at least 2")?;
        window(self.rage_click.max_interval_ms, "rage_click.max_interval_ms")?;
        span(self.rage_click.select_ms, "rage_click.select_ms")?;
        check(self.rage_click.radius_px >= 0.0, "rage_click.radius_px", "must not be negative")?;
        window(self.dead_click.window_ms, "dead_click.window_ms")?;
        span(self.dead_click.net_grace_ms, "dead_click.net_grace_ms")?;
        span(self.dead_click.repeat_ms, "dead_click.repeat_ms")?;
        span(self.dead_click.cause_ms, "dead_click.cause_ms")?;
        span(self.dead_click.hidden_ms, "dead_click.hidden_ms")?;
        window(self.error_click.window_ms, "error_click.window_ms")?;
        span(self.slow_click.min_delay_ms, "slow_click.min_delay_ms")?;
        window(self.failed_request.window_ms, "failed_request.window_ms")?;
        span(self.failed_request.max_request_ms, "failed_request.max_request_ms")?;
        check(
            (100..=599).contains(&self.failed_request.min_status),
            "failed_request.min_status",
            "must be an HTTP status (100 to 599)",
        )?;
        check(self.form_loop.min_submits >= 2, "form_loop.min_submits", "must be at least 2")?;
        window(self.form_loop.window_ms, "form_loop.window_ms")?;
        check(
            self.thrashed_cursor.min_reversals >= 1,
            "thrashed_cursor.min_reversals",
            "must be at least 1",
        )?;
        window(self.thrashed_cursor.window_ms, "thrashed_cursor.window_ms")?;
        // Pointer legs are in px: there is no viewport to scale by.
        check(self.thrashed_cursor.min_leg_px > 0.0, "thrashed_cursor.min_leg_px", "must be positive")?;
        check(
            self.excessive_scroll.min_reversals >= 1,
            "excessive_scroll.min_reversals",
            "must be at least 1",
        )?;
        window(self.excessive_scroll.window_ms, "excessive_scroll.window_ms")?;
        let r = &self.excessive_scroll;
        check(
            r.min_leg_px >= 0.0
                && r.min_leg_viewports >= 0.0
                && (r.min_leg_px > 0.0 || r.min_leg_viewports > 0.0),
            "excessive_scroll.min_leg_viewports",
            "one of min_leg_px and min_leg_viewports must be positive, neither negative",
        )?;
        window(self.u_turn.window_ms, "u_turn.window_ms")?;
        span(self.unresponsive.window_ms, "unresponsive.window_ms")?;
        Ok(())
    }
}

/// Lays `over` onto `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rules_file_overrides_only_what_it_sets() {
        let r = RuleSet::from_toml("[rage_click]\nmin_clicks = 4\nignore_selectors = ['.stepper']\n", None)
            .unwrap();
        let r = r.catalogue().unwrap();
        assert_eq!(r.rage_click.min_clicks, 4);
        assert_eq!(r.rage_click.max_interval_ms, 1000);
        assert_eq!(r.dead_click, DeadClickConfig::default());
        assert!(r.rage_click.ignore_selectors.matches("div.stepper > button"));
        // A partial section keeps that rule's own defaults, not another's.
        let r = RuleSet::from_toml("[excessive_scroll]\nmin_reversals = 6\n", None).unwrap();
        let r = r.catalogue().unwrap();
        assert_eq!(r.excessive_scroll.min_reversals, 6);
        assert_eq!(r.excessive_scroll.min_leg_viewports, 0.5);
        assert_eq!(r.thrashed_cursor, Catalogue::default().thrashed_cursor);
    }

    #[test]
    fn a_rules_file_overrides_a_peer_profile_too() {
        let r = RuleSet::from_toml("profile = 'posthog'\n[rage_click]\nclick_count = 4\n", None).unwrap();
        let RuleSet::Posthog(p) = &r else { panic!("{r:?}") };
        assert_eq!((p.rage_click.click_count, p.rage_click.threshold_px), (4, 30.0));
        assert!(p.rage_click.ignore_selectors.matches("div.ph-no-capture > a"));
        assert_eq!(r.name(), "posthog");
        // --profile wins over the file, and the file's keys must fit that profile.
        let r = RuleSet::from_toml("profile = 'posthog'\n", Some("openreplay")).unwrap();
        assert_eq!(r.name(), "openreplay");
        let e = RuleSet::from_toml("[rage_click]\nclick_count = 4\n", Some("openreplay")).unwrap_err();
        assert!(e.to_string().contains("click_count"), "{e}");
        let e = RuleSet::from_toml("[dead_click]\nwindow_ms = 0\n", Some("amplitude")).unwrap_err();
        assert!(matches!(e, RulesError::Invalid { key: "dead_click.window_ms", .. }), "{e}");
        for name in PROFILES {
            assert_eq!(RuleSet::profile(name).unwrap().name(), *name);
        }
        let p = RuleSet::profile("posthog").unwrap();
        assert_eq!(p.parameters(crate::SignalKind::RageClick).unwrap()["click_count"], 3);
        assert_eq!(p.parameters(crate::SignalKind::FormLoop), None);
        let sentry = RuleSet::profile("sentry").unwrap();
        assert_eq!(sentry.parameters(crate::SignalKind::SlowClick).unwrap()["timeout_ms"], 7000);
        assert_eq!(sentry.parameters(crate::SignalKind::ErrorClick), None);
        assert_eq!(RuleSet::default().parameters(crate::SignalKind::FormLoop).unwrap()["min_submits"], 3);
    }

    #[test]
    fn stepper_and_pagination_labels() {
        let r = RageClickConfig::default();
        for label in ["+", " Next ", "PREV", "\u{2212}", "\u{bb}", "##", "3"] {
            assert!(r.ignores_label(Some(label)), "{label:?}");
        }
        let r = RuleSet::from_toml("[rage_click]\nignore_labels = [' Далее ', 'NEXT']\n", None)
            .unwrap()
            .catalogue()
            .unwrap()
            .rage_click
            .clone();
        assert!(r.ignores_label(Some("ДАЛЕЕ")) && r.ignores_label(Some("next")));
        for label in ["Next page", "Buy", "", "#a", "Дале"] {
            assert!(!r.ignores_label(Some(label)), "{label:?}");
        }
        assert!(!r.ignores_label(None));
    }

    #[test]
    fn bad_rules_files_name_the_problem() {
        let e = RuleSet::from_toml("[rage_click]\nmin_clicks = 1\n", None).unwrap_err();
        assert_eq!(e.to_string(), "invalid value for `rage_click.min_clicks`: must be at least 2");
        let e = RuleSet::from_toml("[rage_click]\nmin_clikcs = 4\n", None).unwrap_err();
        assert!(e.to_string().contains("min_clikcs"), "{e}");
        for (file, key) in [
            ("[dead_click]\nwindow_ms = 9223372036854775000\n", "dead_click.window_ms"),
            ("[failed_request]\nmin_status = 0\n", "failed_request.min_status"),
            ("[thrashed_cursor]\nmin_leg_px = 0.0\nmin_leg_viewports = 0.5\n", "thrashed_cursor.min_leg_px"),
            ("profile = 1\n", "profile"),
        ] {
            let e = RuleSet::from_toml(file, None).unwrap_err();
            assert!(matches!(e, RulesError::Invalid { key: k, .. } if k == key), "{file}: {e}");
        }
        let e = RuleSet::from_toml("", Some("fullstory")).unwrap_err();
        assert!(matches!(e, RulesError::UnknownProfile(p) if p == "fullstory"));
    }
}

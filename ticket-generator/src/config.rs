//! The cold path's configuration: `[cold_path]`, `[linear]`, `[jira]` and
//! `[ai]`. A tracker is on when its key is set; secrets never print.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

/// A secret from the configuration: it prints, logs and serializes as `***`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// What to do with a ticketed issue that regressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnRegression {
    /// Reopen its ticket (to the tracker's first not-started state) with a comment.
    Reopen,
    /// File a new ticket that links the old one.
    FollowUp,
}

/// `[cold_path]`: the workers, the ticket policy and its limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColdPathConfig {
    /// Whether the hot path queues work and `serve` runs workers.
    pub enabled: bool,
    /// Which issues deserve a ticket (TOML; see `docs/cold-path.md`); unset, the built-in policy.
    pub policy_file: Option<PathBuf>,
    /// Tickets the automation may approve per project and hour (people's approvals are not counted).
    pub tickets_per_hour: u32,
    /// Hold every ready ticket until `ufse tickets approve`.
    pub approval: bool,
    /// What a regression of a ticketed issue does.
    pub on_regression: OnRegression,
    /// At most one update comment per ticket in this interval.
    pub comment_interval_ms: u64,
    /// Jobs one process runs at once; 0, none (`ufse serve` beside dedicated
    /// `ufse work` processes: its hot path still queues).
    pub concurrency: u32,
    /// How long a claim lasts without a heartbeat (renewed every third of it).
    pub lease_ms: u64,
    /// Claims before a failing job goes to the dead-letter state.
    pub max_attempts: u32,
    /// The first retry's backoff ceiling; it doubles per attempt (full jitter).
    pub backoff_base_ms: u64,
    /// The backoff's cap.
    pub backoff_max_ms: u64,
    /// How often an idle worker looks for due jobs.
    pub poll_interval_ms: u64,
    /// How often the trackers' states are pulled (covers missed webhooks; 0: never).
    pub pull_interval_ms: u64,
    /// Where `ufse work` serves webhooks, `/metrics` and `/healthz` (`HOST:PORT`; unset, nowhere).
    pub listen: Option<String>,
}

impl Default for ColdPathConfig {
    fn default() -> Self {
        ColdPathConfig {
            enabled: true,
            policy_file: None,
            tickets_per_hour: 20,
            approval: false,
            on_regression: OnRegression::Reopen,
            comment_interval_ms: 24 * 3_600_000,
            concurrency: 16,
            lease_ms: 60_000,
            max_attempts: 8,
            backoff_base_ms: 1000,
            backoff_max_ms: 15 * 60_000,
            poll_interval_ms: 250,
            pull_interval_ms: 5 * 60_000,
            listen: None,
        }
    }
}

impl ColdPathConfig {
    /// The lease of a claim.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms.max(1000))
    }
}

/// `[linear]`: Linear's GraphQL API; on when `api_key` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinearConfig {
    /// A personal API key (`lin_api_...`) or an OAuth token (`Bearer ...`).
    pub api_key: Option<Secret>,
    /// The team tickets are filed in (its UUID).
    pub team_id: Option<String>,
    /// The GraphQL endpoint.
    pub url: String,
    /// Label ids added to every ticket.
    pub label_ids: Vec<String>,
    /// The webhook's signing secret (`Linear-Signature`); unset, webhooks are refused.
    pub webhook_secret: Option<Secret>,
    /// How long one request may take.
    pub timeout_ms: u64,
}

impl Default for LinearConfig {
    fn default() -> Self {
        LinearConfig {
            api_key: None,
            team_id: None,
            url: "https://api.linear.app/graphql".into(),
            label_ids: Vec::new(),
            webhook_secret: None,
            timeout_ms: 15_000,
        }
    }
}

impl LinearConfig {
    /// Whether tickets go to Linear.
    pub fn enabled(&self) -> bool {
        self.api_key.is_some()
    }
}

/// `[jira]`: Jira Cloud's REST API v3; on when `api_token` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JiraConfig {
    /// The site, `https://your-domain.atlassian.net`.
    pub url: Option<String>,
    /// The Atlassian account the token belongs to.
    pub email: Option<String>,
    /// An API token of that account.
    pub api_token: Option<Secret>,
    /// The project tickets are filed in (its key, such as `SHOP`).
    pub project_key: Option<String>,
    /// The issue type of new tickets.
    pub issue_type: String,
    /// Labels added to every ticket (besides `ufse` and `ufse-<fingerprint>`).
    pub labels: Vec<String>,
    /// The webhook's secret (`X-Hub-Signature`); unset, webhooks are refused.
    pub webhook_secret: Option<Secret>,
    /// How old a webhook's `timestamp` may be: Jira retries late deliveries for about 30 minutes.
    pub webhook_max_age_ms: u64,
    /// How long one request may take.
    pub timeout_ms: u64,
}

impl Default for JiraConfig {
    fn default() -> Self {
        JiraConfig {
            url: None,
            email: None,
            api_token: None,
            project_key: None,
            issue_type: "Bug".into(),
            labels: Vec::new(),
            webhook_secret: None,
            webhook_max_age_ms: 3_600_000,
            timeout_ms: 15_000,
        }
    }
}

impl JiraConfig {
    /// Whether tickets go to Jira.
    pub fn enabled(&self) -> bool {
        self.api_token.is_some()
    }
}

/// Which interpreter explains issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AiProvider {
    /// Deterministic, no network.
    Offline,
    /// OpenAI's Chat Completions, or any endpoint compatible with it.
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
}

impl AiProvider {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            AiProvider::Offline => "offline",
            AiProvider::Openai => "openai",
            AiProvider::Anthropic => "anthropic",
        }
    }
}

/// `[ai]`: the interpreter, its limits and its budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AiConfig {
    /// `offline`, `openai` or `anthropic`.
    pub provider: AiProvider,
    /// The model; unset, the provider's default (`gpt-4o-mini`, `claude-haiku-4-5`).
    pub model: Option<String>,
    /// The API key (also read from `OPENAI_API_KEY` or `ANTHROPIC_API_KEY`).
    pub api_key: Option<Secret>,
    /// The base URL, for proxies and compatible endpoints; unset, the
    /// provider's (`https://api.openai.com/v1`, `https://api.anthropic.com`).
    pub url: Option<String>,
    /// How long one call may take.
    pub timeout_ms: u64,
    /// The longest answer, in tokens.
    pub max_output_tokens: u32,
    /// Calls per project and UTC day; past it, the offline interpreter answers.
    pub calls_per_day: u64,
    /// Tokens per project and UTC day; past it, the offline interpreter answers.
    pub tokens_per_day: u64,
    /// Calls per minute to the provider from one process; past it, the offline interpreter answers.
    pub requests_per_minute: u32,
}

impl Default for AiConfig {
    fn default() -> Self {
        AiConfig {
            provider: AiProvider::Offline,
            model: None,
            api_key: None,
            url: None,
            timeout_ms: 30_000,
            max_output_tokens: 800,
            calls_per_day: 500,
            tokens_per_day: 1_000_000,
            requests_per_minute: 60,
        }
    }
}

impl AiConfig {
    /// The model asked for, or the provider's default.
    pub fn model(&self) -> &str {
        match (&self.model, self.provider) {
            (Some(m), _) => m,
            (None, AiProvider::Openai) => "gpt-4o-mini",
            (None, AiProvider::Anthropic) => "claude-haiku-4-5",
            (None, AiProvider::Offline) => crate::interpret::OFFLINE_MODEL,
        }
    }

    /// The base URL asked for, or the provider's, as its SDK takes it:
    /// OpenAI's ends in `/v1` (`{url}/chat/completions`), Anthropic's does
    /// not (`{url}/v1/messages`).
    pub fn base_url(&self) -> &str {
        match (&self.url, self.provider) {
            (Some(u), _) => u.trim_end_matches('/'),
            (None, AiProvider::Anthropic) => "https://api.anthropic.com",
            (None, _) => "https://api.openai.com/v1",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let c = LinearConfig { api_key: Some(Secret::new("lin_api_hunter2")), ..LinearConfig::default() };
        assert!(!format!("{c:?}").contains("hunter2"));
        let toml = toml::to_string(&c).unwrap();
        assert!(!toml.contains("hunter2") && toml.contains("***"), "{toml}");
        assert_eq!(c.api_key.unwrap().expose(), "lin_api_hunter2");
    }

    #[test]
    fn defaults_are_zero_config_and_providers_are_off() {
        let cold = ColdPathConfig::default();
        assert!(cold.enabled && cold.policy_file.is_none() && !cold.approval);
        assert!(!LinearConfig::default().enabled() && !JiraConfig::default().enabled());
        let ai = AiConfig::default();
        assert_eq!((ai.provider, ai.model()), (AiProvider::Offline, crate::interpret::OFFLINE_MODEL));
        let openai = AiConfig { provider: AiProvider::Openai, url: Some("http://proxy/".into()), ..ai };
        assert_eq!((openai.model(), openai.base_url()), ("gpt-4o-mini", "http://proxy"));
    }
}

//! Configuration: a TOML file with one section per part, every key also
//! settable as `UFSE_<SECTION>_<KEY>`; errors name the file or variable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use ufse_clickhouse::ClickHouseConfig;
use ufse_engine::RuleSet;
use ufse_event_log::EmbeddedLogConfig;
use ufse_ingest::IngestConfig;
use ufse_kafka::KafkaConfig;
use ufse_processor::ProcessorConfig;
use ufse_sessionizer::SessionizerConfig;
use ufse_ticket_generator::config::{AiConfig, AiProvider, ColdPathConfig, JiraConfig, LinearConfig, Secret};

/// `[data]`: where embedded storage lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Data directory (the `--data-dir` flag wins).
    pub dir: PathBuf,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig { dir: PathBuf::from("./ufse-data") }
    }
}

/// `[postgres]`: the store on PostgreSQL instead of the embedded SQLite
/// files (projects, keys, sessions, incidents, issues, the raw-event index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostgresConfig {
    /// `postgres://user[:password]@host[:port]/database`; unset, the store is embedded.
    pub url: Option<String>,
    /// Schema holding UFSE's tables (created if missing).
    pub schema: String,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig { url: None, schema: "ufse".into() }
    }
}

/// `[engine]`: which rules run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Profile (`ufse` by default).
    pub profile: Option<String>,
    /// A rules file overriding the profile's parameters.
    pub rules_file: Option<PathBuf>,
}

impl EngineConfig {
    /// Loads the rule set.
    ///
    /// # Errors
    ///
    /// When the rules file cannot be read or is invalid (naming the file).
    pub fn rules(&self) -> Result<Arc<RuleSet>> {
        let rules = match &self.rules_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read rules file {}", path.display()))?;
                RuleSet::from_toml(&text, self.profile.as_deref())
                    .with_context(|| format!("in {}", path.display()))?
            }
            None => RuleSet::profile(self.profile.as_deref().unwrap_or("ufse"))?,
        };
        Ok(Arc::new(rules))
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// `[data]`
    pub data: DataConfig,
    /// `[ingest]`
    pub ingest: IngestConfig,
    /// `[log]`
    pub log: EmbeddedLogConfig,
    /// `[sessionizer]`
    pub sessionizer: SessionizerConfig,
    /// `[processor]`
    pub processor: ProcessorConfig,
    /// `[engine]`
    pub engine: EngineConfig,
    /// `[postgres]`
    pub postgres: PostgresConfig,
    /// `[kafka]`
    pub kafka: KafkaConfig,
    /// `[clickhouse]`
    pub clickhouse: ClickHouseConfig,
    /// `[cold_path]`
    pub cold_path: ColdPathConfig,
    /// `[linear]`
    pub linear: LinearConfig,
    /// `[jira]`
    pub jira: JiraConfig,
    /// `[ai]`
    pub ai: AiConfig,
}

pub(crate) const SECTIONS: &[&str] = &[
    "data",
    "ingest",
    "log",
    "sessionizer",
    "processor",
    "engine",
    "postgres",
    "kafka",
    "clickhouse",
    "cold_path",
    "linear",
    "jira",
    "ai",
];

/// The section and key of `UFSE_<SECTION>_<KEY>` (after `UFSE_`, lower
/// case): the longest known section that prefixes it, so
/// `cold_path_policy_file` is `[cold_path] policy_file`.
pub(crate) fn section_key(rest: &str) -> Option<(&'static str, &str)> {
    SECTIONS
        .iter()
        .filter_map(|s| rest.strip_prefix(s).and_then(|k| k.strip_prefix('_')).map(|k| (*s, k)))
        .max_by_key(|(s, _)| s.len())
}

impl Config {
    /// Reads `file` (if any), then applies `UFSE_<SECTION>_<KEY>` from `env`.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or parsed, or a value is invalid; the
    /// message names the file or the variable.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config> {
        let mut tables: BTreeMap<String, toml::Table> = BTreeMap::new();
        let origin = file.map(|p| p.display().to_string()).unwrap_or_else(|| "defaults".into());
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read config file {origin}"))?;
            let top: toml::Table =
                text.parse().with_context(|| format!("invalid TOML in config file {origin}"))?;
            for (section, value) in top {
                let toml::Value::Table(t) = value else {
                    bail!("config file {origin}: `{section}` must be a section ([{section}])");
                };
                if !SECTIONS.contains(&section.as_str()) {
                    bail!(
                        "config file {origin}: unknown section [{section}] (known: {})",
                        SECTIONS.join(", ")
                    );
                }
                tables.insert(section, t);
            }
        }
        let mut overrides: BTreeMap<String, Vec<(String, String, toml::Value)>> = BTreeMap::new();
        // The providers' own variables, where UFSE's are not set.
        let mut vendor_keys: BTreeMap<&str, String> = BTreeMap::new();
        for (var, raw) in env {
            if let v @ ("OPENAI_API_KEY" | "ANTHROPIC_API_KEY") = var.as_str() {
                vendor_keys.insert(if v == "OPENAI_API_KEY" { "openai" } else { "anthropic" }, raw);
                continue;
            }
            let Some(rest) = var.strip_prefix("UFSE_") else { continue };
            let rest = rest.to_ascii_lowercase();
            let Some((section, key)) = section_key(&rest) else { continue };
            // Secrets are strings as given, even when they look like TOML.
            let value = if is_secret(key) { toml::Value::String(raw) } else { env_value(&raw) };
            overrides.entry(section.to_owned()).or_default().push((var.clone(), key.to_owned(), value));
        }
        let mut cfg = Config::default();
        macro_rules! load {
            ($field:ident) => {{
                let name = stringify!($field);
                let mut table = tables.remove(name).unwrap_or_default();
                cfg.$field = decode(&table).with_context(|| format!("config file {origin}: in [{name}]"))?;
                for (var, key, value) in overrides.remove(name).unwrap_or_default() {
                    table.insert(key, value);
                    cfg.$field = decode(&table).with_context(|| format!("environment variable {var}"))?;
                }
            }};
        }
        load!(data);
        load!(ingest);
        load!(log);
        load!(sessionizer);
        load!(processor);
        load!(engine);
        load!(postgres);
        load!(kafka);
        load!(clickhouse);
        load!(cold_path);
        load!(linear);
        load!(jira);
        load!(ai);
        if cfg.ai.api_key.is_none() {
            let vendor = match cfg.ai.provider {
                AiProvider::Openai => vendor_keys.remove("openai"),
                AiProvider::Anthropic => vendor_keys.remove("anthropic"),
                AiProvider::Offline => None,
            };
            cfg.ai.api_key = vendor.map(Secret::new);
        }
        Ok(cfg)
    }
}

/// Whether a key holds a secret (taken as the raw string, never parsed).
fn is_secret(key: &str) -> bool {
    matches!(key, "api_key" | "api_token" | "webhook_secret" | "password")
}

/// An environment value: a TOML literal when it parses as one (numbers,
/// booleans, arrays, quoted strings), else the raw text as a string.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn decode<T: DeserializeOwned>(table: &toml::Table) -> Result<T> {
    Ok(toml::Value::Table(table.clone()).try_into()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn env_overrides_the_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ufse.toml");
        std::fs::write(&path, "[ingest]\nmax_events = 10\nlisten = \"127.0.0.1:9\"\n").unwrap();
        let cfg = Config::load(
            Some(&path),
            env(&[("UFSE_INGEST_LISTEN", "127.0.0.1:0"), ("UFSE_LOG_PARTITIONS", "2"), ("PATH", "/bin")]),
        )
        .unwrap();
        assert_eq!(cfg.ingest.max_events, 10);
        assert_eq!(cfg.ingest.listen, "127.0.0.1:0");
        assert_eq!(cfg.log.partitions, 2);
        assert_eq!(cfg.sessionizer, SessionizerConfig::default());
    }

    #[test]
    fn sections_with_underscores_and_secrets_from_the_environment() {
        let cfg = Config::load(
            None,
            env(&[
                ("UFSE_COLD_PATH_POLICY_FILE", "/etc/ufse/policy.toml"),
                ("UFSE_COLD_PATH_APPROVAL", "true"),
                ("UFSE_LINEAR_API_KEY", "lin_api_123"),
                ("UFSE_LINEAR_TEAM_ID", "t-1"),
                ("UFSE_JIRA_API_TOKEN", "1234"),
                ("UFSE_AI_PROVIDER", "openai"),
                ("OPENAI_API_KEY", "sk-from-openai"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.cold_path.policy_file.as_deref(), Some(Path::new("/etc/ufse/policy.toml")));
        assert!(cfg.cold_path.approval);
        assert_eq!(cfg.linear.api_key.as_ref().map(Secret::expose), Some("lin_api_123"));
        assert_eq!(
            cfg.jira.api_token.as_ref().map(Secret::expose),
            Some("1234"),
            "a numeric token stays a string"
        );
        assert_eq!(cfg.ai.api_key.as_ref().map(Secret::expose), Some("sk-from-openai"));
        assert!(!format!("{cfg:?}").contains("lin_api_123"), "secrets never print");
        let e = format!("{:#}", Config::load(None, env(&[("UFSE_AI_PROVIDER", "gpt")])).unwrap_err());
        assert!(e.contains("UFSE_AI_PROVIDER"), "{e}");
    }

    #[test]
    fn errors_name_the_file_or_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ufse.toml");
        std::fs::write(&path, "[ingest]\nmax_events = \"many\"\n").unwrap();
        let e = format!("{:#}", Config::load(Some(&path), env(&[])).unwrap_err());
        assert!(e.contains("ufse.toml") && e.contains("[ingest]"), "{e}");
        let e = format!("{:#}", Config::load(None, env(&[("UFSE_LOG_PARTITIONS", "lots")])).unwrap_err());
        assert!(e.contains("UFSE_LOG_PARTITIONS"), "{e}");
        let e = format!("{:#}", Config::load(None, env(&[("UFSE_INGEST_MAX_EVENTZ", "1")])).unwrap_err());
        assert!(e.contains("UFSE_INGEST_MAX_EVENTZ") && e.contains("max_eventz"), "{e}");
        std::fs::write(&path, "[nope]\nx = 1\n").unwrap();
        let e = format!("{:#}", Config::load(Some(&path), env(&[])).unwrap_err());
        assert!(e.contains("unknown section [nope]"), "{e}");
    }
}

//! Interpreters: an issue's evidence in, an [`Interpretation`] out. The
//! offline one is deterministic and needs no network; the OpenAI and
//! Anthropic adapters ask a model for the same structure. The
//! [`Explainer`] decides which answers: it reuses a cached explanation of
//! the same evidence, model and prompt; it spends the project's daily
//! budget and the provider's rate limit; it validates what the model said,
//! asks once more when that is invalid, and otherwise lets the offline
//! interpreter answer, recording why.

mod anthropic;
mod offline;
mod openai;

use std::sync::Mutex;
use std::time::Instant;

use metrics::counter;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ufse_incident_store::{AiBudget, ColdPathStore, Explanation, StoreError};

pub use anthropic::Anthropic;
pub use offline::Offline;
pub use openai::OpenAi;

use crate::config::{AiConfig, AiProvider};
use crate::{BoxFuture, Evidence};

/// The prompt every model gets, and its version (the file's name): a new
/// prompt is a new file, so cached explanations of the old one are not reused.
pub const PROMPT: &str = include_str!("../../prompts/interpret-v1.md");
/// See [`PROMPT`].
pub const PROMPT_VERSION: &str = "interpret-v1";
/// The offline interpreter's version, as its "model".
pub const OFFLINE_MODEL: &str = "offline-1";

/// The labels an interpretation may carry.
pub const LABELS: [&str; 8] = [
    "bug",
    "ux",
    "performance",
    "network",
    "javascript-error",
    "accessibility",
    "regression",
    "needs-investigation",
];

const TITLE_MAX: usize = 120;
const SUMMARY_MAX: usize = 1200;
const CAUSE_MAX: usize = 800;
const FIX_MAX: usize = 800;
const LABELS_MAX: usize = 4;

/// What an interpreter says of an issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interpretation {
    /// One line naming the page and the element or the error.
    pub title: String,
    /// What users experience, where, since when.
    pub summary: String,
    /// The most likely technical cause.
    pub probable_cause: String,
    /// What to check or change first.
    pub suggested_fix: String,
    /// How sure, from 0 to 1.
    pub confidence: f64,
    /// Some of [`LABELS`].
    pub labels: Vec<String>,
}

impl Interpretation {
    /// The JSON schema of an interpretation, in the strict subset OpenAI's
    /// structured outputs accept (every field required, no other fields;
    /// string lengths are not in that subset and are checked by [`Self::check`]).
    pub fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "title": {"type": "string", "description": format!("At most {TITLE_MAX} characters.")},
                "summary": {"type": "string", "description": format!("At most {SUMMARY_MAX} characters.")},
                "probable_cause": {"type": "string", "description": format!("At most {CAUSE_MAX} characters.")},
                "suggested_fix": {"type": "string", "description": format!("At most {FIX_MAX} characters.")},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "labels": {"type": "array", "items": {"type": "string", "enum": LABELS}, "maxItems": LABELS_MAX},
            },
            "required": ["title", "summary", "probable_cause", "suggested_fix", "confidence", "labels"],
            "additionalProperties": false,
        })
    }

    /// Parses a model's answer and checks it against the schema and its bounds.
    ///
    /// # Errors
    ///
    /// What is wrong with it, in one line.
    pub fn from_value(v: Value) -> Result<Interpretation, String> {
        let i: Interpretation = serde_json::from_value(v).map_err(|e| format!("not the schema: {e}"))?;
        i.check()?;
        Ok(i)
    }

    /// Checks the bounds the schema cannot say.
    ///
    /// # Errors
    ///
    /// The first bound it breaks.
    pub fn check(&self) -> Result<(), String> {
        for (name, text, max) in [
            ("title", &self.title, TITLE_MAX),
            ("summary", &self.summary, SUMMARY_MAX),
            ("probable_cause", &self.probable_cause, CAUSE_MAX),
            ("suggested_fix", &self.suggested_fix, FIX_MAX),
        ] {
            let n = text.chars().count();
            if text.trim().is_empty() {
                return Err(format!("{name} is empty"));
            }
            if n > max {
                return Err(format!("{name} has {n} characters, over {max}"));
            }
        }
        if self.title.contains('\n') {
            return Err("title has more than one line".into());
        }
        if !(self.confidence.is_finite() && (0.0..=1.0).contains(&self.confidence)) {
            return Err(format!("confidence {} is not between 0 and 1", self.confidence));
        }
        if self.labels.len() > LABELS_MAX {
            return Err(format!("{} labels, over {LABELS_MAX}", self.labels.len()));
        }
        for (i, l) in self.labels.iter().enumerate() {
            if !LABELS.contains(&l.as_str()) {
                return Err(format!("label `{l}` is not one of {}", LABELS.join(", ")));
            }
            if self.labels[..i].contains(l) {
                return Err(format!("label `{l}` twice"));
            }
        }
        Ok(())
    }
}

/// A model's answer, with what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// What it said, checked.
    pub interpretation: Interpretation,
    /// Tokens sent.
    pub input_tokens: u64,
    /// Tokens received.
    pub output_tokens: u64,
}

/// Why an interpreter gave no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InterpretError {
    /// It answered, but not in the schema (or refused, or was cut off).
    #[error("invalid answer: {reason}")]
    Invalid {
        /// What was wrong.
        reason: String,
        /// Tokens the call still cost.
        tokens: u64,
    },
    /// No answer: the network, a timeout, an HTTP error, a rate limit.
    #[error("{0}")]
    Unavailable(String),
}

/// Something that explains issues.
pub trait Interpreter: Send + Sync + 'static {
    /// `offline`, `openai` or `anthropic`.
    fn name(&self) -> &'static str;
    /// The model that answers.
    fn model(&self) -> &str;
    /// Explains the issue `evidence` describes.
    fn interpret<'a>(&'a self, evidence: &'a Evidence) -> BoxFuture<'a, Result<Answer, InterpretError>>;
}

/// Sends a model's request: its JSON answer, or why there is none (both
/// providers put it in `error.message`).
pub(crate) async fn call_model(req: reqwest::RequestBuilder) -> Result<Value, InterpretError> {
    let reply = crate::http::send(req).await.map_err(InterpretError::Unavailable)?;
    let v = reply.json();
    if reply.status != 200 {
        let message = v["error"]["message"].as_str().map(str::to_owned).unwrap_or_else(|| reply.snippet());
        return Err(InterpretError::Unavailable(format!("HTTP {}: {message}", reply.status)));
    }
    Ok(v)
}

/// The user message every model gets: the evidence, as JSON.
pub(crate) fn user_message(e: &Evidence) -> String {
    serde_json::to_string_pretty(e).expect("evidence serializes")
}

/// Calls per minute to one provider, from this process (a token bucket).
#[derive(Debug)]
struct PerMinute {
    per_minute: f64,
    state: Mutex<(f64, Instant)>,
}

impl PerMinute {
    fn new(per_minute: u32) -> Self {
        let n = f64::from(per_minute);
        PerMinute { per_minute: n, state: Mutex::new((n, Instant::now())) }
    }

    fn take(&self) -> bool {
        let mut s = self.state.lock().expect("not poisoned");
        let now = Instant::now();
        s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.per_minute / 60.0).min(self.per_minute);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Explains issues with the configured interpreter, within its limits,
/// and with the offline one where those say no.
pub struct Explainer {
    ai: Option<Box<dyn Interpreter>>,
    budget: AiBudget,
    per_minute: PerMinute,
}

impl Explainer {
    /// The explainer `[ai]` asks for.
    ///
    /// # Errors
    ///
    /// When a provider is named without a key.
    pub fn from_config(cfg: &AiConfig) -> Result<Explainer, String> {
        let ai: Option<Box<dyn Interpreter>> = match cfg.provider {
            AiProvider::Offline => None,
            p => {
                let Some(key) = cfg.api_key.clone() else {
                    return Err(format!(
                        "[ai] provider is {} but no key is set: set [ai] api_key (UFSE_AI_API_KEY)",
                        p.as_str()
                    ));
                };
                match p {
                    AiProvider::Openai => Some(Box::new(OpenAi::new(cfg, key))),
                    _ => Some(Box::new(Anthropic::new(cfg, key))),
                }
            }
        };
        Ok(Explainer::new(
            ai,
            AiBudget { max_calls: cfg.calls_per_day, max_tokens: cfg.tokens_per_day },
            cfg.requests_per_minute,
        ))
    }

    /// An explainer over `ai` (none: offline only).
    pub fn new(ai: Option<Box<dyn Interpreter>>, budget: AiBudget, requests_per_minute: u32) -> Explainer {
        Explainer { ai, budget, per_minute: PerMinute::new(requests_per_minute) }
    }

    /// Whether a model explains (else the offline interpreter).
    pub fn uses_ai(&self) -> bool {
        self.ai.is_some()
    }

    /// The explanation of `e`: the configured model's, or the offline one;
    /// `cached` (the issue's stored explanation) when it answered the same
    /// evidence with the same model and prompt.
    ///
    /// # Errors
    ///
    /// Only when the store fails (spending the budget).
    pub async fn explain<S: ColdPathStore>(
        &self,
        store: &S,
        e: &Evidence,
        cached: Option<&Explanation>,
        now_ms: i64,
    ) -> Result<Explanation, StoreError> {
        let hash = e.hash();
        let offline = |fallback: Option<String>| Explanation {
            fingerprint: e.fingerprint.clone(),
            interpreter: "offline".into(),
            model: OFFLINE_MODEL.into(),
            prompt: PROMPT_VERSION.into(),
            evidence_hash: hash.clone(),
            result: serde_json::to_string(&Offline.explain(e)).expect("serializes"),
            fallback,
            input_tokens: 0,
            output_tokens: 0,
            created_ms: now_ms,
        };
        let Some(ai) = self.ai.as_deref() else {
            return Ok(offline(None));
        };
        if let Some(c) = cached.filter(|c| {
            c.interpreter == ai.name()
                && c.model == ai.model()
                && c.prompt == PROMPT_VERSION
                && c.evidence_hash == hash
                && c.fallback.is_none()
        }) {
            counter!("ufse_ai_calls_total", "provider" => ai.name(), "outcome" => "cached").increment(1);
            return Ok(c.clone());
        }
        let fallback = |outcome: &'static str, why: String| {
            counter!("ufse_ai_calls_total", "provider" => ai.name(), "outcome" => outcome).increment(1);
            tracing::warn!(provider = ai.name(), issue = %e.fingerprint, reason = %why, "the offline interpreter answers");
            Ok(offline(Some(why)))
        };
        let day = now_ms.div_euclid(86_400_000);
        let (mut input, mut output) = (0, 0);
        let mut last_invalid = String::new();
        for attempt in 1..=2 {
            if !self.per_minute.take() {
                return fallback(
                    "rate_limited",
                    format!(
                        "{} rate limit of {} calls a minute reached",
                        ai.name(),
                        self.per_minute.per_minute
                    ),
                );
            }
            if !store.take_ai_call(&e.project, day, self.budget).await? {
                let b = self.budget;
                return fallback(
                    "budget",
                    format!(
                        "project {}'s daily AI budget ({} calls, {} tokens) is spent",
                        e.project, b.max_calls, b.max_tokens
                    ),
                );
            }
            let answer = ai.interpret(e).await;
            let spent = match &answer {
                Ok(a) => a.input_tokens + a.output_tokens,
                Err(InterpretError::Invalid { tokens, .. }) => *tokens,
                Err(InterpretError::Unavailable(_)) => 0,
            };
            store.add_ai_tokens(&e.project, day, spent).await?;
            counter!("ufse_ai_tokens_total", "provider" => ai.name()).increment(spent);
            match answer {
                Ok(a) => {
                    counter!("ufse_ai_calls_total", "provider" => ai.name(), "outcome" => "ok").increment(1);
                    input += a.input_tokens;
                    output += a.output_tokens;
                    return Ok(Explanation {
                        fingerprint: e.fingerprint.clone(),
                        interpreter: ai.name().into(),
                        model: ai.model().into(),
                        prompt: PROMPT_VERSION.into(),
                        evidence_hash: hash,
                        result: serde_json::to_string(&a.interpretation).expect("serializes"),
                        fallback: None,
                        input_tokens: input,
                        output_tokens: output,
                        created_ms: now_ms,
                    });
                }
                Err(InterpretError::Invalid { reason, tokens }) => {
                    counter!("ufse_ai_calls_total", "provider" => ai.name(), "outcome" => "invalid")
                        .increment(1);
                    input += tokens;
                    tracing::warn!(provider = ai.name(), attempt, %reason, "invalid answer");
                    last_invalid = reason;
                }
                Err(InterpretError::Unavailable(why)) => {
                    return fallback(
                        "error",
                        format!("{} failed: {}", ai.name(), crate::redact::redact(&why)),
                    );
                }
            }
        }
        let mut e =
            fallback("invalid", format!("{} answered outside the schema twice: {last_invalid}", ai.name()))?;
        e.input_tokens = input;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Value {
        json!({"title": "Checkout throws", "summary": "s", "probable_cause": "c", "suggested_fix": "f",
               "confidence": 0.7, "labels": ["bug", "javascript-error"]})
    }

    #[test]
    fn answers_are_held_to_the_schema_and_its_bounds() {
        assert!(Interpretation::from_value(good()).is_ok());
        let with = |k: &str, v: Value| {
            let mut g = good();
            g[k] = v;
            Interpretation::from_value(g).unwrap_err()
        };
        assert!(with("title", json!("x".repeat(121))).contains("over 120"));
        assert!(with("title", json!("two\nlines")).contains("one line"));
        assert!(with("summary", json!("  ")).contains("empty"));
        assert!(with("confidence", json!(1.5)).contains("between 0 and 1"));
        assert!(with("labels", json!(["bug", "urgent"])).contains("`urgent`"));
        assert!(with("labels", json!(["bug", "bug"])).contains("twice"));
        assert!(
            with("labels", json!(["bug", "ux", "network", "performance", "regression"])).contains("over 4")
        );
        assert!(with("confidence", json!("high")).contains("not the schema"));
        let mut extra = good();
        extra["severity"] = json!("high");
        assert!(Interpretation::from_value(extra).unwrap_err().contains("severity"));
    }

    #[test]
    fn the_schema_is_strict() {
        let s = Interpretation::schema();
        assert_eq!(s["additionalProperties"], false);
        let props: Vec<&String> = s["properties"].as_object().unwrap().keys().collect();
        let required: Vec<&str> =
            s["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(props.len(), required.len(), "strict mode wants every field required");
        assert!(!s.to_string().contains("maxLength"), "not in OpenAI's strict subset");
    }
}

//! OpenAI's Chat Completions (`POST {url}/chat/completions`), with a strict
//! JSON-schema response format: the API and the shape most compatible
//! endpoints and proxies also serve. The answer is `choices[0].message`:
//! its `content` is the JSON text, its `refusal` set when the model
//! declined; `finish_reason: "length"` means it was cut off.

use serde_json::{json, Value};

use super::{call_model, user_message, Answer, InterpretError, Interpretation, Interpreter, PROMPT};
use crate::config::{AiConfig, Secret};
use crate::http::client;
use crate::{BoxFuture, Evidence};

/// The structured output's name (`[a-zA-Z0-9_-]`, at most 64).
const SCHEMA_NAME: &str = "issue_explanation";

/// An OpenAI (or compatible) model.
pub struct OpenAi {
    http: reqwest::Client,
    endpoint: String,
    key: Secret,
    model: String,
    max_tokens: u32,
}

impl OpenAi {
    /// The adapter `[ai]` describes, authenticating with `key`.
    pub fn new(cfg: &AiConfig, key: Secret) -> OpenAi {
        OpenAi {
            http: client(cfg.timeout_ms),
            endpoint: format!("{}/chat/completions", cfg.base_url()),
            key,
            model: cfg.model().to_owned(),
            max_tokens: cfg.max_output_tokens,
        }
    }

    /// The request body for `e`.
    pub(crate) fn body(&self, e: &Evidence) -> Value {
        json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": PROMPT},
                {"role": "user", "content": user_message(e)},
            ],
            "max_completion_tokens": self.max_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "strict": true, "schema": Interpretation::schema()},
            },
        })
    }

    async fn call(&self, e: &Evidence) -> Result<Answer, InterpretError> {
        let req = self
            .http
            .post(&self.endpoint)
            .bearer_auth(self.key.expose())
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&self.body(e)).expect("serializes"));
        parse(&call_model(req).await?)
    }
}

/// The answer in a Chat Completions reply.
pub(crate) fn parse(v: &Value) -> Result<Answer, InterpretError> {
    let input_tokens = v["usage"]["prompt_tokens"].as_u64().unwrap_or(0);
    let output_tokens = v["usage"]["completion_tokens"].as_u64().unwrap_or(0);
    let invalid = |reason: String| InterpretError::Invalid { reason, tokens: input_tokens + output_tokens };
    let choice = &v["choices"][0];
    let message = &choice["message"];
    if let Some(refusal) = message["refusal"].as_str() {
        return Err(invalid(format!("refused: {refusal}")));
    }
    match choice["finish_reason"].as_str() {
        Some("stop") => {}
        Some("length") => return Err(invalid("cut off at the token limit".into())),
        other => return Err(invalid(format!("finish_reason {}", other.unwrap_or("missing")))),
    }
    let Some(content) = message["content"].as_str() else {
        return Err(invalid("no content".into()));
    };
    let value: Value =
        serde_json::from_str(content).map_err(|e| invalid(format!("content is not JSON: {e}")))?;
    let interpretation = Interpretation::from_value(value).map_err(invalid)?;
    Ok(Answer { interpretation, input_tokens, output_tokens })
}

impl Interpreter for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn interpret<'a>(&'a self, e: &'a Evidence) -> BoxFuture<'a, Result<Answer, InterpretError>> {
        Box::pin(self.call(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(content: &str, finish: &str) -> Value {
        json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0,
               "message": {"role": "assistant", "content": content, "refusal": null},
               "finish_reason": finish}], "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}})
    }

    #[test]
    fn answers_refusals_and_cut_offs() {
        let good = r#"{"title":"t","summary":"s","probable_cause":"c","suggested_fix":"f","confidence":0.5,"labels":["ux"]}"#;
        let a = parse(&reply(good, "stop")).unwrap();
        assert_eq!((a.interpretation.title.as_str(), a.input_tokens, a.output_tokens), ("t", 100, 20));
        let cut = parse(&reply(&good[..40], "length")).unwrap_err();
        assert_eq!(cut, InterpretError::Invalid { reason: "cut off at the token limit".into(), tokens: 120 });
        let mut refused = reply("", "stop");
        refused["choices"][0]["message"]["refusal"] = json!("I can't help with that");
        assert!(
            matches!(parse(&refused), Err(InterpretError::Invalid { reason, .. }) if reason.contains("can't help"))
        );
        assert!(matches!(parse(&reply("{\"title\":1}", "stop")), Err(InterpretError::Invalid { .. })));
        assert!(matches!(parse(&json!({})), Err(InterpretError::Invalid { .. })));
    }
}

//! Anthropic's Messages API (`POST {url}/v1/messages`, `anthropic-version:
//! 2023-06-01`): one tool whose `input_schema` is the output schema, and
//! `tool_choice` forcing it, so the answer is that tool's `input` object.
//! `stop_reason: "max_tokens"` means it was cut off.

use serde_json::{json, Value};

use super::{call_model, user_message, Answer, InterpretError, Interpretation, Interpreter, PROMPT};
use crate::config::{AiConfig, Secret};
use crate::http::client;
use crate::{BoxFuture, Evidence};

/// The API version the request and reply shapes here follow.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The one tool the model is made to call.
const TOOL: &str = "record_explanation";

/// An Anthropic model.
pub struct Anthropic {
    http: reqwest::Client,
    endpoint: String,
    key: Secret,
    model: String,
    max_tokens: u32,
}

impl Anthropic {
    /// The adapter `[ai]` describes, authenticating with `key`.
    pub fn new(cfg: &AiConfig, key: Secret) -> Anthropic {
        Anthropic {
            http: client(cfg.timeout_ms),
            endpoint: format!("{}/v1/messages", cfg.base_url()),
            key,
            model: cfg.model().to_owned(),
            max_tokens: cfg.max_output_tokens,
        }
    }

    /// The request body for `e`.
    pub(crate) fn body(&self, e: &Evidence) -> Value {
        json!({
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": PROMPT,
            "messages": [{"role": "user", "content": user_message(e)}],
            "tools": [{
                "name": TOOL,
                "description": "Record the explanation of the issue for the engineer who will fix it.",
                "input_schema": Interpretation::schema(),
            }],
            "tool_choice": {"type": "tool", "name": TOOL},
        })
    }

    async fn call(&self, e: &Evidence) -> Result<Answer, InterpretError> {
        let req = self
            .http
            .post(&self.endpoint)
            .header("x-api-key", self.key.expose())
            .header("anthropic-version", ANTHROPIC_VERSION)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&self.body(e)).expect("serializes"));
        parse(&call_model(req).await?)
    }
}

/// The answer in a Messages reply.
pub(crate) fn parse(v: &Value) -> Result<Answer, InterpretError> {
    let input_tokens = v["usage"]["input_tokens"].as_u64().unwrap_or(0);
    let output_tokens = v["usage"]["output_tokens"].as_u64().unwrap_or(0);
    let invalid = |reason: String| InterpretError::Invalid { reason, tokens: input_tokens + output_tokens };
    match v["stop_reason"].as_str() {
        Some("tool_use") | Some("end_turn") => {}
        Some("max_tokens") => return Err(invalid("cut off at the token limit".into())),
        other => return Err(invalid(format!("stop_reason {}", other.unwrap_or("missing")))),
    }
    let blocks = v["content"].as_array().map(Vec::as_slice).unwrap_or_default();
    let Some(tool) = blocks.iter().find(|b| b["type"] == "tool_use" && b["name"] == TOOL) else {
        return Err(invalid(format!("no {TOOL} tool call")));
    };
    let interpretation = Interpretation::from_value(tool["input"].clone()).map_err(invalid)?;
    Ok(Answer { interpretation, input_tokens, output_tokens })
}

impl Interpreter for Anthropic {
    fn name(&self) -> &'static str {
        "anthropic"
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

    fn reply(input: Value, stop: &str) -> Value {
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
               "content": [{"type": "tool_use", "id": "toolu_1", "name": TOOL, "input": input}],
               "stop_reason": stop, "stop_sequence": null, "usage": {"input_tokens": 300, "output_tokens": 40}})
    }

    #[test]
    fn the_forced_tool_call_is_the_answer() {
        let good = json!({"title": "t", "summary": "s", "probable_cause": "c", "suggested_fix": "f",
                          "confidence": 0.9, "labels": []});
        let a = parse(&reply(good.clone(), "tool_use")).unwrap();
        assert_eq!((a.interpretation.confidence, a.input_tokens, a.output_tokens), (0.9, 300, 40));
        assert!(matches!(
            parse(&reply(good, "max_tokens")),
            Err(InterpretError::Invalid { tokens: 340, .. })
        ));
        assert!(matches!(
            parse(&reply(json!({"title": "t"}), "tool_use")),
            Err(InterpretError::Invalid { .. })
        ));
        let text_only = json!({"content": [{"type": "text", "text": "Sure!"}], "stop_reason": "end_turn"});
        assert!(
            matches!(parse(&text_only), Err(InterpretError::Invalid { reason, .. }) if reason.contains("no record_explanation"))
        );
    }
}

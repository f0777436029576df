//! A fake of Anthropic's Messages API (`POST /v1/messages`).
//!
//! It checks `x-api-key`, `anthropic-version: 2023-06-01`, `max_tokens`,
//! the messages, and that `tool_choice` forces one of the request's tools
//! (whose `input_schema` is an object schema); refusals are Anthropic's
//! `{"type": "error", "error": {"type": "invalid_request_error", ...}}`.
//! Answers are a `tool_use` block of the forced tool, or the scripted
//! failures of [`ModelAnswer`](crate::ModelAnswer) (a 429 carries
//! `retry-after`; an overload is 529).

use serde_json::{json, Value};

use crate::model::{interpretation, Inner};
use crate::server::{Reply, Req};
use crate::ModelAnswer;

fn error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}),
    )
}

/// `POST /v1/messages`.
pub(crate) fn messages(inner: &Inner, req: &Req) -> Reply {
    if req.header("x-api-key") != Some(inner.key()) {
        return error(401, "authentication_error", "invalid x-api-key");
    }
    if req.header("anthropic-version") != Some("2023-06-01") {
        inner.refuse("missing or unknown anthropic-version".into());
        return error(400, "invalid_request_error", "anthropic-version: header is required");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return error(400, "invalid_request_error", "The request body is not valid JSON.");
    };
    let tools = body["tools"].as_array().cloned().unwrap_or_default();
    let forced = body["tool_choice"]["name"].as_str().unwrap_or("");
    let checks = [
        (body["model"].as_str().is_some_and(|m| !m.is_empty()), "model: Field required"),
        (body["max_tokens"].as_u64().is_some_and(|n| n > 0), "max_tokens: Field required"),
        (
            body["messages"].as_array().is_some_and(|m| !m.is_empty() && m[0]["role"] == "user"),
            "messages: the first message must use the user role",
        ),
        (body["tool_choice"]["type"] == "tool", "the fake expects tool_choice {type: tool}"),
        (
            tools.iter().any(|t| t["name"] == forced && t["input_schema"]["type"] == "object"),
            "tool_choice names no tool with an object input_schema",
        ),
    ];
    if let Some((_, why)) = checks.iter().find(|(ok, _)| !ok) {
        inner.refuse((*why).to_owned());
        return error(400, "invalid_request_error", why);
    }
    let text = body.to_string();
    let input_tokens = (text.len() / 4) as u64;
    let (input, stop) = match inner.next(&body) {
        ModelAnswer::Valid => (interpretation(&text), "tool_use"),
        ModelAnswer::NotJson => return tool_less(&body, "Sure! The button is broken.", input_tokens),
        ModelAnswer::WrongShape => (json!({"title": "only a title"}), "tool_use"),
        ModelAnswer::Refusal => return tool_less(&body, "I can't help with that.", input_tokens),
        ModelAnswer::Truncated => (json!({"title": "AI: cut"}), "max_tokens"),
        ModelAnswer::RateLimited => {
            return error(429, "rate_limit_error", "Number of requests has exceeded your rate limit.")
                .header("retry-after", "1")
                .header("anthropic-ratelimit-requests-remaining", "0")
        }
        ModelAnswer::ServerError => return error(529, "overloaded_error", "Overloaded"),
    };
    Reply::json(
        200,
        &json!({
            "id": "msg_fake", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "tool_use", "id": "toolu_fake", "name": forced, "input": input}],
            "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "output_tokens": (input.to_string().len() / 4) as u64},
        }),
    )
}

/// A reply with text and no tool call.
fn tool_less(body: &Value, text: &str, input_tokens: u64) -> Reply {
    Reply::json(
        200,
        &json!({"id": "msg_fake", "type": "message", "role": "assistant", "model": body["model"],
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": null,
                "usage": {"input_tokens": input_tokens, "output_tokens": 10}}),
    )
}

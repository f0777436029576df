//! A fake of OpenAI's Chat Completions (`POST /v1/chat/completions`).
//!
//! It checks the bearer key, the messages, and the strict JSON-schema
//! response format as OpenAI's structured outputs require it (a name of
//! `[a-zA-Z0-9_-]{1,64}`; every object with `additionalProperties: false`
//! and every property required; no `minLength`/`maxLength`), answering
//! 400 `invalid_request_error` as OpenAI does otherwise; its answers carry
//! `choices[0].message.content` (a JSON string), `refusal`,
//! `finish_reason` and `usage`.

use serde_json::{json, Value};

use crate::model::{interpretation, strict_schema, Inner};
use crate::server::{Reply, Req};
use crate::ModelAnswer;

/// `POST /v1/chat/completions`.
pub(crate) fn chat(inner: &Inner, req: &Req) -> Reply {
    let err = |status: u16, kind: &str, code: Option<&str>, message: &str| {
        Reply::json(
            status,
            &json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
        )
    };
    if req.header("authorization") != Some(format!("Bearer {}", inner.key()).as_str()) {
        return err(401, "invalid_request_error", Some("invalid_api_key"), "Incorrect API key provided.");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return err(400, "invalid_request_error", None, "We could not parse the JSON body of your request.");
    };
    let format = &body["response_format"];
    let name = format["json_schema"]["name"].as_str().unwrap_or("");
    let checks = [
        (
            body["model"].as_str().is_some_and(|m| !m.is_empty()),
            "you must provide a model parameter".to_owned(),
        ),
        (
            body["messages"].as_array().is_some_and(|m| {
                !m.is_empty() && m.iter().all(|x| x["role"].is_string() && x["content"].is_string())
            }),
            "'messages' must be a non-empty array of {role, content}".into(),
        ),
        (format["type"] == "json_schema", "response_format.type must be json_schema".into()),
        (
            !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "Invalid 'response_format.json_schema.name'".into(),
        ),
        (format["json_schema"]["strict"] == true, "the fake expects strict structured outputs".into()),
    ];
    if let Some((_, why)) = checks.iter().find(|(ok, _)| !ok) {
        inner.refuse(why.clone());
        return err(400, "invalid_request_error", None, why);
    }
    if let Err(e) = strict_schema(&format["json_schema"]["schema"], "response_format") {
        inner.refuse(e.clone());
        return err(400, "invalid_request_error", None, &e);
    }
    let text = body.to_string();
    let prompt_tokens = (text.len() / 4) as u64;
    let content = match inner.next(&body) {
        ModelAnswer::Valid => (interpretation(&text).to_string(), "stop", None),
        ModelAnswer::NotJson => ("Sure! The issue is that the button is broken.".into(), "stop", None),
        ModelAnswer::WrongShape => (json!({"title": "only a title"}).to_string(), "stop", None),
        ModelAnswer::Refusal => (String::new(), "stop", Some("I'm sorry, I can't help with that.")),
        ModelAnswer::Truncated => (interpretation(&text).to_string()[..30].to_owned(), "length", None),
        ModelAnswer::RateLimited => {
            return err(429, "requests", Some("rate_limit_exceeded"), "Rate limit reached for requests.")
                .header("retry-after", "1")
                .header("x-ratelimit-remaining-requests", "0")
                .header("x-ratelimit-reset-requests", "1s")
        }
        ModelAnswer::ServerError => {
            return err(500, "server_error", None, "The server had an error while processing your request.")
        }
    };
    let (content, finish, refusal) = content;
    let completion_tokens = (content.len() / 4) as u64;
    Reply::json(
        200,
        &json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_765_000_000, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant",
                "content": if refusal.is_some() { Value::Null } else { json!(content) }, "refusal": refusal},
                "logprobs": null, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }),
    )
}

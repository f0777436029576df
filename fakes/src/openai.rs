//! A fake of OpenAI's Chat Completions (`POST /v1/chat/completions`).
//!
//! It checks the bearer key, the messages, and the strict JSON-schema
//! response format as OpenAI's structured outputs require it (a name of
//! `[a-zA-Z0-9_-]{1,64}`; every object with `additionalProperties: false`
//! and every property required; no `minLength`/`maxLength`), answering
//! 400 `invalid_request_error` otherwise. It records every request body,
//! and answers as scripted ([`ModelAnswer`]): an interpretation built from
//! the request, or the failures models and their API produce.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::server::{start, BoxFuture, Faults, Reply, Req, Running, Service};

/// What the fake model says next.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelAnswer {
    /// A valid interpretation (its title begins with `AI:`).
    Valid,
    /// Text that is not JSON.
    NotJson,
    /// JSON missing required fields.
    WrongShape,
    /// A refusal.
    Refusal,
    /// Cut off at the token limit.
    Truncated,
    /// 429, with the provider's retry headers.
    RateLimited,
    /// 500.
    ServerError,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) requests: Vec<Value>,
    pub(crate) invalid: Vec<String>,
    pub(crate) script: VecDeque<ModelAnswer>,
}

pub(crate) struct Inner {
    key: String,
    pub(crate) state: Mutex<State>,
    pub(crate) anthropic: bool,
}

/// The fake OpenAI.
pub struct OpenAi {
    inner: Arc<Inner>,
    faults: Arc<Faults>,
    running: Running,
}

/// The interpretation a fake model gives, from what it was asked.
pub(crate) fn interpretation(request: &str) -> Value {
    let kind = ["error_click", "failed_request", "dead_click", "rage_click", "slow_click", "unresponsive"]
        .into_iter()
        .find(|k| request.contains(k))
        .unwrap_or("issue");
    json!({
        "title": format!("AI: users hit a {kind} here"),
        "summary": "AI summary: users are blocked by this element.",
        "probable_cause": "AI cause: the handler fails before it updates the page.",
        "suggested_fix": "AI fix: handle the failure and show it.",
        "confidence": 0.72,
        "labels": ["bug"],
    })
}

/// Whether `schema` is in the strict subset (every object closed and fully required, no string lengths).
pub(crate) fn strict_schema(schema: &Value, at: &str) -> Result<(), String> {
    match schema {
        Value::Object(o) => {
            for forbidden in ["minLength", "maxLength"] {
                if o.contains_key(forbidden) {
                    return Err(format!("Invalid schema: In context={at}, '{forbidden}' is not permitted."));
                }
            }
            if o.get("type") == Some(&json!("object")) {
                if o.get("additionalProperties") != Some(&json!(false)) {
                    return Err(format!(
                        "Invalid schema: In context={at}, 'additionalProperties' is required to be supplied and to be false."
                    ));
                }
                let props = o.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                let required: Vec<&str> = o
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if let Some(missing) = props.keys().find(|k| !required.contains(&k.as_str())) {
                    return Err(format!(
                        "Invalid schema: In context={at}, 'required' is required to be supplied and to be an array including every key in properties. Missing '{missing}'."
                    ));
                }
                for (k, v) in &props {
                    strict_schema(v, &format!("{at}.{k}"))?;
                }
            }
            if let Some(items) = o.get("items") {
                strict_schema(items, &format!("{at}[]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

impl Inner {
    pub(crate) fn new(key: &str, anthropic: bool) -> Inner {
        Inner { key: key.into(), state: Mutex::new(State::default()), anthropic }
    }

    pub(crate) fn next(&self, body: &Value) -> ModelAnswer {
        let mut st = self.state.lock().unwrap();
        st.requests.push(body.clone());
        st.script.pop_front().unwrap_or(ModelAnswer::Valid)
    }

    pub(crate) fn refuse(&self, why: String) {
        self.state.lock().unwrap().invalid.push(why);
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    fn chat(&self, req: &Req) -> Reply {
        let err = |status: u16, kind: &str, code: Option<&str>, message: &str| {
            Reply::json(
                status,
                &json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
            )
        };
        if req.header("authorization") != Some(format!("Bearer {}", self.key).as_str()) {
            return err(401, "invalid_request_error", Some("invalid_api_key"), "Incorrect API key provided.");
        }
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return err(
                400,
                "invalid_request_error",
                None,
                "We could not parse the JSON body of your request.",
            );
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
            self.refuse(why.clone());
            return err(400, "invalid_request_error", None, why);
        }
        if let Err(e) = strict_schema(&format["json_schema"]["schema"], "response_format") {
            self.refuse(e.clone());
            return err(400, "invalid_request_error", None, &e);
        }
        let text = body.to_string();
        let prompt_tokens = (text.len() / 4) as u64;
        let content = match self.next(&body) {
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
                return err(
                    500,
                    "server_error",
                    None,
                    "The server had an error while processing your request.",
                )
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
}

impl Service for Inner {
    fn handle(self: Arc<Self>, req: Req) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            match (self.anthropic, req.path.as_str()) {
                (false, "/v1/chat/completions") if req.method == http::Method::POST => self.chat(&req),
                (true, "/v1/messages") if req.method == http::Method::POST => {
                    crate::anthropic::messages(&self, &req)
                }
                (_, path) => Reply::json(
                    404,
                    &json!({"error": {"message": format!("Unknown path {path}"), "type": "invalid_request_error"}}),
                ),
            }
        })
    }
}

/// What the model fakes share: the server, the script, the record.
pub(crate) struct ModelFake {
    pub(crate) inner: Arc<Inner>,
    pub(crate) faults: Arc<Faults>,
    pub(crate) running: Running,
}

impl ModelFake {
    pub(crate) fn start(key: &str, anthropic: bool, listen: &str) -> Result<ModelFake, String> {
        let inner = Arc::new(Inner::new(key, anthropic));
        let faults = Arc::new(Faults::default());
        let running = start(Arc::clone(&inner) as Arc<dyn Service>, Arc::clone(&faults), listen)
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        Ok(ModelFake { inner, faults, running })
    }
}

macro_rules! model_fake_api {
    ($t:ty) => {
        impl $t {
            /// The requests received, as sent.
            pub fn requests(&self) -> Vec<serde_json::Value> {
                self.inner.state.lock().unwrap().requests.clone()
            }

            /// Requests refused for their shape, and why.
            pub fn invalid(&self) -> Vec<String> {
                self.inner.state.lock().unwrap().invalid.clone()
            }

            /// Answers the next requests so, in order (then valid answers).
            pub fn script(&self, answers: &[crate::ModelAnswer]) {
                self.inner.state.lock().unwrap().script.extend(answers.iter().cloned());
            }

            /// Serves `fault` to the next `times` requests.
            pub fn fail_next(&self, fault: crate::Fault, times: usize) {
                self.faults.push(fault, times);
            }
        }
    };
}
pub(crate) use model_fake_api;

impl OpenAi {
    /// Starts a fake accepting `key`, on `listen`.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub fn start(key: &str, listen: &str) -> Result<OpenAi, String> {
        let ModelFake { inner, faults, running } = ModelFake::start(key, false, listen)?;
        Ok(OpenAi { inner, faults, running })
    }

    /// The base URL, as `[ai] url` takes it (with `/v1`).
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.running.addr)
    }
}

model_fake_api!(OpenAi);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_schemas_are_closed_and_fully_required() {
        let ok = json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false});
        assert!(strict_schema(&ok, "s").is_ok());
        let open = json!({"type": "object", "properties": {}, "required": []});
        assert!(strict_schema(&open, "s").unwrap_err().contains("additionalProperties"));
        let optional =
            json!({"type": "object", "properties": {"a": {}}, "required": [], "additionalProperties": false});
        assert!(strict_schema(&optional, "s").unwrap_err().contains("Missing 'a'"));
        let lengths = json!({"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}},
                             "required": ["a"], "additionalProperties": false});
        assert!(strict_schema(&lengths, "s").unwrap_err().contains("maxLength"));
    }
}

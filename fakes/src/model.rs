//! The fake models: OpenAI's Chat Completions (`openai`) and Anthropic's
//! Messages API (`anthropic`) behind one [`Model`], which records every
//! request body and answers as scripted ([`ModelAnswer`]): an
//! interpretation built from the request, or the failures models and their
//! APIs produce.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::server::{BoxFuture, Fake, Fault, Reply, Req, Service};

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
}

impl Service for Inner {
    fn handle(self: Arc<Self>, req: Req) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            match (self.anthropic, req.path.as_str()) {
                (false, "/v1/chat/completions") if req.method == http::Method::POST => {
                    crate::openai::chat(&self, &req)
                }
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

/// A fake model: OpenAI's or Anthropic's API.
pub struct Model(Fake<Inner>);

impl Model {
    /// A fake of OpenAI's Chat Completions accepting `key`, on `listen`.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub fn openai(key: &str, listen: &str) -> Result<Model, String> {
        Ok(Model(Fake::start(Inner::new(key, false), listen)?))
    }

    /// A fake of Anthropic's Messages API accepting `key`, on `listen`.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub fn anthropic(key: &str, listen: &str) -> Result<Model, String> {
        Ok(Model(Fake::start(Inner::new(key, true), listen)?))
    }

    /// The base URL, as `[ai] url` takes it: with `/v1` for OpenAI, without for Anthropic.
    pub fn url(&self) -> String {
        match self.0.inner.anthropic {
            true => format!("http://{}", self.0.addr()),
            false => format!("http://{}/v1", self.0.addr()),
        }
    }

    /// The requests received, as sent.
    pub fn requests(&self) -> Vec<Value> {
        self.0.inner.state.lock().unwrap().requests.clone()
    }

    /// Requests refused for their shape, and why.
    pub fn invalid(&self) -> Vec<String> {
        self.0.inner.state.lock().unwrap().invalid.clone()
    }

    /// Answers the next requests so, in order (then valid answers).
    pub fn script(&self, answers: &[ModelAnswer]) {
        self.0.inner.state.lock().unwrap().script.extend(answers.iter().cloned());
    }

    /// Serves `fault` to the next `times` requests.
    pub fn fail_next(&self, fault: Fault, times: usize) {
        self.0.fail_next(fault, times);
    }
}

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

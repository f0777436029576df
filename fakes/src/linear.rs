//! A fake of Linear's GraphQL API (`POST /graphql`), for one team.
//!
//! Every document is validated against Linear's public schema and its
//! variables coerced (see `graphql`); an invalid one is answered as a
//! GraphQL server would, and counted in [`Linear::invalid`], which tests
//! assert is empty. It serves what UFSE sends: `issueCreate` (a
//! client-chosen `id` in UUID v4 form; the same id twice is refused with
//! "conflict on insert of Issue", as Linear does), `issue(id:)` by id or
//! identifier, `commentCreate` (with the same rule for ids), `issueUpdate`
//! of the state, `team { states }`, and `issues(filter:)` by team,
//! `updatedAt` and ids. Errors carry `extensions.code` (`INPUT_ERROR`,
//! `AUTHENTICATION_ERROR`, `RATELIMITED`) as Linear's do; rate limits come
//! as HTTP 400 with `X-RateLimit-Requests-*` headers (epoch ms resets).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;

use crate::graphql::{project, schema, validate, FieldSel};
use crate::server::{is_uuid_v4, now_ms, BoxFuture, Fake, Fault, Reply, Req, Service};

/// Where Linear's public schema is: `UFSE_LINEAR_SCHEMA`, else
/// `../shared/fixtures/linear-schema.graphql` beside the workspace; `None`
/// where neither exists (a clone without the project's shared fixtures).
pub fn linear_schema_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("UFSE_LINEAR_SCHEMA") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/linear-schema.graphql");
    p.exists().then_some(p)
}

/// An issue the fake holds.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearIssue {
    /// The client-chosen id.
    pub id: String,
    /// `UFS-1`, ...
    pub identifier: String,
    /// Its title.
    pub title: String,
    /// Its Markdown description.
    pub description: String,
    /// 0 to 4.
    pub priority: i64,
    /// Its labels.
    pub label_ids: Vec<String>,
    /// Its workflow state's type.
    pub state: String,
    /// Its comments' bodies, oldest first.
    pub comments: Vec<String>,
    /// When it last changed, ms.
    pub updated_ms: i64,
}

#[derive(Default)]
struct State {
    issues: Vec<LinearIssue>,
    comment_ids: Vec<String>,
    invalid: Vec<String>,
    last_sync: u64,
}

struct Inner {
    key: String,
    team_id: String,
    team_key: String,
    schema: PathBuf,
    state: Mutex<State>,
    hold: watch::Sender<bool>,
}

/// The fake Linear.
pub struct Linear(Fake<Inner>);

/// The team's workflow states: `(id, name, type, position)`.
const STATES: [(&str, &str, &str, f64); 5] = [
    ("f0000000-0000-4000-8000-000000000001", "Backlog", "backlog", 0.0),
    ("f0000000-0000-4000-8000-000000000002", "Todo", "unstarted", 1.0),
    ("f0000000-0000-4000-8000-000000000003", "In Progress", "started", 2.0),
    ("f0000000-0000-4000-8000-000000000004", "Done", "completed", 3.0),
    ("f0000000-0000-4000-8000-000000000005", "Canceled", "canceled", 4.0),
];

impl Linear {
    /// Starts a fake of team `team_id` accepting `key`, on `listen`,
    /// validating against the schema at `schema_path`.
    ///
    /// # Errors
    ///
    /// When the schema cannot be loaded or the address bound.
    pub fn start(key: &str, team_id: &str, schema_path: PathBuf, listen: &str) -> Result<Linear, String> {
        schema(&schema_path)?;
        let inner = Inner {
            key: key.into(),
            team_id: team_id.into(),
            team_key: "UFS".into(),
            schema: schema_path,
            state: Mutex::new(State::default()),
            hold: watch::channel(false).0,
        };
        Ok(Linear(Fake::start(inner, listen)?))
    }

    /// The endpoint, as `[linear] url` takes it.
    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.0.addr())
    }

    /// The issues filed, oldest first.
    pub fn issues(&self) -> Vec<LinearIssue> {
        self.0.inner.state.lock().unwrap().issues.clone()
    }

    /// Every document or variables the schema refused, and why.
    pub fn invalid(&self) -> Vec<String> {
        self.0.inner.state.lock().unwrap().invalid.clone()
    }

    /// Serves `fault` to the next `times` requests.
    pub fn fail_next(&self, fault: Fault, times: usize) {
        self.0.fail_next(fault, times);
    }

    /// A rate limit as Linear sends it: HTTP 400, `RATELIMITED`, the reset in epoch ms.
    pub fn rate_limited(reset_in: Duration) -> Fault {
        let reset = now_ms() + reset_in.as_millis() as i64;
        let body = json!({"errors": [{"message": "Rate limit exceeded. Only 2500 requests are allowed per 1 hour.",
                                      "extensions": {"code": "RATELIMITED", "statusCode": 429}}]});
        Fault::Reply(
            Reply::json(400, &body)
                .header("x-ratelimit-requests-limit", "2500")
                .header("x-ratelimit-requests-remaining", "0")
                .header("x-ratelimit-requests-reset", reset.to_string()),
        )
    }

    /// A server error.
    pub fn server_error() -> Fault {
        Fault::Reply(Reply::json(
            500,
            &json!({"errors": [{"message": "Internal server error",
                                                        "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}),
        ))
    }

    /// While `hold` is on, `issueCreate` stores the issue, then does not
    /// answer until it is turned off (a client killed meanwhile never learns it).
    pub fn hold_creates(&self, hold: bool) {
        self.0.inner.hold.send_replace(hold);
    }

    /// Moves an issue to the state of `state_type` (`completed`, `canceled`, `unstarted`...), as a person would.
    pub fn set_state(&self, identifier: &str, state_type: &str) {
        let mut st = self.0.inner.state.lock().unwrap();
        if let Some(i) = st.issues.iter_mut().find(|i| i.identifier == identifier) {
            i.state = state_type.into();
            i.updated_ms = now_ms();
        }
    }

    /// The body Linear's webhook sends for an update of `issue`, at `at_ms`.
    pub fn webhook_body(&self, issue: &LinearIssue, at_ms: i64) -> Vec<u8> {
        let (state_id, name, t, _) = STATES.iter().find(|s| s.2 == issue.state).copied().unwrap_or(STATES[1]);
        serde_json::to_vec(&json!({
            "action": "update",
            "type": "Issue",
            "createdAt": "2026-12-07T12:00:00.000Z",
            "organizationId": "c0ffee00-0000-4000-8000-000000000000",
            "url": format!("https://linear.app/fake/issue/{}", issue.identifier),
            "webhookId": "d0000000-0000-4000-8000-000000000000",
            "webhookTimestamp": at_ms,
            "data": {"id": issue.id, "identifier": issue.identifier, "title": issue.title,
                     "stateId": state_id, "state": {"id": state_id, "name": name, "type": t, "color": "#000"}},
            "updatedFrom": {"stateId": STATES[1].0},
        }))
        .expect("serializes")
    }
}

fn gql_error(status: u16, code: &str, message: &str, presentable: &str) -> Reply {
    Reply::json(
        status,
        &json!({"errors": [{"message": message, "extensions": {"code": code, "type": "invalid input",
                 "statusCode": status, "userError": true, "userPresentableMessage": presentable}}], "data": null}),
    )
}

fn issue_json(i: &LinearIssue) -> Value {
    let (state_id, name, t, _) = STATES.iter().find(|s| s.2 == i.state).copied().unwrap_or(STATES[1]);
    json!({
        "id": i.id, "identifier": i.identifier, "title": i.title, "description": i.description,
        "priority": i.priority as f64, "url": format!("https://linear.app/fake/issue/{}", i.identifier),
        "state": {"id": state_id, "name": name, "type": t},
    })
}

impl Inner {
    fn answer(&self, field: &FieldSel) -> Result<Value, Reply> {
        let mut st = self.state.lock().unwrap();
        st.last_sync += 1;
        let sync = st.last_sync as f64;
        let a = &field.args;
        match field.name.as_str() {
            "issueCreate" => {
                let input = &a["input"];
                if input["teamId"] != self.team_id.as_str() {
                    return Err(gql_error(
                        400,
                        "INPUT_ERROR",
                        "Entity not found: Team",
                        "Could not find referenced Team.",
                    ));
                }
                let id = input["id"].as_str().unwrap_or_default().to_owned();
                if !is_uuid_v4(&id) {
                    return Err(gql_error(
                        400,
                        "INPUT_ERROR",
                        "Argument Validation Error",
                        "id must be a UUID v4.",
                    ));
                }
                if st.issues.iter().any(|i| i.id == id) {
                    let msg = format!("Entity Issue with id {id} already exists.");
                    return Err(gql_error(400, "INPUT_ERROR", "conflict on insert of Issue", &msg));
                }
                let title = input["title"].as_str().unwrap_or_default();
                if title.trim().is_empty() {
                    return Err(gql_error(
                        400,
                        "INPUT_ERROR",
                        "Argument Validation Error",
                        "title should not be empty.",
                    ));
                }
                let priority = input["priority"].as_i64().unwrap_or(0);
                if !(0..=4).contains(&priority) {
                    return Err(gql_error(
                        400,
                        "INPUT_ERROR",
                        "Argument Validation Error",
                        "priority must be 0 to 4.",
                    ));
                }
                let issue = LinearIssue {
                    identifier: format!("{}-{}", self.team_key, st.issues.len() + 1),
                    id,
                    title: title.into(),
                    description: input["description"].as_str().unwrap_or_default().into(),
                    priority,
                    label_ids: serde_json::from_value(input["labelIds"].clone()).unwrap_or_default(),
                    state: "unstarted".into(),
                    comments: Vec::new(),
                    updated_ms: now_ms(),
                };
                let out = json!({"success": true, "lastSyncId": sync, "issue": issue_json(&issue)});
                st.issues.push(issue);
                Ok(out)
            }
            "issue" => {
                let id = a["id"].as_str().unwrap_or_default();
                let i = st.issues.iter().find(|i| i.id == id || i.identifier == id).ok_or_else(|| {
                    gql_error(
                        400,
                        "INPUT_ERROR",
                        "Entity not found: Issue",
                        "Could not find referenced Issue.",
                    )
                })?;
                Ok(issue_json(i))
            }
            "commentCreate" => {
                let input = &a["input"];
                let id = input["id"].as_str().unwrap_or_default().to_owned();
                if !id.is_empty() && !is_uuid_v4(&id) {
                    return Err(gql_error(
                        400,
                        "INPUT_ERROR",
                        "Argument Validation Error",
                        "id must be a UUID v4.",
                    ));
                }
                if !id.is_empty() && st.comment_ids.contains(&id) {
                    let msg = format!("Entity Comment with id {id} already exists.");
                    return Err(gql_error(400, "INPUT_ERROR", "conflict on insert of Comment", &msg));
                }
                let body = input["body"].as_str().unwrap_or_default().to_owned();
                if body.trim().is_empty() {
                    return Err(gql_error(
                        400,
                        "INPUT_ERROR",
                        "Argument Validation Error",
                        "body should not be empty.",
                    ));
                }
                let target = input["issueId"].as_str().unwrap_or_default().to_owned();
                let Some(i) = st.issues.iter_mut().find(|i| i.id == target || i.identifier == target) else {
                    return Err(gql_error(
                        400,
                        "INPUT_ERROR",
                        "Entity not found: Issue",
                        "Could not find referenced Issue.",
                    ));
                };
                i.comments.push(body.clone());
                st.comment_ids.push(id.clone());
                Ok(json!({"success": true, "lastSyncId": sync, "comment": {"id": id, "body": body}}))
            }
            "issueUpdate" => {
                let id = a["id"].as_str().unwrap_or_default();
                let state =
                    a["input"]["stateId"].as_str().map(|s| STATES.iter().find(|x| x.0 == s).map(|x| x.2));
                let Some(i) = st.issues.iter_mut().find(|i| i.id == id || i.identifier == id) else {
                    return Err(gql_error(
                        400,
                        "INPUT_ERROR",
                        "Entity not found: Issue",
                        "Could not find referenced Issue.",
                    ));
                };
                match state {
                    Some(Some(t)) => i.state = t.into(),
                    Some(None) => {
                        return Err(gql_error(
                            400,
                            "INPUT_ERROR",
                            "Entity not found: WorkflowState",
                            "Could not find referenced WorkflowState.",
                        ))
                    }
                    None => {}
                }
                i.updated_ms = now_ms();
                Ok(json!({"success": true, "lastSyncId": sync, "issue": issue_json(i)}))
            }
            "team" => {
                if a["id"] != self.team_id.as_str() {
                    return Err(gql_error(
                        400,
                        "INPUT_ERROR",
                        "Entity not found: Team",
                        "Could not find referenced Team.",
                    ));
                }
                let nodes: Vec<Value> = STATES
                    .iter()
                    .map(|(id, name, t, pos)| json!({"id": id, "name": name, "type": t, "position": pos}))
                    .collect();
                Ok(json!({"id": self.team_id, "key": self.team_key, "states": {"nodes": nodes,
                          "pageInfo": {"hasNextPage": false, "hasPreviousPage": false}}}))
            }
            "issues" => {
                let f = &a["filter"];
                if let Some(team) = f["team"]["id"]["eq"].as_str() {
                    if team != self.team_id {
                        return Ok(
                            json!({"nodes": [], "pageInfo": {"hasNextPage": false, "hasPreviousPage": false}}),
                        );
                    }
                }
                let since = f["updatedAt"]["gt"].as_str().and_then(parse_iso_ms);
                let ids: Option<Vec<&str>> =
                    f["id"]["in"].as_array().map(|ids| ids.iter().filter_map(Value::as_str).collect());
                let matching: Vec<&LinearIssue> = st
                    .issues
                    .iter()
                    .filter(|i| since.is_none_or(|s| i.updated_ms > s))
                    .filter(|i| ids.as_ref().is_none_or(|ids| ids.contains(&i.id.as_str())))
                    .collect();
                let first = a["first"].as_u64().unwrap_or(50) as usize;
                let after = a["after"].as_str().and_then(|c| c.parse::<usize>().ok()).unwrap_or(0);
                let page: Vec<Value> =
                    matching.iter().skip(after).take(first).map(|i| issue_json(i)).collect();
                let end = after + page.len();
                Ok(json!({"nodes": page, "pageInfo": {"hasNextPage": end < matching.len(),
                          "hasPreviousPage": after > 0, "endCursor": end.to_string()}}))
            }
            other => Err(gql_error(
                400,
                "INPUT_ERROR",
                &format!("the fake Linear does not serve `{other}`"),
                "Not supported by the fake.",
            )),
        }
    }
}

/// `2026-12-07T20:15:00.000Z` as ms since the epoch.
fn parse_iso_ms(s: &str) -> Option<i64> {
    let (date, time) = s.trim_end_matches('Z').split_once('T')?;
    let d: Vec<i64> = date.split('-').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let (&[y, m, day], &[h, mi, sec]) = (d.as_slice(), t.as_slice()) else { return None };
    let ms: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * m + 2) / 5 + day - 1;
    Some(((era * 146_097 + doe - 719_468) * 86_400 + h * 3600 + mi * 60 + sec) * 1000 + ms)
}

impl Service for Inner {
    fn handle(self: Arc<Self>, req: Req) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            if req.path != "/graphql" || req.method != http::Method::POST {
                return Reply::json(404, &json!({"errors": [{"message": "not found"}]}));
            }
            if req.header("authorization") != Some(self.key.as_str()) {
                return Reply::json(
                    400,
                    &json!({"errors": [{"message": "Authentication required, not authenticated",
                        "extensions": {"code": "AUTHENTICATION_ERROR", "type": "authentication error", "statusCode": 401,
                                       "userPresentableMessage": "You need to authenticate to access this operation."}}]}),
                );
            }
            let body: Value = match serde_json::from_slice(&req.body) {
                Ok(b) => b,
                Err(e) => {
                    return Reply::json(
                        400,
                        &json!({"errors": [{"message": format!("Body is not JSON: {e}")}]}),
                    )
                }
            };
            let schema = schema(&self.schema).expect("loaded at start");
            let query = body["query"].as_str().unwrap_or_default();
            let op = match validate(&schema, query, body["operationName"].as_str(), &body["variables"]) {
                Ok(op) => op,
                Err(e) => {
                    self.state.lock().unwrap().invalid.push(format!("{e} in: {query}"));
                    return Reply::json(
                        400,
                        &json!({"errors": [{"message": e, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}),
                    );
                }
            };
            let mut data = serde_json::Map::new();
            for field in &op.fields {
                match self.answer(field) {
                    Ok(v) => {
                        data.insert(
                            field.alias.clone().unwrap_or_else(|| field.name.clone()),
                            project(&v, &field.selection),
                        );
                    }
                    Err(reply) => return reply,
                }
            }
            // A held create: stored, but answered only once released.
            if op.fields.iter().any(|f| f.name == "issueCreate") {
                let mut hold = self.hold.subscribe();
                while *hold.borrow_and_update() {
                    if hold.changed().await.is_err() {
                        break;
                    }
                }
            }
            Reply::json(200, &json!({"data": data}))
                .header("x-ratelimit-requests-limit", "2500")
                .header("x-ratelimit-requests-remaining", "2400")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_parse() {
        assert_eq!(parse_iso_ms("2024-11-27T23:26:40.123Z"), Some(1_732_750_000_123));
        assert_eq!(parse_iso_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_iso_ms("soon"), None);
    }
}

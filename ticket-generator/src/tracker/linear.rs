//! Linear, through its GraphQL API (`POST https://api.linear.app/graphql`).
//!
//! - `issueCreate` with a client-chosen `id` derived from the project, the
//!   fingerprint and the round: a retry sends the same id, and Linear
//!   refuses it ("conflict on insert of Issue ... already exists"), which
//!   means the first try got through: the issue is then read back by id.
//! - `commentCreate` with an id derived from the ticket and the comment's
//!   seed, the same way.
//! - Errors come as GraphQL `errors` with `extensions.code` (`RATELIMITED`,
//!   `INPUT_ERROR`, `AUTHENTICATION_ERROR`), on HTTP 200, 400 or 429 alike:
//!   the body decides. A rate limit is retried after `Retry-After`, else
//!   after `X-RateLimit-Requests-Reset` (epoch ms).

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};
use ufse_incident_store::{RemoteState, Ticket};

use super::{iso8601, uuid_v4_from, Changed, Comment, Created, Tracker, TrackerError};
use crate::config::{LinearConfig, Secret};
use crate::http::{client, retry_after, send, Reply};
use crate::{system_ms, BoxFuture, Draft};

const CREATE: &str = "mutation UfseIssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url state { type } } }
}";
const ISSUE: &str = "query UfseIssue($id: String!) {
  issue(id: $id) { id identifier url state { type } }
}";
const COMMENT: &str = "mutation UfseCommentCreate($input: CommentCreateInput!) {
  commentCreate(input: $input) { success comment { id } }
}";
const TEAM_STATES: &str = "query UfseTeamStates($id: String!) {
  team(id: $id) { states { nodes { id type position } } }
}";
const REOPEN: &str = "mutation UfseIssueReopen($id: String!, $input: IssueUpdateInput!) {
  issueUpdate(id: $id, input: $input) { success issue { id state { type } } }
}";
const CHANGED: &str = "query UfseChanged($team: ID!, $since: DateTimeOrDuration!, $after: String) {
  issues(first: 100, after: $after, includeArchived: true,
         filter: { team: { id: { eq: $team } }, updatedAt: { gt: $since } }) {
    nodes { id identifier state { type } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// Pages of changed issues read per pull (100 each).
const MAX_PAGES: usize = 20;

/// The id UFSE gives the Linear issue of `fingerprint`'s ticket `round` in `project`.
pub fn linear_issue_id(project: &str, fingerprint: &str, round: u32) -> String {
    uuid_v4_from(&["ufse linear issue", project, fingerprint, &round.to_string()])
}

/// A workflow state's type as an issue's lifecycle sees it.
pub(crate) fn remote_state(state_type: &str) -> RemoteState {
    match state_type {
        "completed" => RemoteState::Done,
        "canceled" | "duplicate" => RemoteState::Canceled,
        _ => RemoteState::Open,
    }
}

/// A Linear team.
pub struct Linear {
    http: reqwest::Client,
    url: String,
    key: Secret,
    team_id: String,
    label_ids: Vec<String>,
    /// The team's first not-started state, once read.
    reopen_state: Mutex<Option<String>>,
}

/// How a GraphQL call ended.
enum Outcome {
    /// `data`.
    Data(Value),
    /// The create or comment was there already (a retry after a lost answer).
    Conflict,
    /// Failed.
    Failed(TrackerError),
}

impl Linear {
    /// The team `[linear]` names.
    ///
    /// # Errors
    ///
    /// When the key or the team is missing.
    pub fn from_config(cfg: &LinearConfig) -> Result<Linear, String> {
        let key = cfg.api_key.clone().ok_or("[linear] api_key is not set")?;
        let team_id = cfg
            .team_id
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or("[linear] team_id is not set: the team tickets are filed in (UFSE_LINEAR_TEAM_ID)")?;
        Ok(Linear {
            http: client(cfg.timeout_ms),
            url: cfg.url.clone(),
            key,
            team_id,
            label_ids: cfg.label_ids.clone(),
            reopen_state: Mutex::new(None),
        })
    }

    async fn call(&self, query: &str, variables: Value) -> Outcome {
        let body = json!({"query": query, "variables": variables});
        // A personal key goes as it is; an OAuth token as `Bearer ...`.
        let req = self
            .http
            .post(&self.url)
            .header("authorization", self.key.expose())
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).expect("serializes"));
        match send(req).await {
            Ok(reply) => classify(&reply, system_ms()),
            Err(e) => Outcome::Failed(TrackerError::retry(format!("linear: {e}"))),
        }
    }

    async fn data(&self, query: &str, variables: Value) -> Result<Value, TrackerError> {
        match self.call(query, variables).await {
            Outcome::Data(d) => Ok(d),
            Outcome::Conflict => Err(TrackerError::Permanent("linear: unexpected conflict".into())),
            Outcome::Failed(e) => Err(e),
        }
    }

    async fn issue(&self, id: &str) -> Result<Created, TrackerError> {
        let d = self.data(ISSUE, json!({"id": id})).await?;
        created(&d["issue"])
            .ok_or_else(|| TrackerError::retry(format!("linear: issue {id} not readable yet")))
    }

    async fn create_issue(&self, draft: &Draft) -> Result<Created, TrackerError> {
        let id = linear_issue_id(&draft.project, &draft.fingerprint, draft.round);
        let mut input = json!({
            "id": id,
            "teamId": self.team_id,
            "title": draft.explanation.title,
            "description": draft.markdown(),
            "priority": draft.linear_priority(),
        });
        if !self.label_ids.is_empty() {
            input["labelIds"] = json!(self.label_ids);
        }
        match self.call(CREATE, json!({"input": input})).await {
            Outcome::Data(d) => match created(&d["issueCreate"]["issue"]) {
                Some(c) if d["issueCreate"]["success"] == true => Ok(c),
                // Created, but not in the answer: read it back.
                _ => self.issue(&id).await,
            },
            Outcome::Conflict => self.issue(&id).await,
            Outcome::Failed(e) => Err(e),
        }
    }

    async fn comment_on(&self, ticket: &Ticket, seed: &str, body: &Comment) -> Result<(), TrackerError> {
        let input = json!({
            "id": uuid_v4_from(&["ufse linear comment", &ticket.remote_id, seed]),
            "issueId": ticket.remote_id,
            "body": body.markdown(),
        });
        match self.call(COMMENT, json!({"input": input})).await {
            Outcome::Data(_) | Outcome::Conflict => Ok(()),
            Outcome::Failed(e) => Err(e),
        }
    }

    /// The team's first not-started state (unstarted, else backlog, else triage).
    async fn reopen_state(&self) -> Result<String, TrackerError> {
        if let Some(id) = self.reopen_state.lock().expect("not poisoned").clone() {
            return Ok(id);
        }
        let d = self.data(TEAM_STATES, json!({"id": self.team_id})).await?;
        let nodes = d["team"]["states"]["nodes"].as_array().cloned().unwrap_or_default();
        let pick = ["unstarted", "backlog", "triage"].iter().find_map(|t| {
            nodes
                .iter()
                .filter(|n| n["type"] == *t)
                .min_by(|a, b| {
                    a["position"].as_f64().unwrap_or(0.0).total_cmp(&b["position"].as_f64().unwrap_or(0.0))
                })
                .and_then(|n| n["id"].as_str().map(str::to_owned))
        });
        let id = pick.ok_or_else(|| {
            TrackerError::Permanent(format!(
                "linear: team {} has no unstarted, backlog or triage state",
                self.team_id
            ))
        })?;
        *self.reopen_state.lock().expect("not poisoned") = Some(id.clone());
        Ok(id)
    }

    async fn reopen_issue(&self, ticket: &Ticket) -> Result<RemoteState, TrackerError> {
        let state = self.reopen_state().await?;
        let d = self.data(REOPEN, json!({"id": ticket.remote_id, "input": {"stateId": state}})).await?;
        Ok(d["issueUpdate"]["issue"]["state"]["type"].as_str().map_or(RemoteState::Open, remote_state))
    }

    async fn changed(&self, since_ms: i64) -> Result<Vec<Changed>, TrackerError> {
        let mut out = Vec::new();
        let mut after = Value::Null;
        for _ in 0..MAX_PAGES {
            let vars = json!({"team": self.team_id, "since": iso8601(since_ms), "after": after});
            let d = self.data(CHANGED, vars).await?;
            let issues = &d["issues"];
            for n in issues["nodes"].as_array().into_iter().flatten() {
                if let (Some(id), Some(key)) = (n["id"].as_str(), n["identifier"].as_str()) {
                    let state = remote_state(n["state"]["type"].as_str().unwrap_or(""));
                    out.push(Changed { remote_id: id.into(), key: key.into(), state });
                }
            }
            if issues["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = issues["pageInfo"]["endCursor"].clone();
        }
        Ok(out)
    }
}

/// The ticket in an `Issue` object, if it is one.
fn created(issue: &Value) -> Option<Created> {
    Some(Created {
        remote_id: issue["id"].as_str()?.to_owned(),
        key: issue["identifier"].as_str()?.to_owned(),
        url: issue["url"].as_str().unwrap_or_default().to_owned(),
        state: remote_state(issue["state"]["type"].as_str().unwrap_or("")),
    })
}

/// What a reply means, by its body first: Linear sends GraphQL errors on
/// HTTP 200, 400 and 429 alike.
fn classify(reply: &Reply, now_ms: i64) -> Outcome {
    let v = reply.json();
    let errors = v["errors"].as_array().cloned().unwrap_or_default();
    if errors.is_empty() {
        return match reply.status {
            200 if v["data"].is_object() => Outcome::Data(v["data"].clone()),
            429 => Outcome::Failed(rate_limited(reply, now_ms, "HTTP 429".into())),
            401 | 403 => Outcome::Failed(TrackerError::Permanent(format!("linear: HTTP {}", reply.status))),
            s => Outcome::Failed(TrackerError::retry(format!("linear: HTTP {s}: {}", reply.snippet()))),
        };
    }
    let message = |e: &Value| {
        e["extensions"]["userPresentableMessage"]
            .as_str()
            .or(e["message"].as_str())
            .unwrap_or("error")
            .to_owned()
    };
    let code = |e: &Value| {
        e["extensions"]["code"]
            .as_str()
            .or(e["extensions"]["type"].as_str())
            .unwrap_or("")
            .to_ascii_uppercase()
    };
    let all: Vec<String> = errors.iter().map(message).collect();
    let text = format!("linear: {}", crate::redact::redact(&all.join("; ")));
    if reply.status == 429 || errors.iter().any(|e| code(e) == "RATELIMITED") {
        return Outcome::Failed(rate_limited(reply, now_ms, text));
    }
    if errors.iter().any(|e| {
        e["message"].as_str().is_some_and(|m| m.to_ascii_lowercase().starts_with("conflict on insert"))
            || message(e).contains("already exists")
    }) {
        return Outcome::Conflict;
    }
    let permanent = [
        "INPUT_ERROR",
        "INVALID INPUT",
        "AUTHENTICATION_ERROR",
        "AUTHENTICATION ERROR",
        "FORBIDDEN",
        "FEATURE NOT ACCESSIBLE",
        "GRAPHQL_VALIDATION_FAILED",
        "GRAPHQL ERROR",
    ];
    if errors.iter().any(|e| permanent.contains(&code(e).as_str())) || matches!(reply.status, 401 | 403) {
        return Outcome::Failed(TrackerError::Permanent(text));
    }
    Outcome::Failed(TrackerError::retry(text))
}

/// A rate limit: retried after `Retry-After`, else when the request budget resets.
fn rate_limited(reply: &Reply, now_ms: i64, message: String) -> TrackerError {
    let reset = || {
        let v = reply.headers.get("x-ratelimit-requests-reset")?.to_str().ok()?.trim().parse::<f64>().ok()?;
        Some(Duration::from_millis((v as i64 - now_ms).max(0) as u64))
    };
    let after = retry_after(&reply.headers, now_ms).or_else(reset);
    metrics::counter!("ufse_tracker_rate_limited_total", "provider" => "linear").increment(1);
    TrackerError::Retry { message: format!("{message} (rate limited)"), after }
}

impl Tracker for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn create<'a>(&'a self, draft: &'a Draft) -> BoxFuture<'a, Result<Created, TrackerError>> {
        Box::pin(self.create_issue(draft))
    }

    fn comment<'a>(
        &'a self,
        ticket: &'a Ticket,
        seed: &'a str,
        body: &'a Comment,
    ) -> BoxFuture<'a, Result<(), TrackerError>> {
        Box::pin(self.comment_on(ticket, seed, body))
    }

    fn reopen<'a>(&'a self, ticket: &'a Ticket) -> BoxFuture<'a, Result<RemoteState, TrackerError>> {
        Box::pin(self.reopen_issue(ticket))
    }

    fn changed_since<'a>(&'a self, since_ms: i64) -> BoxFuture<'a, Result<Vec<Changed>, TrackerError>> {
        Box::pin(self.changed(since_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use reqwest::header::HeaderMap;

    fn reply(status: u16, body: Value, headers: &[(&'static str, &str)]) -> Reply {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        Reply { status, headers: h, body: Bytes::from(body.to_string()) }
    }

    #[test]
    fn the_body_decides_what_a_reply_means() {
        let data = reply(200, json!({"data": {"issue": {"id": "x"}}}), &[]);
        assert!(matches!(classify(&data, 0), Outcome::Data(d) if d["issue"]["id"] == "x"));
        // Rate limits, as Linear sends them: HTTP 400 with RATELIMITED, the reset in epoch ms.
        let limited = reply(
            400,
            json!({"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED", "statusCode": 429}}]}),
            &[("x-ratelimit-requests-reset", "61000")],
        );
        match classify(&limited, 1000) {
            Outcome::Failed(TrackerError::Retry { after, .. }) => {
                assert_eq!(after, Some(Duration::from_secs(60)))
            }
            _ => panic!("a rate limit is retried"),
        }
        let conflict = reply(
            400,
            json!({"errors": [{"message": "conflict on insert of Issue", "extensions": {"code": "INPUT_ERROR",
                   "userPresentableMessage": "Entity Issue with id 1 already exists."}}], "data": null}),
            &[],
        );
        assert!(matches!(classify(&conflict, 0), Outcome::Conflict));
        let bad_team = reply(
            200,
            json!({"errors": [{"message": "Argument Validation Error", "extensions": {"code": "INPUT_ERROR",
                   "type": "invalid input", "userPresentableMessage": "teamId must be a UUID."}}]}),
            &[],
        );
        assert!(
            matches!(classify(&bad_team, 0), Outcome::Failed(TrackerError::Permanent(m)) if m.contains("teamId"))
        );
        let auth = reply(
            400,
            json!({"errors": [{"message": "Authentication required", "extensions": {"code": "AUTHENTICATION_ERROR"}}]}),
            &[],
        );
        assert!(matches!(classify(&auth, 0), Outcome::Failed(TrackerError::Permanent(_))));
        let down = reply(503, json!("upstream"), &[("retry-after", "2")]);
        assert!(matches!(classify(&down, 0), Outcome::Failed(TrackerError::Retry { .. })));
        let plain_429 = reply(429, json!({}), &[("retry-after", "7")]);
        assert!(
            matches!(classify(&plain_429, 0), Outcome::Failed(TrackerError::Retry { after: Some(d), .. }) if d == Duration::from_secs(7))
        );
    }
}

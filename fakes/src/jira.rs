//! A fake of Jira Cloud's REST API v3, for one project.
//!
//! It checks basic auth (`email:api_token`), the create's required fields
//! (`project.key`, `issuetype`, `summary`), every description and comment
//! as an ADF document (see `adf`), and labels (no spaces, at most 255
//! characters), answering 400 with Jira's `{"errorMessages", "errors"}`
//! and counting what it refused in [`Jira::invalid`]. It serves creates
//! (201 `{id, key, self}`), the current JQL search (`POST
//! /rest/api/3/search/jql`, bounded queries of `labels = "..."`, `key in
//! (...)` and `updated >= "-Nm"`; the removed `/rest/api/3/search` answers
//! 410 as Jira's does), comments, and transitions (204).

use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{json, Value};

use crate::adf::check_adf;
use crate::server::{now_ms, BoxFuture, Fake, Fault, Reply, Req, Service};

/// An issue the fake holds.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraIssue {
    /// Jira's numeric id.
    pub id: String,
    /// `SHOP-1`, ...
    pub key: String,
    /// Its summary.
    pub summary: String,
    /// Its description (ADF).
    pub description: Value,
    /// Its labels.
    pub labels: Vec<String>,
    /// Its status category: `new`, `indeterminate`, `done`.
    pub category: String,
    /// Its resolution's name, when done.
    pub resolution: Option<String>,
    /// Its comments (ADF).
    pub comments: Vec<Value>,
    /// When it last changed, ms.
    pub updated_ms: i64,
}

#[derive(Default)]
struct State {
    issues: Vec<JiraIssue>,
    invalid: Vec<String>,
}

struct Inner {
    auth: String,
    project: String,
    site: Mutex<String>,
    state: Mutex<State>,
}

/// The fake Jira.
pub struct Jira(Fake<Inner>);

/// Transitions every issue has: `(id, status name, category)`.
const TRANSITIONS: [(&str, &str, &str); 3] =
    [("11", "To Do", "new"), ("21", "In Progress", "indeterminate"), ("31", "Done", "done")];

fn error(status: u16, messages: &[&str], fields: Value) -> Reply {
    Reply::json(status, &json!({"errorMessages": messages, "errors": fields}))
}

impl Jira {
    /// Starts a fake of project `project_key` accepting `email` and `token`, on `listen`.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub fn start(email: &str, token: &str, project_key: &str, listen: &str) -> Result<Jira, String> {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}"));
        let inner = Inner {
            auth: format!("Basic {basic}"),
            project: project_key.into(),
            site: Mutex::new(String::new()),
            state: Mutex::new(State::default()),
        };
        let fake = Fake::start(inner, listen)?;
        *fake.inner.site.lock().unwrap() = format!("http://{}", fake.addr());
        Ok(Jira(fake))
    }

    /// The site, as `[jira] url` takes it.
    pub fn url(&self) -> String {
        format!("http://{}", self.0.addr())
    }

    /// The issues filed, oldest first.
    pub fn issues(&self) -> Vec<JiraIssue> {
        self.0.inner.state.lock().unwrap().issues.clone()
    }

    /// Every request refused for its fields or documents, and why.
    pub fn invalid(&self) -> Vec<String> {
        self.0.inner.state.lock().unwrap().invalid.clone()
    }

    /// Serves `fault` to the next `times` requests.
    pub fn fail_next(&self, fault: Fault, times: usize) {
        self.0.fail_next(fault, times);
    }

    /// A rate limit as Jira sends it: 429, `Retry-After` in seconds.
    pub fn rate_limited(retry_after_secs: u64) -> Fault {
        Fault::Reply(
            Reply { status: 429, headers: vec![], body: Vec::new() }
                .header("retry-after", retry_after_secs.to_string())
                .header("x-ratelimit-limit", "350")
                .header("x-ratelimit-remaining", "0")
                .header("ratelimit-reason", "jira-burst-based"),
        )
    }

    /// Moves an issue to status category `category` (with `resolution` when done), as a person would.
    pub fn set_status(&self, key: &str, category: &str, resolution: Option<&str>) {
        let mut st = self.0.inner.state.lock().unwrap();
        if let Some(i) = st.issues.iter_mut().find(|i| i.key == key) {
            i.category = category.into();
            i.resolution = resolution.map(Into::into);
            i.updated_ms = now_ms();
        }
    }

    /// The body Jira's `jira:issue_updated` webhook sends for `issue`, at `at_ms`.
    pub fn webhook_body(&self, issue: &JiraIssue, at_ms: i64) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "timestamp": at_ms,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "issue": {"id": issue.id, "key": issue.key, "self": format!("{}/rest/api/3/issue/{}", self.url(), issue.id),
                      "fields": fields(issue)},
            "changelog": {"id": "10100", "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status"}]},
        }))
        .expect("serializes")
    }
}

fn fields(i: &JiraIssue) -> Value {
    let (name, id) = match i.category.as_str() {
        "done" => ("Done", 3),
        "indeterminate" => ("In Progress", 4),
        _ => ("To Do", 2),
    };
    json!({
        "summary": i.summary,
        "labels": i.labels,
        "status": {"name": name, "statusCategory": {"id": id, "key": i.category, "name": name}},
        "resolution": i.resolution.as_ref().map(|r| json!({"name": r})),
    })
}

/// The issues a JQL query of the subset UFSE sends selects; `Err` for a
/// query Jira would refuse (unbounded, or beyond what the fake knows).
fn select<'a>(issues: &'a [JiraIssue], project: &str, jql: &str) -> Result<Vec<&'a JiraIssue>, String> {
    let jql = jql.split(" ORDER BY ").next().unwrap_or(jql);
    let mut out: Vec<&JiraIssue> = issues.iter().collect();
    let mut bounded = false;
    for clause in jql.split(" AND ") {
        let clause = clause.trim();
        if let Some(v) = clause.strip_prefix("project = ") {
            if v.trim_matches('"') != project {
                out.clear();
            }
            bounded = true;
        } else if let Some(v) = clause.strip_prefix("labels = ") {
            let label = v.trim_matches('"');
            out.retain(|i| i.labels.iter().any(|l| l == label));
        } else if let Some(v) = clause.strip_prefix("key in (") {
            let keys: Vec<&str> =
                v.trim_end_matches(')').split(',').map(|k| k.trim().trim_matches('"')).collect();
            out.retain(|i| keys.contains(&i.key.as_str()));
            bounded = true;
        } else if let Some(v) = clause.strip_prefix("updated >= ") {
            let minutes: i64 = v
                .trim_matches('"')
                .strip_prefix('-')
                .and_then(|m| m.strip_suffix('m'))
                .and_then(|m| m.parse().ok())
                .ok_or_else(|| format!("the fake reads only relative dates such as \"-15m\", not {v}"))?;
            let since = now_ms() - minutes * 60_000;
            out.retain(|i| i.updated_ms >= since);
        } else {
            return Err(format!("Error in the JQL Query: the fake does not read `{clause}`"));
        }
    }
    if !bounded {
        return Err(
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
                .into(),
        );
    }
    Ok(out)
}

impl Inner {
    fn refuse(&self, why: String, reply: Reply) -> Reply {
        self.state.lock().unwrap().invalid.push(why);
        reply
    }

    fn create(&self, body: &Value) -> Reply {
        let f = &body["fields"];
        let mut errors = serde_json::Map::new();
        if f["project"]["key"].as_str() != Some(self.project.as_str()) && f["project"]["id"].is_null() {
            errors.insert("project".into(), json!("valid project is required"));
        }
        if f["issuetype"]["name"].as_str().is_none_or(str::is_empty) && f["issuetype"]["id"].is_null() {
            errors.insert("issuetype".into(), json!("valid issue type is required"));
        }
        match f["summary"].as_str() {
            None | Some("") => {
                errors.insert("summary".into(), json!("You must specify a summary of the issue."));
            }
            Some(s) if s.chars().count() > 255 => {
                errors.insert("summary".into(), json!("Summary must be less than 255 characters."));
            }
            Some(s) if s.contains('\n') => {
                errors.insert(
                    "summary".into(),
                    json!("The summary is invalid because it contains newline characters."),
                );
            }
            _ => {}
        }
        if let Err(e) = check_adf(&f["description"]) {
            errors.insert(
                "description".into(),
                json!(format!("Operation value must be an Atlassian Document: {e}")),
            );
        }
        let labels: Vec<String> = match serde_json::from_value(f["labels"].clone()) {
            Ok(l) => l,
            Err(_) => {
                errors.insert("labels".into(), json!("labels must be an array of strings"));
                Vec::new()
            }
        };
        if let Some(bad) = labels.iter().find(|l| l.contains(char::is_whitespace)) {
            errors.insert(
                "labels".into(),
                json!(format!("The label '{bad}' contains spaces which is invalid.")),
            );
        }
        if let Some(bad) = labels.iter().find(|l| l.chars().count() > 255) {
            errors.insert(
                "labels".into(),
                json!(format!(
                    "The label '{bad}' exceeds the maximum length for a single label of 255 characters"
                )),
            );
        }
        if !errors.is_empty() {
            let why = format!("create refused: {}", Value::Object(errors.clone()));
            return self.refuse(why, error(400, &[], Value::Object(errors)));
        }
        let mut st = self.state.lock().unwrap();
        let n = st.issues.len() + 1;
        let issue = JiraIssue {
            id: (10_000 + n).to_string(),
            key: format!("{}-{n}", self.project),
            summary: f["summary"].as_str().unwrap_or_default().into(),
            description: f["description"].clone(),
            labels,
            category: "new".into(),
            resolution: None,
            comments: Vec::new(),
            updated_ms: now_ms(),
        };
        let site = self.site.lock().unwrap().clone();
        let reply = json!({"id": issue.id, "key": issue.key, "self": format!("{site}/rest/api/3/issue/{}", issue.id)});
        st.issues.push(issue);
        Reply::json(201, &reply)
    }

    fn search(&self, body: &Value) -> Reply {
        let jql = body["jql"].as_str().unwrap_or_default();
        let st = self.state.lock().unwrap();
        let found = match select(&st.issues, &self.project, jql) {
            Ok(f) => f,
            Err(e) => {
                drop(st);
                return self.refuse(format!("search refused: {e}"), error(400, &[&e], json!({})));
            }
        };
        let max = body["maxResults"].as_u64().unwrap_or(50) as usize;
        let wanted: Vec<&str> =
            body["fields"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let site = self.site.lock().unwrap().clone();
        let issues: Vec<Value> = found
            .iter()
            .take(max)
            .map(|i| {
                let all = fields(i);
                let picked: serde_json::Map<String, Value> =
                    wanted.iter().filter_map(|f| all.get(*f).map(|v| ((*f).to_owned(), v.clone()))).collect();
                json!({"id": i.id, "key": i.key, "self": format!("{site}/rest/api/3/issue/{}", i.id), "fields": picked})
            })
            .collect();
        // The last page has no nextPageToken.
        Reply::json(200, &json!({"issues": issues, "isLast": true}))
    }

    fn issue_mut<'a>(st: &'a mut State, id_or_key: &str) -> Option<&'a mut JiraIssue> {
        st.issues.iter_mut().find(|i| i.id == id_or_key || i.key == id_or_key)
    }

    fn comment(&self, id_or_key: &str, body: &Value) -> Reply {
        if let Err(e) = check_adf(&body["body"]) {
            let why = format!("comment refused: {e}");
            return self.refuse(
                why,
                error(400, &[], json!({"comment": format!("Comment body is not valid ADF: {e}")})),
            );
        }
        let mut st = self.state.lock().unwrap();
        let Some(i) = Self::issue_mut(&mut st, id_or_key) else {
            return error(404, &["Issue does not exist or you do not have permission to see it."], json!({}));
        };
        i.comments.push(body["body"].clone());
        let id = 20_000 + i.comments.len();
        Reply::json(
            201,
            &json!({"id": id.to_string(), "body": body["body"], "created": "2026-12-07T12:00:00.000+0000"}),
        )
    }

    fn transitions(&self, id_or_key: &str, body: Option<&Value>) -> Reply {
        let mut st = self.state.lock().unwrap();
        let Some(i) = Self::issue_mut(&mut st, id_or_key) else {
            return error(404, &["Issue does not exist or you do not have permission to see it."], json!({}));
        };
        let Some(body) = body else {
            let list: Vec<Value> = TRANSITIONS
                .iter()
                .filter(|t| t.2 != i.category)
                .map(|(id, name, cat)| {
                    json!({"id": id, "name": name, "isAvailable": true,
                                             "to": {"name": name, "statusCategory": {"key": cat}}})
                })
                .collect();
            return Reply::json(200, &json!({"expand": "transitions", "transitions": list}));
        };
        let id = body["transition"]["id"].as_str().unwrap_or_default();
        match TRANSITIONS.iter().find(|t| t.0 == id && t.2 != i.category) {
            Some(t) => {
                i.category = t.2.into();
                i.resolution = (t.2 == "done").then(|| "Done".into());
                i.updated_ms = now_ms();
                Reply { status: 204, headers: vec![], body: Vec::new() }
            }
            None => error(400, &[&format!("Transition id '{id}' is not valid for this issue.")], json!({})),
        }
    }
}

impl Service for Inner {
    fn handle(self: Arc<Self>, req: Req) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            if req.header("authorization") != Some(self.auth.as_str()) {
                return error(
                    401,
                    &["You are not authenticated. Authentication required to perform this operation."],
                    json!({}),
                );
            }
            let body: Option<Value> = serde_json::from_slice(&req.body).ok();
            let path = req.path.as_str();
            let post = req.method == http::Method::POST;
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            match (post, parts.as_slice()) {
                (true, ["rest", "api", "3", "issue"]) => match body {
                    Some(b) => self.create(&b),
                    None => error(400, &["The body is not JSON."], json!({})),
                },
                (true, ["rest", "api", "3", "search", "jql"]) => self.search(&body.unwrap_or(Value::Null)),
                (_, ["rest", "api", "3", "search"]) => error(
                    410,
                    &["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."],
                    json!({}),
                ),
                (true, ["rest", "api", "3", "issue", key, "comment"]) => self.comment(key, &body.unwrap_or(Value::Null)),
                (false, ["rest", "api", "3", "issue", key, "transitions"]) => self.transitions(key, None),
                (true, ["rest", "api", "3", "issue", key, "transitions"]) => {
                    self.transitions(key, Some(&body.unwrap_or(Value::Null)))
                }
                _ => error(404, &[&format!("no route {} {path} in the fake Jira", req.method)], json!({})),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jql_of_the_subset_ufse_sends() {
        let issue = |key: &str, labels: &[&str]| JiraIssue {
            id: "1".into(),
            key: key.into(),
            summary: String::new(),
            description: Value::Null,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            category: "new".into(),
            resolution: None,
            comments: vec![],
            updated_ms: now_ms(),
        };
        let all = [issue("S-1", &["ufse", "ufse-a"]), issue("S-2", &["ufse"])];
        let keys = |jql| select(&all, "S", jql).unwrap().iter().map(|i| i.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys("project = \"S\" AND labels = \"ufse-a\" ORDER BY created ASC"), ["S-1"]);
        assert_eq!(keys("project = \"S\" AND labels = \"ufse\" AND updated >= \"-5m\""), ["S-1", "S-2"]);
        assert_eq!(keys("project = \"T\" AND labels = \"ufse\""), Vec::<String>::new());
        assert!(select(&all, "S", "labels = \"ufse\"").unwrap_err().contains("Unbounded"));
    }
}

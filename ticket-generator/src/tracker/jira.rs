//! Jira Cloud, through its REST API v3 (basic auth with an account's email
//! and API token).
//!
//! - Every ticket carries the labels `ufse` and `ufse-<fingerprint>` (and
//!   `ufse-<fingerprint>-r<round>` for a follow-up). Before creating, the
//!   current JQL search (`POST /rest/api/3/search/jql`) looks for the
//!   issue's label: a retry after a lost answer finds the first try's
//!   ticket instead of filing a second. (Jira's search is eventually
//!   consistent; the retry backoff gives it time.)
//! - Descriptions and comments are ADF documents.
//! - A rate limit (429) or an overload (503) is retried after `Retry-After`.

use base64::Engine;
use serde_json::{json, Value};
use ufse_incident_store::{RemoteState, Ticket};

use super::{Changed, Comment, Created, Tracker, TrackerError};
use crate::config::JiraConfig;
use crate::http::{client, retry_after, send, Reply};
use crate::{system_ms, BoxFuture, Draft};

/// Jira's longest summary.
const MAX_SUMMARY: usize = 255;
/// Resolutions that close a ticket without a fix: its issue is ignored, not resolved.
const NOT_FIXED: [&str; 6] =
    ["Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce", "Declined", "Rejected"];
/// Pages of changed issues read per pull (100 each).
const MAX_PAGES: usize = 20;

/// The labels that mark `fingerprint`'s ticket `round`; the last one is the
/// most specific, and is what a retry searches for.
pub fn jira_labels(fingerprint: &str, round: u32) -> Vec<String> {
    let mut labels = vec!["ufse".to_owned(), format!("ufse-{fingerprint}")];
    if round > 0 {
        labels.push(format!("ufse-{fingerprint}-r{round}"));
    }
    labels
}

/// A Jira project.
pub struct Jira {
    http: reqwest::Client,
    site: String,
    auth: String,
    project_key: String,
    issue_type: String,
    labels: Vec<String>,
}

impl Jira {
    /// The project `[jira]` names.
    ///
    /// # Errors
    ///
    /// When the site, the account, the token or the project is missing.
    pub fn from_config(cfg: &JiraConfig) -> Result<Jira, String> {
        let missing = |what: &str, var: &str| format!("[jira] {what} is not set ({var})");
        let token = cfg.api_token.as_ref().ok_or_else(|| missing("api_token", "UFSE_JIRA_API_TOKEN"))?;
        let site = cfg.url.clone().ok_or_else(|| missing("url", "UFSE_JIRA_URL"))?;
        let email = cfg.email.clone().ok_or_else(|| missing("email", "UFSE_JIRA_EMAIL"))?;
        let project_key =
            cfg.project_key.clone().ok_or_else(|| missing("project_key", "UFSE_JIRA_PROJECT_KEY"))?;
        if let Some(bad) =
            cfg.labels.iter().find(|l| l.is_empty() || l.len() > 255 || l.contains(char::is_whitespace))
        {
            return Err(format!(
                "[jira] labels: `{bad}` is not a Jira label (1 to 255 characters, no spaces)"
            ));
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{email}:{}", token.expose()));
        Ok(Jira {
            http: client(cfg.timeout_ms),
            site: site.trim_end_matches('/').to_owned(),
            auth: format!("Basic {basic}"),
            project_key,
            issue_type: cfg.issue_type.clone(),
            labels: cfg.labels.clone(),
        })
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, TrackerError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.site))
            .header("authorization", &self.auth)
            .header("accept", "application/json");
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&b).expect("serializes"));
        }
        let reply = send(req).await.map_err(|e| TrackerError::retry(format!("jira: {e}")))?;
        match reply.status {
            200..=299 => Ok(reply),
            429 | 503 => {
                metrics::counter!("ufse_tracker_rate_limited_total", "provider" => "jira").increment(1);
                Err(TrackerError::Retry {
                    message: format!("jira: HTTP {} on {path}", reply.status),
                    after: retry_after(&reply.headers, system_ms()),
                })
            }
            s if s >= 500 || s == 408 || s == 409 => {
                Err(TrackerError::retry(format!("jira: HTTP {s} on {path}: {}", reply.snippet())))
            }
            s => Err(TrackerError::Permanent(format!("jira: HTTP {s} on {path}: {}", errors(&reply)))),
        }
    }

    /// Issues of the project matching `jql` (after `project = KEY AND `), with status and resolution.
    async fn search(&self, jql: &str, max: u32) -> Result<Vec<Value>, TrackerError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut body = json!({
                "jql": format!("project = \"{}\" AND {jql}", self.project_key),
                "fields": ["status", "resolution"],
                "maxResults": max,
            });
            if let Some(t) = &token {
                body["nextPageToken"] = json!(t);
            }
            let v = self.request(reqwest::Method::POST, "/rest/api/3/search/jql", Some(body)).await?.json();
            out.extend(v["issues"].as_array().cloned().unwrap_or_default());
            match v["nextPageToken"].as_str() {
                Some(t) if v["isLast"] != true && !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    fn browse(&self, key: &str) -> String {
        format!("{}/browse/{key}", self.site)
    }

    async fn create_issue(&self, draft: &Draft) -> Result<Created, TrackerError> {
        let mut labels = jira_labels(&draft.fingerprint, draft.round);
        let own = labels.last().expect("two at least").clone();
        if let Some(found) =
            self.search(&format!("labels = \"{own}\" ORDER BY created ASC"), 1).await?.first()
        {
            tracing::info!(label = %own, key = %found["key"], "found the ticket an earlier try filed");
            return created(found, self)
                .ok_or_else(|| TrackerError::retry("jira: search answered an issue without a key"));
        }
        for l in self.labels.iter().chain(&draft.explanation.labels) {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
        let mut summary = draft.explanation.title.clone();
        if summary.chars().count() > MAX_SUMMARY {
            summary = summary.chars().take(MAX_SUMMARY - 1).collect::<String>() + "…";
        }
        let body = json!({"fields": {
            "project": {"key": self.project_key},
            "issuetype": {"name": self.issue_type},
            "summary": summary,
            "description": draft.adf(),
            "labels": labels,
        }});
        let v = self.request(reqwest::Method::POST, "/rest/api/3/issue", Some(body)).await?.json();
        let (Some(id), Some(key)) = (v["id"].as_str(), v["key"].as_str()) else {
            return Err(TrackerError::retry("jira: the create answered no id and key"));
        };
        Ok(Created { remote_id: id.into(), key: key.into(), url: self.browse(key), state: RemoteState::Open })
    }

    async fn comment_on(&self, ticket: &Ticket, body: &Comment) -> Result<(), TrackerError> {
        let path = format!("/rest/api/3/issue/{}/comment", ticket.remote_id);
        self.request(reqwest::Method::POST, &path, Some(json!({"body": body.adf()}))).await?;
        Ok(())
    }

    async fn reopen_issue(&self, ticket: &Ticket) -> Result<RemoteState, TrackerError> {
        let path = format!("/rest/api/3/issue/{}/transitions", ticket.remote_id);
        let v = self.request(reqwest::Method::GET, &path, None).await?.json();
        let transitions = v["transitions"].as_array().cloned().unwrap_or_default();
        let to = |cat: &str| transitions.iter().find(|t| t["to"]["statusCategory"]["key"] == cat).cloned();
        let Some(t) = to("new").or_else(|| to("indeterminate")) else {
            return Err(TrackerError::Permanent(format!(
                "jira: {} has no transition to a to-do or in-progress status",
                ticket.key
            )));
        };
        self.request(reqwest::Method::POST, &path, Some(json!({"transition": {"id": t["id"]}}))).await?;
        Ok(RemoteState::Open)
    }

    async fn changed(&self, since_ms: i64) -> Result<Vec<Changed>, TrackerError> {
        // Relative to the server's own clock: JQL's absolute dates are in the user's time zone.
        let minutes = ((system_ms() - since_ms).max(0) / 60_000) + 1;
        let found = self.search(&format!("labels = \"ufse\" AND updated >= \"-{minutes}m\""), 100).await?;
        Ok(found
            .iter()
            .filter_map(|i| {
                let c = created(i, self)?;
                Some(Changed { remote_id: c.remote_id, key: c.key, state: c.state })
            })
            .collect())
    }
}

/// The ticket in a search result.
fn created(issue: &Value, jira: &Jira) -> Option<Created> {
    let key = issue["key"].as_str()?;
    Some(Created {
        remote_id: issue["id"].as_str()?.to_owned(),
        key: key.to_owned(),
        url: jira.browse(key),
        state: state(&issue["fields"]),
    })
}

/// An issue's state as its lifecycle sees it: by status category, and for
/// done ones by resolution.
pub(crate) fn state(fields: &Value) -> RemoteState {
    match fields["status"]["statusCategory"]["key"].as_str() {
        Some("done") => match fields["resolution"]["name"].as_str() {
            Some(r) if NOT_FIXED.iter().any(|n| n.eq_ignore_ascii_case(r)) => RemoteState::Canceled,
            _ => RemoteState::Done,
        },
        _ => RemoteState::Open,
    }
}

/// Jira's `ErrorCollection`, in one line.
fn errors(reply: &Reply) -> String {
    let v = reply.json();
    let mut parts: Vec<String> = v["errorMessages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_owned))
        .collect();
    if let Some(fields) = v["errors"].as_object() {
        parts.extend(fields.iter().map(|(k, m)| format!("{k}: {}", m.as_str().unwrap_or_default())));
    }
    if parts.is_empty() {
        return reply.snippet();
    }
    crate::redact::redact(&parts.join("; ")).into_owned()
}

impl Tracker for Jira {
    fn name(&self) -> &'static str {
        "jira"
    }

    fn create<'a>(&'a self, draft: &'a Draft) -> BoxFuture<'a, Result<Created, TrackerError>> {
        Box::pin(self.create_issue(draft))
    }

    fn comment<'a>(
        &'a self,
        ticket: &'a Ticket,
        _seed: &'a str,
        body: &'a Comment,
    ) -> BoxFuture<'a, Result<(), TrackerError>> {
        Box::pin(self.comment_on(ticket, body))
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

    #[test]
    fn labels_mark_the_issue_and_the_round() {
        assert_eq!(jira_labels("ab", 0), ["ufse", "ufse-ab"]);
        assert_eq!(jira_labels("ab", 2), ["ufse", "ufse-ab", "ufse-ab-r2"]);
        let fp = "f".repeat(64);
        assert!(jira_labels(&fp, 99).iter().all(|l| l.len() <= 255 && !l.contains(' ')));
    }

    #[test]
    fn done_is_resolved_unless_the_resolution_says_otherwise() {
        let f = |cat: &str, res: Value| {
            state(&json!({"status": {"statusCategory": {"key": cat}}, "resolution": res}))
        };
        assert_eq!(f("done", json!({"name": "Done"})), RemoteState::Done);
        assert_eq!(f("done", json!({"name": "Won't Do"})), RemoteState::Canceled);
        assert_eq!(f("done", json!({"name": "duplicate"})), RemoteState::Canceled);
        assert_eq!(f("indeterminate", Value::Null), RemoteState::Open);
        assert_eq!(f("new", Value::Null), RemoteState::Open);
    }

    #[test]
    fn a_half_configured_jira_says_what_is_missing() {
        let cfg = JiraConfig { api_token: Some(crate::config::Secret::new("t")), ..JiraConfig::default() };
        let e = Jira::from_config(&cfg).err().unwrap();
        assert!(e.contains("url") && e.contains("UFSE_JIRA_URL"), "{e}");
    }
}

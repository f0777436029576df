//! Deterministic identities: incident ids, issue fingerprints and the URL
//! path templates they group by (DESIGN.md section 4), and issue severity.

use sha2::{Digest, Sha256};
use ufse_engine::{Signal, SignalKind};

use crate::Severity;

/// Version of the fingerprint rule; a change to [`path_template`] or to
/// what is hashed needs a new one.
pub const FINGERPRINT_VERSION: &str = "v1";

fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b"|");
        }
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The id of an incident: a digest of its content and of the profile that
/// produced it, so storing the same detection twice is a no-op and two
/// profiles never collide.
pub fn incident_id(profile: &str, project: &str, s: &Signal) -> String {
    let evidence: Vec<String> = s.evidence.iter().map(u64::to_string).collect();
    sha256_hex(&["inc1", profile, project, &s.sid, s.kind.as_str(), &s.ts.to_string(), &evidence.join(",")])
        [..32]
        .to_owned()
}

/// The issue fingerprint: `sha256("v1|project|kind|host+path template|sel")`.
pub fn issue_fingerprint(project: &str, kind: SignalKind, url: Option<&str>, sel: Option<&str>) -> String {
    let template = url.map(path_template).unwrap_or_default();
    sha256_hex(&[FINGERPRINT_VERSION, project, kind.as_str(), &template, sel.unwrap_or("")])
}

/// `host` + path with variable segments replaced; query and fragment dropped.
///
/// Each path segment that is all digits becomes `:id`, a UUID `:uuid`, 16
/// or more hex characters `:hash`, a `YYYY-MM-DD` date `:date`, and any
/// other segment of 24 or more characters with a digit `:token`.
pub fn path_template(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h).to_ascii_lowercase();
    let mut out = host;
    for (i, seg) in path.split('/').enumerate() {
        if i == 0 {
            continue;
        }
        out.push('/');
        out.push_str(template_segment(seg));
    }
    out
}

fn template_segment(seg: &str) -> &str {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
        ":id"
    } else if is_uuid(seg) {
        ":uuid"
    } else if seg.len() >= 16 && hex(seg) {
        ":hash"
    } else if is_date(seg) {
        ":date"
    } else if seg.chars().count() >= 24 && seg.bytes().any(|b| b.is_ascii_digit()) {
        ":token"
    } else {
        seg
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// How far an issue reaches, as its severity sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reach {
    /// Distinct sessions with an incident of the issue.
    pub sessions: u64,
    /// Its incidents.
    pub incidents: u64,
    /// Distinct sessions the project has seen.
    pub project_sessions: u64,
}

/// Issue severity, from what went wrong, how often, and for how many of
/// the project's sessions; recomputed with each new incident of the issue.
///
/// `score = weight(kind) + floor(log10(affected sessions)) + share + recurrence`:
/// - weights: 3 for `error_click` and `failed_request` (the app broke in the
///   user's hands), 2 for `rage_click`, `form_loop` and `unresponsive` (the
///   user is blocked and shows it), 1 for `dead_click`, `slow_click`,
///   `u_turn`, `thrashed_cursor` and `excessive_scroll` (friction or
///   confusion);
/// - share: +1 when the issue hit at least 10 sessions and at least 5% of
///   the project's sessions (a handful of sessions of a small project is
///   not widespread);
/// - recurrence: +1 when it has at least 3 incidents per affected session
///   (people run into it again and again).
///
/// `critical` from 5, `high` from 4, `medium` from 3, else `low`.
pub fn severity(kind: SignalKind, r: Reach) -> Severity {
    let weight = match kind {
        SignalKind::ErrorClick | SignalKind::FailedRequest => 3,
        SignalKind::RageClick | SignalKind::FormLoop | SignalKind::Unresponsive => 2,
        _ => 1,
    };
    let sessions = r.sessions.max(1);
    let reach = sessions.ilog10();
    let share = u32::from(sessions >= 10 && sessions * 20 >= r.project_sessions);
    let recurrence = u32::from(r.incidents >= 3 * sessions);
    match weight + reach + share + recurrence {
        s if s >= 5 => Severity::Critical,
        4 => Severity::High,
        3 => Severity::Medium,
        _ => Severity::Low,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_templates_follow_the_design() {
        assert_eq!(path_template("https://Shop.example.com/cart?x=1#top"), "shop.example.com/cart");
        assert_eq!(path_template("https://a.io/orders/12345/items"), "a.io/orders/:id/items");
        assert_eq!(path_template("https://a.io/u/550e8400-e29b-41d4-a716-446655440000"), "a.io/u/:uuid");
        assert_eq!(path_template("https://a.io/c/deadbeefdeadbeef"), "a.io/c/:hash");
        assert_eq!(path_template("https://a.io/d/2026-11-28/x"), "a.io/d/:date/x");
        assert_eq!(path_template("https://a.io/s/abcdefghijklmnopqrstuvw1"), "a.io/s/:token");
        assert_eq!(
            path_template("https://a.io/s/abcdefghijklmnopqrstuvwx"),
            "a.io/s/abcdefghijklmnopqrstuvwx"
        );
        assert_eq!(path_template("https://a.io"), "a.io/");
        assert_eq!(path_template("https://user:pw@a.io:8443/x/"), "a.io:8443/x/");
    }

    #[test]
    fn tricky_urls() {
        let t = path_template;
        // Ids: leading zeros, several in one path; ids inside words are not ids.
        assert_eq!(t("https://a.io/orders/007/lines/12"), "a.io/orders/:id/lines/:id");
        assert_eq!(t("https://a.io/v2/item42"), "a.io/v2/item42");
        // UUIDs and hashes in either case; too short for a hash stays.
        assert_eq!(t("https://a.io/u/550E8400-E29B-41D4-A716-446655440000/edit"), "a.io/u/:uuid/edit");
        assert_eq!(t("https://a.io/commit/0123456789ABCDEF"), "a.io/commit/:hash");
        assert_eq!(t("https://a.io/commit/0123456789abcde"), "a.io/commit/0123456789abcde");
        assert_eq!(t("https://a.io/blob/deadbeef"), "a.io/blob/deadbeef");
        // Dates by their YYYY-MM-DD shape (as rule v1 says), not date-times.
        assert_eq!(t("https://a.io/news/2026-02-29/story"), "a.io/news/:date/story");
        assert_eq!(t("https://a.io/news/2026-13-01"), "a.io/news/:date");
        assert_eq!(t("https://a.io/at/2026-11-28T10:00"), "a.io/at/2026-11-28T10:00");
        // Locale prefixes are pages of their own under rule v1 (each locale its own issue).
        assert_eq!(t("https://a.io/en-US/cart"), "a.io/en-US/cart");
        assert_ne!(t("https://a.io/en-US/cart"), t("https://a.io/de-DE/cart"));
        // Query strings and fragments never matter, not even hash routes.
        assert_eq!(t("https://a.io/search?q=1&page=2"), "a.io/search");
        assert_eq!(t("https://a.io/#/orders/12"), "a.io/");
        assert_eq!(t("https://a.io/p?next=/a/b#x"), "a.io/p");
        // Long opaque tokens with a digit; percent-encoding kept as sent.
        assert_eq!(t("https://a.io/reset/eyJhbGciOiJIUzI1NiJ9abcdef"), "a.io/reset/:token");
        assert_eq!(t("https://a.io/tag/caf%C3%A9"), "a.io/tag/caf%C3%A9");
        // Hosts: case, ports, user info, IPv6, no scheme.
        assert_eq!(t("HTTPS://A.IO:8443/x"), "a.io:8443/x");
        assert_eq!(t("https://[::1]:8080/x/1"), "[::1]:8080/x/:id");
        assert_eq!(t("a.io/x/1"), "a.io/x/:id");
    }

    #[test]
    fn fingerprints_group_by_template_and_ids_by_content() {
        let f = |u| issue_fingerprint("p", SignalKind::DeadClick, Some(u), Some("button#go"));
        assert_eq!(f("https://a.io/o/1?q"), f("https://a.io/o/2"));
        assert_ne!(f("https://a.io/o/1"), f("https://b.io/o/1"));
        assert_eq!(f("https://a.io/o/1").len(), 64);
        let s = Signal {
            kind: SignalKind::RageClick,
            sid: "s".into(),
            ts: 1,
            end_ts: 2,
            count: 3,
            evidence: vec![1, 2, 3],
            sel: None,
            url: None,
        };
        assert_eq!(incident_id("ufse", "p", &s), incident_id("ufse", "p", &s));
        assert_ne!(incident_id("ufse", "p", &s), incident_id("posthog", "p", &s));
    }

    #[test]
    fn severity_grows_with_reach_and_kind() {
        let r = |sessions, incidents, project_sessions| Reach { sessions, incidents, project_sessions };
        // Kind and reach: one session of a hundred thousand.
        assert_eq!(severity(SignalKind::DeadClick, r(1, 1, 100_000)).as_str(), "low");
        assert_eq!(severity(SignalKind::ErrorClick, r(1, 1, 100_000)).as_str(), "medium");
        assert_eq!(severity(SignalKind::ErrorClick, r(10, 10, 100_000)).as_str(), "high");
        assert_eq!(severity(SignalKind::RageClick, r(1000, 1000, 100_000)).as_str(), "critical");
        assert_eq!(severity(SignalKind::FailedRequest, r(10, 10, 100_000)).as_str(), "high");
        assert_eq!(severity(SignalKind::FormLoop, r(10, 10, 100_000)).as_str(), "medium");
        assert_eq!(severity(SignalKind::UTurn, r(10, 10, 100_000)).as_str(), "low");
        // Share: 10 of 200 sessions (5%) is widespread; 10 of 201 is not; 5 of 5 is too few to tell.
        assert_eq!(severity(SignalKind::DeadClick, r(10, 10, 200)).as_str(), "medium");
        assert_eq!(severity(SignalKind::DeadClick, r(10, 10, 201)).as_str(), "low");
        assert_eq!(severity(SignalKind::DeadClick, r(5, 5, 5)).as_str(), "low");
        // Recurrence: three incidents per affected session.
        assert_eq!(severity(SignalKind::DeadClick, r(10, 30, 100_000)).as_str(), "medium");
        assert_eq!(severity(SignalKind::DeadClick, r(10, 29, 100_000)).as_str(), "low");
    }
}

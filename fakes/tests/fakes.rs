//! The fakes refuse what their providers refuse: tests that pass against
//! them prove something only if a wrong request would fail. The Linear test
//! reads Linear's schema from `../shared/fixtures`, outside this
//! repository; where it is absent it says SKIPPED.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::{json, Value};

/// POSTs `body` to `url` with `headers`; the status and the JSON answer.
fn post(url: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
    let rest = url.trim_start_matches("http://");
    let (addr, path) = rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let body = body.to_string();
    let mut s = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    s.write_all(format!("{head}\r\n{body}").as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw[9..12].parse().unwrap();
    let json =
        raw.split_once("\r\n\r\n").map(|(_, b)| serde_json::from_str(b).unwrap_or(Value::Null)).unwrap();
    (status, json)
}

#[test]
fn the_fake_linear_refuses_documents_and_variables_its_schema_refuses() {
    let Some(schema) = ufse_fakes::linear_schema_path() else {
        let _ = writeln!(std::io::stderr(), "SKIPPED: Linear's schema (../shared/fixtures) is not here");
        return;
    };
    let team = "5a1e0000-0000-4000-8000-00000000aaaa";
    let fake = ufse_fakes::Linear::start("k", team, schema, "127.0.0.1:0").unwrap();
    let auth = [("Authorization", "k"), ("Content-Type", "application/json")];
    let create = "mutation($input: IssueCreateInput!) { issueCreate(input: $input) { success issue { id identifier } } }";
    let id = "0b6e7a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b";
    let ok = json!({"query": create, "variables": {"input": {"id": id, "teamId": team, "title": "t"}}});
    let (status, answer) = post(&fake.url(), &auth, &ok);
    assert_eq!(
        (status, &answer["data"]["issueCreate"]["issue"]["identifier"]),
        (200, &json!("UFS-1")),
        "{answer}"
    );
    assert_eq!(answer["data"]["issueCreate"].as_object().unwrap().len(), 2, "only what was selected");

    let misspelled = json!({"query": create.replace("success", "sucess"), "variables": ok["variables"]});
    assert_eq!(post(&fake.url(), &auth, &misspelled).0, 400);
    let wrong_type = json!({"query": create.replace("IssueCreateInput!", "IssueUpdateInput!"), "variables": ok["variables"]});
    assert_eq!(post(&fake.url(), &auth, &wrong_type).0, 400);
    let bad_value = json!({"query": create, "variables": {"input": {"title": 5}}});
    assert_eq!(post(&fake.url(), &auth, &bad_value).0, 400);
    let invalid = fake.invalid();
    assert_eq!(invalid.len(), 3, "{invalid:?}");
    assert!(invalid[0].contains("sucess") && invalid[2].contains("teamId"), "{invalid:?}");

    // The same id again is Linear's conflict; a wrong key is not authenticated.
    let (status, answer) = post(&fake.url(), &auth, &ok);
    assert_eq!((status, answer["errors"][0]["message"].as_str()), (400, Some("conflict on insert of Issue")));
    let (_, answer) = post(&fake.url(), &[("Authorization", "nope")], &ok);
    assert_eq!(answer["errors"][0]["extensions"]["code"], "AUTHENTICATION_ERROR");
    assert_eq!(fake.issues().len(), 1);
}

#[test]
fn the_fake_jira_refuses_bad_fields_labels_and_documents() {
    let fake = ufse_fakes::Jira::start("a@b.c", "t", "SHOP", "127.0.0.1:0").unwrap();
    let auth = base64_auth("a@b.c:t");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    let url = format!("{}/rest/api/3/issue", fake.url());
    let doc = json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "x"}]}]});
    let good = json!({"fields": {"project": {"key": "SHOP"}, "issuetype": {"name": "Bug"}, "summary": "s",
                                 "description": doc, "labels": ["ufse"]}});
    assert_eq!(post(&url, &headers, &good).0, 201);
    let mut plain = good.clone();
    plain["fields"]["description"] = json!("plain text");
    let (status, answer) = post(&url, &headers, &plain);
    assert_eq!(status, 400);
    assert!(answer["errors"]["description"].as_str().unwrap().contains("Atlassian Document"));
    let mut spaced = good.clone();
    spaced["fields"]["labels"] = json!(["two words"]);
    assert!(post(&url, &headers, &spaced).1["errors"]["labels"]
        .as_str()
        .unwrap()
        .contains("contains spaces"));
    let mut no_summary = good.clone();
    no_summary["fields"]["summary"] = json!("");
    assert_eq!(post(&url, &headers, &no_summary).0, 400);
    assert_eq!(fake.invalid().len(), 3);
    let old = post(&format!("{}/rest/api/3/search", fake.url()), &headers, &json!({"jql": "project = SHOP"}));
    assert_eq!(old.0, 410, "the removed search endpoint is gone, as on Jira Cloud");
    assert_eq!(fake.issues().len(), 1);
}

fn base64_auth(user_pass: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_pass))
}

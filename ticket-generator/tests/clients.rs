//! The tracker and model clients against the local fakes of Linear, Jira,
//! OpenAI and Anthropic (crate `ufse-fakes`), which check what they are
//! sent as the real APIs do: every GraphQL document against Linear's public
//! schema, every Jira field and ADF document, every structured-output
//! request. The Linear tests read that schema from `../shared/fixtures`
//! (outside this repository); where it is absent they say SKIPPED.

use std::io::Write;
use std::time::Duration;

use ufse_fakes::{Fault, Jira as FakeJira, Linear as FakeLinear, ModelAnswer, Reply};
use ufse_incident_store::{RemoteState, Ticket};
use ufse_ticket_generator::config::{AiConfig, AiProvider, JiraConfig, LinearConfig, Secret};
use ufse_ticket_generator::{
    linear_issue_id, Anthropic, Draft, Evidence, InterpretError, Interpreter, Jira, Linear, OpenAi, Tracker,
    TrackerError,
};

const TEAM: &str = "5a1e0000-0000-4000-8000-00000000aaaa";

fn draft(round: u32) -> Draft {
    serde_json::from_value(serde_json::json!({
        "fingerprint": "ab".repeat(32), "project": "default", "round": round,
        "explanation": {
            "title": "Clicking \"Checkout\" throws TypeError on shop.example.com/cart/:id",
            "summary": "Clicking \"Checkout\" fails: 3 incidents in 2 sessions of 2 users.",
            "probable_cause": "The handler throws `cart` is *undefined* | at checkout (app.js:10:5).",
            "suggested_fix": "Guard it.", "confidence": 0.8, "labels": ["bug", "javascript-error"],
        },
        "explained_by": "offline", "fallback": null, "kind": "error_click", "severity": "high",
        "page": "shop.example.com/cart/:id", "example_url": "https://shop.example.com/cart/42",
        "selector": "div.cart > button#checkout", "label": "Checkout", "incidents": 3, "sessions": 2, "users": 2,
        "first_seen": 1_732_750_000_000i64, "last_seen": 1_732_760_000_000i64,
        "steps": ["Open https://shop.example.com/cart/42", "Click \"Checkout\" (button#checkout) 3 times within 400 ms",
                  "→ the page throws \"TypeError: cart is undefined\""],
        "evidence": [{"incident": "0123456789abcdef0123456789abcdef", "sid": "s1", "seen_ms": 1_732_750_000_000i64,
                      "detail": "count 3, events 2, 3, 4, 5"}],
        "replay": "ufse replay s1 --project default --explain", "previous": [],
    }))
    .unwrap()
}

fn ticket(provider: &str, c: &ufse_ticket_generator::Created) -> Ticket {
    Ticket {
        fingerprint: "ab".repeat(32),
        provider: provider.into(),
        round: 0,
        project: "default".into(),
        remote_id: c.remote_id.clone(),
        key: c.key.clone(),
        url: c.url.clone(),
        remote_state: c.state,
        created_ms: 0,
        synced_ms: 0,
        commented_ms: None,
        commented_incidents: 3,
    }
}

fn fake_linear() -> Option<FakeLinear> {
    let Some(schema) = ufse_fakes::linear_schema_path() else {
        let _ = writeln!(std::io::stderr(), "SKIPPED: Linear's schema (../shared/fixtures) is not here");
        return None;
    };
    Some(FakeLinear::start("lin_api_test", TEAM, schema, "127.0.0.1:0").unwrap())
}

fn linear(fake: &FakeLinear) -> Linear {
    Linear::from_config(&LinearConfig {
        api_key: Some(Secret::new("lin_api_test")),
        team_id: Some(TEAM.into()),
        url: fake.url(),
        timeout_ms: 2000,
        ..LinearConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn linear_files_once_comments_reopens_and_reads_back_with_valid_graphql() {
    let Some(fake) = fake_linear() else { return };
    let client = linear(&fake);
    let d = draft(0);
    let first = client.create(&d).await.unwrap();
    assert_eq!(first.remote_id, linear_issue_id("default", &d.fingerprint, 0));
    assert_eq!((first.key.as_str(), first.state), ("UFS-1", RemoteState::Open));
    // A retry after a lost answer sends the same id: Linear refuses it, the client reads the issue back.
    let again = client.create(&d).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(fake.issues().len(), 1, "never twice");
    let stored = &fake.issues()[0];
    assert_eq!((stored.priority, stored.title.as_str()), (2, d.explanation.title.as_str()));
    assert!(stored.description.contains("```\nufse replay s1 --project default --explain\n```"));
    assert!(stored.description.contains("\\`cart\\` is \\*undefined\\* \\| at"), "{}", stored.description);

    let t = ticket("linear", &first);
    let body = ufse_ticket_generator::Comment::text("Still happening");
    client.comment(&t, "update-5", &body).await.unwrap();
    client.comment(&t, "update-5", &body).await.unwrap();
    assert_eq!(fake.issues()[0].comments.len(), 1, "a comment's seed makes it once");

    fake.set_state("UFS-1", "completed");
    let changed = client.changed_since(0).await.unwrap();
    assert_eq!((changed[0].key.as_str(), changed[0].state), ("UFS-1", RemoteState::Done));
    assert_eq!(client.reopen(&t).await.unwrap(), RemoteState::Open);
    assert_eq!(fake.issues()[0].state, "unstarted");
    assert!(fake.invalid().is_empty(), "every document was valid: {:?}", fake.invalid());
}

#[tokio::test]
async fn linear_rate_limits_errors_and_timeouts_are_told_apart() {
    let Some(fake) = fake_linear() else { return };
    let client = linear(&fake);
    fake.fail_next(FakeLinear::rate_limited(Duration::from_secs(30)), 1);
    match client.create(&draft(0)).await {
        Err(TrackerError::Retry { after: Some(after), .. }) => {
            assert!(after > Duration::from_secs(25) && after <= Duration::from_secs(30), "{after:?}")
        }
        other => panic!("a rate limit is retried after its reset: {other:?}"),
    }
    fake.fail_next(FakeLinear::server_error(), 1);
    assert!(matches!(client.create(&draft(0)).await, Err(TrackerError::Retry { after: None, .. })));
    fake.fail_next(Fault::Delay(Duration::from_secs(5)), 1);
    match client.create(&draft(0)).await {
        Err(TrackerError::Retry { message, .. }) => assert!(message.contains("timed out"), "{message}"),
        other => panic!("a timeout is retried: {other:?}"),
    }
    // A wrong team is no use retrying.
    let wrong = Linear::from_config(&LinearConfig {
        api_key: Some(Secret::new("lin_api_test")),
        team_id: Some("5a1e0000-0000-4000-8000-00000000bbbb".into()),
        url: fake.url(),
        ..LinearConfig::default()
    })
    .unwrap();
    assert!(matches!(wrong.create(&draft(1)).await, Err(TrackerError::Permanent(m)) if m.contains("Team")));
    let bad_key = Linear::from_config(&LinearConfig {
        api_key: Some(Secret::new("nope")),
        team_id: Some(TEAM.into()),
        url: fake.url(),
        ..LinearConfig::default()
    })
    .unwrap();
    assert!(matches!(bad_key.create(&draft(1)).await, Err(TrackerError::Permanent(_))));
    // The timed-out create got through in the end: the retry found it.
    assert!(client.create(&draft(0)).await.is_ok());
    assert_eq!(fake.issues().len(), 1);
    assert!(fake.invalid().is_empty(), "{:?}", fake.invalid());
}

fn jira_pair() -> (FakeJira, Jira) {
    let fake = FakeJira::start("ufse@example.com", "jira-token", "SHOP", "127.0.0.1:0").unwrap();
    let client = Jira::from_config(&JiraConfig {
        url: Some(fake.url()),
        email: Some("ufse@example.com".into()),
        api_token: Some(Secret::new("jira-token")),
        project_key: Some("SHOP".into()),
        timeout_ms: 2000,
        ..JiraConfig::default()
    })
    .unwrap();
    (fake, client)
}

#[tokio::test]
async fn jira_files_once_by_label_in_adf_and_reads_back() {
    let (fake, client) = jira_pair();
    let d = draft(0);
    let first = client.create(&d).await.unwrap();
    assert_eq!(first.key, "SHOP-1");
    assert_eq!(first.url, format!("{}/browse/SHOP-1", fake.url()));
    assert_eq!(client.create(&d).await.unwrap(), first, "the label search finds the first try");
    let follow_up = client.create(&draft(1)).await.unwrap();
    assert_eq!(follow_up.key, "SHOP-2", "a follow-up is a ticket of its own");
    let issues = fake.issues();
    assert_eq!(issues.len(), 2);
    let fp = "ab".repeat(32);
    assert!(
        issues[0].labels.contains(&"ufse".to_owned()) && issues[0].labels.contains(&format!("ufse-{fp}"))
    );
    assert!(issues[1].labels.contains(&format!("ufse-{fp}-r1")));

    let t = ticket("jira", &first);
    client.comment(&t, "update-5", &ufse_ticket_generator::Comment::text("Still")).await.unwrap();
    assert_eq!(fake.issues()[0].comments.len(), 1);
    fake.set_status("SHOP-1", "done", Some("Won't Do"));
    let changed = client.changed_since(ufse_ticket_generator::system_ms() - 60_000).await.unwrap();
    let shop1 = changed.iter().find(|c| c.key == "SHOP-1").unwrap();
    assert_eq!(shop1.state, RemoteState::Canceled, "won't do is not a fix");
    assert_eq!(client.reopen(&t).await.unwrap(), RemoteState::Open);
    assert_eq!(fake.issues()[0].category, "new");
    assert!(fake.invalid().is_empty(), "{:?}", fake.invalid());
}

#[tokio::test]
async fn jira_rate_limits_are_retried_after_retry_after() {
    let (fake, client) = jira_pair();
    fake.fail_next(FakeJira::rate_limited(7), 1);
    match client.create(&draft(0)).await {
        Err(TrackerError::Retry { after, .. }) => assert_eq!(after, Some(Duration::from_secs(7))),
        other => panic!("{other:?}"),
    }
    assert!(fake.issues().is_empty());
}

#[tokio::test]
async fn a_provider_reply_over_4_mib_is_refused_unread() {
    let (fake, client) = jira_pair();
    let huge = Reply { status: 200, headers: vec![], body: vec![b' '; (4 << 20) + 1] };
    fake.fail_next(Fault::Reply(huge), 1);
    match client.create(&draft(0)).await {
        Err(TrackerError::Retry { message, .. }) => {
            assert!(message.contains("over 4194304 bytes"), "{message}")
        }
        other => panic!("an oversized reply is an error to retry: {other:?}"),
    }
    assert_eq!(client.create(&draft(0)).await.unwrap().key, "SHOP-1", "the next reply is read");
}

fn evidence() -> Evidence {
    serde_json::from_value(serde_json::json!({
        "fingerprint": "ab".repeat(32), "project": "default", "kind": "error_click", "severity": "high",
        "status": "open", "page": "shop.example.com/cart/:id", "example_url": "https://shop.example.com/cart/42",
        "selector": "div.cart > button#checkout", "label": "Checkout", "element": "button",
        "incidents": 3, "sessions": 2, "users": 2, "first_seen": 1_732_750_000_000i64, "last_seen": 1_732_760_000_000i64,
        "pages": [["https://shop.example.com/cart/42", 3]],
        "samples": [{"id": "0123456789abcdef0123456789abcdef", "sid": "s1", "seen_ms": 1_732_750_000_000i64,
                     "count": 3, "evidence": [2, 3, 4, 5]}],
        "first_sid": "s1", "count": 3, "span_ms": 500,
        "steps": ["Open https://shop.example.com/cart/42", "→ the page throws \"TypeError\""],
        "error": {"message": "TypeError: cart is undefined", "source": null, "top_frame": "at checkout (app.js:10:5)"},
        "request": null, "long_task_ms": null, "from_timeline": true,
    }))
    .unwrap()
}

fn ai(provider: AiProvider, url: String) -> AiConfig {
    AiConfig {
        provider,
        url: Some(url),
        api_key: Some(Secret::new("sk-test")),
        timeout_ms: 2000,
        ..AiConfig::default()
    }
}

#[tokio::test]
async fn openai_structured_outputs_and_their_failures() {
    let fake = ufse_fakes::Model::openai("sk-test", "127.0.0.1:0").unwrap();
    let model = OpenAi::new(&ai(AiProvider::Openai, fake.url()), Secret::new("sk-test"));
    let e = evidence();
    let a = model.interpret(&e).await.unwrap();
    assert!(a.interpretation.title.starts_with("AI:"));
    assert!(a.input_tokens > 0 && a.output_tokens > 0);
    fake.script(&[
        ModelAnswer::NotJson,
        ModelAnswer::Truncated,
        ModelAnswer::Refusal,
        ModelAnswer::WrongShape,
    ]);
    for _ in 0..4 {
        assert!(matches!(model.interpret(&e).await, Err(InterpretError::Invalid { .. })));
    }
    fake.script(&[ModelAnswer::RateLimited, ModelAnswer::ServerError]);
    for _ in 0..2 {
        assert!(matches!(model.interpret(&e).await, Err(InterpretError::Unavailable(_))));
    }
    assert!(fake.invalid().is_empty(), "{:?}", fake.invalid());
    let sent = &fake.requests()[0];
    assert_eq!(sent["response_format"]["json_schema"]["strict"], true);
}

#[tokio::test]
async fn anthropic_forced_tool_and_its_failures() {
    let fake = ufse_fakes::Model::anthropic("sk-test", "127.0.0.1:0").unwrap();
    let model = Anthropic::new(&ai(AiProvider::Anthropic, fake.url()), Secret::new("sk-test"));
    let e = evidence();
    assert!(model.interpret(&e).await.unwrap().interpretation.title.starts_with("AI:"));
    fake.script(&[ModelAnswer::NotJson, ModelAnswer::Truncated, ModelAnswer::WrongShape]);
    for _ in 0..3 {
        assert!(matches!(model.interpret(&e).await, Err(InterpretError::Invalid { .. })));
    }
    fake.script(&[ModelAnswer::ServerError]);
    assert!(matches!(model.interpret(&e).await, Err(InterpretError::Unavailable(m)) if m.contains("529")));
    assert!(fake.invalid().is_empty(), "{:?}", fake.invalid());
    assert_eq!(fake.requests()[0]["tool_choice"]["type"], "tool");
}

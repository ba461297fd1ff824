//! A walk-in is for a flat: it asks the host's whole household, the first answer wins and
//! everyone's notification is replaced by the outcome, and one nobody answers expires. Over
//! real sockets, against a fake push service that decrypts every push; SQLite and PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, assert_conflict_naming, assert_error, scalar};
use gatebell_testkit::{FakeWebPush, TestSubscription};
use reqwest::Method;
use serde_json::{Value, json};

const GUARD: &str = "guard@demo.gatebell";
const ASHA: &str = "asha@demo.gatebell";
const ARJUN: &str = "arjun@demo.gatebell";

async fn app_with_push(b: Backend, extra: &[&str]) -> (TestApp, FakeWebPush) {
    let push = FakeWebPush::start().await;
    let mut flags = vec!["--push-allow-hosts", "127.0.0.1", "--push-allow-http"];
    flags.extend_from_slice(extra);
    let app = TestApp::start_with(b, &flags).await;
    app.pin_vapid_key(&push).await;
    (app, push)
}

/// Signs in and registers a browser for the account; returns its session and subscription.
async fn browser(app: &TestApp, push: &FakeWebPush, email: &str) -> (String, TestSubscription) {
    let token = app.login(email).await;
    let sub = push.new_subscription();
    app.register_browser(&token, &sub).await;
    (token, sub)
}

/// The pushes a subscription has received, decrypted, with their `Topic`.
fn pushes(push: &FakeWebPush, sub: &TestSubscription) -> Vec<(Value, Option<String>)> {
    push.delivered_for(&sub.id)
        .into_iter()
        .map(|r| (r.json().expect("a JSON payload"), r.topic))
        .collect()
}

async fn wait_for_pushes(push: &FakeWebPush, sub: &TestSubscription, n: usize) {
    let start = Instant::now();
    while pushes(push, sub).len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} pushes, want {n}",
            pushes(push, sub).len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_walkin_rings_the_household_and_the_first_answer_wins(b: Backend) {
    let (app, push) = app_with_push(b, &[]).await;
    let (asha, asha_sub) = browser(&app, &push, ASHA).await;
    let (arjun, arjun_sub) = browser(&app, &push, ARJUN).await;
    let guard = app.login(GUARD).await;
    let mut guard_stream = app.events(&guard).await;
    let visit = app.walkin_for_asha(&guard).await;

    // Both residents of A-101 are asked, each with a token of their own.
    wait_for_pushes(&push, &asha_sub, 1).await;
    wait_for_pushes(&push, &arjun_sub, 1).await;
    let (asked_asha, topic) = pushes(&push, &asha_sub).remove(0);
    let (asked_arjun, _) = pushes(&push, &arjun_sub).remove(0);
    for p in [&asked_asha, &asked_arjun] {
        assert_eq!(p["type"], "walkin_pending");
        assert_eq!(p["visitId"], visit.as_str());
    }
    assert_ne!(asked_asha["actionToken"], asked_arjun["actionToken"]);
    assert!(topic.is_some(), "a walk-in's push has a Topic");
    // Arjun sees the visit and it waits for him too.
    let (s, v) = app.get(&format!("/api/v1/visits/{visit}"), &arjun).await;
    assert_eq!(s, 200, "{v}");
    let (_, mine) = app.get("/api/v1/dashboard/my-requests", &arjun).await;
    assert_eq!(mine["items"][0]["id"], visit.as_str());

    // Asha answers first.
    let (s, v) = app
        .post(&format!("/api/v1/visits/{visit}/approve"), &asha, json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    guard_stream.next_event("visit").await;

    // Arjun's devices get the outcome under the same Topic and tag, replacing the question.
    wait_for_pushes(&push, &arjun_sub, 2).await;
    let (outcome, outcome_topic) = pushes(&push, &arjun_sub).remove(1);
    assert_eq!(outcome["type"], "walkin_resolved");
    assert_eq!(outcome["tag"], asked_arjun["tag"]);
    assert_eq!(outcome_topic, topic);
    assert!(
        outcome["body"]
            .as_str()
            .unwrap()
            .contains("Approved by Asha Rao"),
        "{outcome}"
    );
    assert!(outcome.get("actions").is_none(), "{outcome}");
    // His answer comes too late, and says who decided.
    let late = app
        .post(&format!("/api/v1/visits/{visit}/reject"), &arjun, json!({}))
        .await;
    assert_conflict_naming(&late, "Asha Rao");
    // His token is no better.
    let token = asked_arjun["actionToken"].as_str().unwrap();
    let late = app
        .call(
            Method::POST,
            &format!("/api/v1/visits/{visit}/decision"),
            None,
            Some(json!({"decision": "reject", "actionToken": token})),
        )
        .await;
    assert_error(&late, 409, "conflict");
    // His inbox entry shows the outcome, answered.
    let (_, inbox) = app.get("/api/v1/notifications", &arjun).await;
    let entry = &inbox["items"][0];
    assert_eq!(entry["visitId"], visit.as_str());
    assert_eq!(entry["read"], true);
    assert!(
        entry["body"].as_str().unwrap().contains("Approved by Asha"),
        "{entry}"
    );
    // Sent pushes keep no payload: no action token lies in the outbox unhashed.
    let db = &app.state().db;
    let closed = "SELECT COUNT(*) FROM push_jobs WHERE state = 'delivered'";
    assert!(scalar(db, closed).await >= 2);
    let kept = "SELECT COUNT(*) FROM push_jobs WHERE state <> 'pending' AND payload <> ''";
    assert_eq!(scalar(db, kept).await, 0);
    // Bina of B-202 was never asked.
    let bina = app.login("bina@demo.gatebell").await;
    let (s, _) = app.get(&format!("/api/v1/visits/{visit}"), &bina).await;
    assert_eq!(s, 403);
    let denied = app
        .post(&format!("/api/v1/visits/{visit}/approve"), &bina, json!({}))
        .await;
    assert_error(&denied, 403, "forbidden");
}

async fn a_host_only_unit_asks_only_the_host(b: Backend) {
    let (app, push) = app_with_push(b, &[]).await;
    let (asha, asha_sub) = browser(&app, &push, ASHA).await;
    let (arjun, arjun_sub) = browser(&app, &push, ARJUN).await;
    // Asha sets A-101 to ask the host only; Arjun sees the unit's setting change.
    let (s, prefs) = app.get("/api/v1/me/preferences", &arjun).await;
    assert_eq!(s, 200, "{prefs}");
    assert_eq!(prefs["household"], "household");
    let (s, prefs) = app
        .call(
            Method::PUT,
            "/api/v1/me/preferences",
            Some(&asha),
            Some(json!({"household": "host", "phone": "+919800000001"})),
        )
        .await;
    assert_eq!(s, 200, "{prefs}");
    assert_eq!(prefs["household"], "host");
    assert_eq!(prefs["phone"], "+919800000001");
    let (_, prefs) = app.get("/api/v1/me/preferences", &arjun).await;
    assert_eq!(prefs["household"], "host");
    assert!(prefs.get("phone").is_none(), "{prefs}");
    // Bad input, and a guard (no unit), are refused.
    let bad = app
        .call(
            Method::PUT,
            "/api/v1/me/preferences",
            Some(&asha),
            Some(json!({"phone": "12345"})),
        )
        .await;
    assert_error(&bad, 422, "validation");
    let guard = app.login(GUARD).await;
    let refused = app
        .call(
            Method::PUT,
            "/api/v1/me/preferences",
            Some(&guard),
            Some(json!({"household": "host"})),
        )
        .await;
    assert_error(&refused, 403, "forbidden");
    let cleared = app
        .call(
            Method::PUT,
            "/api/v1/me/preferences",
            Some(&asha),
            Some(json!({"phone": ""})),
        )
        .await;
    assert_eq!(cleared.1["household"], "host");
    assert!(cleared.1.get("phone").is_none(), "{}", cleared.1);
    let visit = app.walkin_for_asha(&guard).await;
    wait_for_pushes(&push, &asha_sub, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(pushes(&push, &arjun_sub).is_empty());
    let asked = format!("SELECT COUNT(*) FROM notifications WHERE visit_id = '{visit}'");
    assert_eq!(scalar(&app.state().db, &asked).await, 1);
    let denied = app
        .post(
            &format!("/api/v1/visits/{visit}/approve"),
            &arjun,
            json!({}),
        )
        .await;
    assert_error(&denied, 403, "forbidden");
}

async fn an_unanswered_walkin_expires(b: Backend) {
    let (app, push) = app_with_push(b, &["--walkin-expiry", "1"]).await;
    let (asha, asha_sub) = browser(&app, &push, ASHA).await;
    let guard = app.login(GUARD).await;
    let mut guard_stream = app.events(&guard).await;
    let visit = app.walkin_for_asha(&guard).await;
    guard_stream.next_event("visit").await;
    wait_for_pushes(&push, &asha_sub, 1).await;
    let token = pushes(&push, &asha_sub)[0].0["actionToken"]
        .as_str()
        .unwrap()
        .to_owned();
    // Expired within the sweep's second after the expiry; the guard's screen hears of it.
    guard_stream.next_event("visit").await;
    let (_, v) = app.get(&format!("/api/v1/visits/{visit}"), &guard).await;
    assert_eq!(v["status"], "EXPIRED", "{v}");
    wait_for_pushes(&push, &asha_sub, 2).await;
    let (outcome, _) = pushes(&push, &asha_sub).remove(1);
    assert_eq!(outcome["type"], "walkin_resolved");
    assert!(
        outcome["body"].as_str().unwrap().contains("Expired"),
        "{outcome}"
    );
    // No answer counts after it.
    let late = app
        .post(&format!("/api/v1/visits/{visit}/approve"), &asha, json!({}))
        .await;
    assert_conflict_naming(&late, "EXPIRED");
    let late = app
        .call(
            Method::POST,
            &format!("/api/v1/visits/{visit}/decision"),
            None,
            Some(json!({"decision": "approve", "actionToken": token})),
        )
        .await;
    assert_eq!(late.0.as_u16() / 100, 4, "{}", late.1);
    let (_, mine) = app.get("/api/v1/dashboard/my-requests", &asha).await;
    assert_eq!(mine["items"], json!([]));
}

on_both_backends!(
    a_walkin_rings_the_household_and_the_first_answer_wins,
    a_host_only_unit_asks_only_the_host,
    an_unanswered_walkin_expires,
);

//! A walk-in is for a flat: it asks the host's whole household, the first answer wins and
//! everyone's notification is replaced by the outcome, and one nobody answers expires. Over
//! real sockets, against a fake push service that decrypts every push; SQLite and PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::{
    Backend, TestApp, assert_conflict_naming, assert_error, execute, pushes_settled, scalar,
};
use gatebell_testkit::{FakeWebPush, TestSubscription};
use reqwest::Method;
use serde_json::{Value, json};

const GUARD: &str = "guard@demo.gatebell";
const ASHA: &str = "asha@demo.gatebell";
const ARJUN: &str = "arjun@demo.gatebell";
const BINA: &str = "bina@demo.gatebell";
const SERVICE_KEY: &str = "household-service-key-0123456789";

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
    // Asha is signed in on her laptop too: another session, another browser.
    let (_, asha_laptop) = browser(&app, &push, ASHA).await;
    let (arjun, arjun_sub) = browser(&app, &push, ARJUN).await;
    let guard = app.login(GUARD).await;
    let mut guard_stream = app.events(&guard).await;
    let visit = app.walkin_for_asha(&guard).await;

    // Both residents of A-101 are asked, each with a token of their own.
    wait_for_pushes(&push, &asha_sub, 1).await;
    wait_for_pushes(&push, &asha_laptop, 1).await;
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
    // Asha's laptop drops its Approve / Reject too; the browser she answered in is not told
    // again (it shows the answer it gave), and no push for it was even queued.
    wait_for_pushes(&push, &asha_laptop, 2).await;
    let (laptop_outcome, _) = pushes(&push, &asha_laptop).remove(1);
    assert_eq!(laptop_outcome["type"], "walkin_resolved");
    assert_eq!(laptop_outcome["tag"], asked_asha["tag"]);
    let queued_for_answering_browser = format!(
        "SELECT COUNT(*) FROM push_jobs j JOIN devices d ON d.id = j.device_id
         WHERE d.token = '{}'",
        asha_sub.subscription.endpoint
    );
    assert_eq!(
        scalar(&app.state().db, &queued_for_answering_browser).await,
        1
    );
    assert_eq!(pushes(&push, &asha_sub).len(), 1);
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
    pushes_settled(&app.state().db).await;
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
    // The token expired with the walk-in: it can decide nothing.
    assert_error(&late, 403, "forbidden");
    let (_, mine) = app.get("/api/v1/dashboard/my-requests", &asha).await;
    assert_eq!(mine["items"], json!([]));
}

async fn only_someone_asked_and_still_of_the_unit_decides_and_only_in_time(b: Backend) {
    let (app, push) = app_with_push(b, &["--service-key", SERVICE_KEY]).await;
    let (asha, _) = browser(&app, &push, ASHA).await;
    let (arjun, arjun_sub) = browser(&app, &push, ARJUN).await;
    let guard = app.login(GUARD).await;
    let bina = app.login(BINA).await;
    let db = &app.state().db;
    let visit = app.walkin_for_asha(&guard).await;
    wait_for_pushes(&push, &arjun_sub, 1).await;
    let arjun_token = pushes(&push, &arjun_sub)[0].0["actionToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // The backend cannot make the question (or its outcome) for anyone.
    let (_, me) = app.get("/api/v1/me", &bina).await;
    let bina_id = me["id"].as_str().unwrap().to_owned();
    for kind in ["walkin_pending", "walkin_resolved"] {
        let faked = app
            .call(
                Method::POST,
                "/api/v1/internal/notify",
                Some(SERVICE_KEY),
                Some(
                    json!({"userId": bina_id, "type": kind, "title": "Visitor at the gate",
                            "body": "Approve?", "visitId": visit}),
                ),
            )
            .await;
        assert_error(&faked, 422, "validation");
    }
    // And an inbox entry, however it came, grants nothing: Bina neither sees nor decides.
    execute(
        db,
        &format!(
            "INSERT INTO notifications (id, user_id, type, title, body, visit_id, read, created_at)
             VALUES ('planted', '{bina_id}', 'walkin_pending', 'Visitor', 'Approve?', '{visit}', FALSE, 0)"
        ),
    )
    .await;
    let (s, _) = app.get(&format!("/api/v1/visits/{visit}"), &bina).await;
    assert_eq!(s, 403);
    let denied = app
        .post(&format!("/api/v1/visits/{visit}/approve"), &bina, json!({}))
        .await;
    assert_error(&denied, 403, "forbidden");

    // Arjun moves to B-202: neither his session nor his token decides A-101's walk-in now.
    execute(
        db,
        "UPDATE users SET unit_id = (SELECT unit_id FROM users WHERE email = 'bina@demo.gatebell')
         WHERE email = 'arjun@demo.gatebell'",
    )
    .await;
    let moved = app
        .post(
            &format!("/api/v1/visits/{visit}/approve"),
            &arjun,
            json!({}),
        )
        .await;
    assert_error(&moved, 403, "forbidden");
    let moved = app
        .call(
            Method::POST,
            &format!("/api/v1/visits/{visit}/decision"),
            None,
            Some(json!({"decision": "approve", "actionToken": arjun_token})),
        )
        .await;
    assert_error(&moved, 403, "forbidden");

    // Past its expiry, the decision statement itself refuses, whether or not the sweep has
    // run yet (here it is asked as of a moment after the walk-in was made).
    let (_, asha_me) = app.get("/api/v1/me", &asha).await;
    let asha_id = asha_me["id"].as_str().unwrap();
    let now = gatebell_server::db::now_ms();
    let mut tx = db.begin().await.unwrap();
    let late = gatebell_server::db::visits::decide(
        &mut tx,
        &visit,
        gatebell_core::protocol::VisitStatus::Approved,
        asha_id,
        now,
        now,
    )
    .await
    .unwrap();
    assert!(!late, "an expired walk-in was decided");
    drop(tx);

    // Asha, asked and of A-101, decides.
    let (s, v) = app
        .post(&format!("/api/v1/visits/{visit}/approve"), &asha, json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "APPROVED");
}

/// Guessing action tokens and links, flooding walk-ins and running up texts are limited:
/// 429 with `Retry-After` for the first two, and texts past a person's hourly cap are skipped
/// (their pushes still go) and counted.
async fn guessing_flooding_and_texting_are_limited(b: Backend) {
    let sms =
        gatebell_testkit::FakeSms::start("AC0000000000000000000000000000cap", "sms-token").await;
    let sms_url = sms.base_url();
    let (app, _push) = app_with_push(
        b,
        &[
            "--decisions-per-ip",
            "4",
            "--walkins-per-guard",
            "3",
            "--texts-per-recipient",
            "1",
            "--escalate-after",
            "1",
            "--sms-api-url",
            &sms_url,
            "--sms-account-sid",
            "AC0000000000000000000000000000cap",
            "--sms-auth-token",
            "sms-token",
            "--sms-from",
            "+15005550006",
        ],
    )
    .await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let (s, v) = app
        .call(
            Method::PUT,
            "/api/v1/me/preferences",
            Some(&asha),
            Some(json!({"phone": "+919800000001", "household": "host"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let asha_id = app.resident_id(&guard, "asha").await;
    let first = app.walkin_for_asha(&guard).await;
    let second = app.walkin_for_asha(&guard).await;
    let third = app.walkin_for_asha(&guard).await;
    // The guard's fourth walk-in within the minute.
    let fourth = app
        .http
        .post(format!("{}/api/v1/visits/walkin", app.url))
        .bearer_auth(&guard)
        .json(&json!({"visitorName": "Ravi", "hostId": asha_id, "purpose": "flood"}))
        .send()
        .await
        .unwrap();
    assert_eq!(fourth.status(), 429);
    assert!(fourth.headers().contains_key("retry-after"));

    // Four guesses from this address, then 429, on the API and the link pages alike.
    for _ in 0..4 {
        let guess = app
            .call(
                Method::POST,
                &format!("/api/v1/visits/{first}/decision"),
                None,
                Some(json!({"decision": "approve", "actionToken": "a-guess"})),
            )
            .await;
        assert_error(&guess, 403, "forbidden");
    }
    let limited = app
        .http
        .post(format!("{}/api/v1/visits/{first}/decision", app.url))
        .json(&json!({"decision": "approve", "actionToken": "a-guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let page = app
        .http
        .get(format!("{}/a/another-guess", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 429);

    // Asha may be texted once an hour: the first walk-in's text goes, the others' do not.
    sms.wait_for(1, Duration::from_secs(20)).await.unwrap();
    let escalated = |id: String| {
        let app = &app;
        let guard = &guard;
        async move {
            let start = Instant::now();
            loop {
                let (_, v) = app.get(&format!("/api/v1/visits/{id}"), guard).await;
                if !v["escalation"].is_null() {
                    return v;
                }
                assert!(start.elapsed() < Duration::from_secs(20), "{v}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    for id in [second, third] {
        let v = escalated(id).await;
        assert_eq!(v["escalation"]["sms"], 0, "{v}");
    }
    assert_eq!(sms.received().len(), 1);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"gatebell_messages_total{channel="sms",event="capped"} 2"#),
        "{metrics}"
    );
}

/// A text still waiting to go (its provider failed once) is cancelled unsent when someone
/// decides the walk-in first.
async fn a_decision_cancels_the_households_waiting_texts(b: Backend) {
    let sid = "AC00000000000000000000000000000cnl";
    let sms = gatebell_testkit::FakeSms::start(sid, "sms-token").await;
    let sms_url = sms.base_url();
    let (app, _push) = app_with_push(
        b,
        &[
            "--escalate-after",
            "1",
            "--sms-api-url",
            &sms_url,
            "--sms-account-sid",
            sid,
            "--sms-auth-token",
            "sms-token",
            "--sms-from",
            "+15005550006",
        ],
    )
    .await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let (s, v) = app
        .call(
            Method::PUT,
            "/api/v1/me/preferences",
            Some(&asha),
            Some(json!({"phone": "+919800000001", "household": "host"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    sms.fail_next(1);
    let visit = app.walkin_for_asha(&guard).await;
    // The provider refused the first try: the text waits for its retry.
    let db = &app.state().db;
    let start = Instant::now();
    while sms.received().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "never texted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, v) = app
        .post(&format!("/api/v1/visits/{visit}/approve"), &asha, json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let state = format!(
        "SELECT COUNT(*) FROM message_jobs WHERE visit_id = '{visit}' AND state = 'cancelled'"
    );
    while scalar(db, &state).await < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the text was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sms.received().len(), 1, "the text went after the decision");
    assert!(sms.delivered().is_empty());
}

on_both_backends!(
    a_walkin_rings_the_household_and_the_first_answer_wins,
    a_decision_cancels_the_households_waiting_texts,
    guessing_flooding_and_texting_are_limited,
    only_someone_asked_and_still_of_the_unit_decides_and_only_in_time,
    a_host_only_unit_asks_only_the_host,
    an_unanswered_walkin_expires,
);

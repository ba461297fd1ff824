//! Push delivery against local fakes of FCM, Google OAuth and a Web Push service that check
//! credentials and decrypt every payload; on SQLite and on PostgreSQL.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::process::Process;
use common::{Backend, TestApp, assert_error, execute};
use gatebell_server::db::{self as store, Db};
use gatebell_testkit::{FakeFcm, FakeOAuth, FakeWebPush, FcmFailure, Outage, WebPushFailure};
use reqwest::Method;
use serde_json::{Value, json};

const PROJECT: &str = "gatebell-test";
const GUARD: &str = "guard@demo.gatebell";
const ASHA: &str = "asha@demo.gatebell";
const SERVICE_KEY: &str = "test-service-key-0123456789";

/// The fakes and the flags that point a server at them.
struct Fakes {
    oauth: FakeOAuth,
    fcm: FakeFcm,
    web: FakeWebPush,
    dir: tempfile::TempDir,
}

impl Fakes {
    async fn start() -> Fakes {
        let oauth = FakeOAuth::start().await;
        let fcm = FakeFcm::start(&oauth, PROJECT).await;
        let web = FakeWebPush::start().await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("fcm.json"),
            oauth.service_account_json(PROJECT),
        )
        .unwrap();
        Fakes {
            oauth,
            fcm,
            web,
            dir,
        }
    }

    fn flags(&self) -> Vec<String> {
        vec![
            "--fcm-credentials".into(),
            self.dir.path().join("fcm.json").display().to_string(),
            "--fcm-endpoint".into(),
            self.fcm.base_url(),
            "--push-allow-hosts".into(),
            "127.0.0.1".into(),
            "--push-allow-http".into(),
            "--service-key".into(),
            SERVICE_KEY.into(),
        ]
    }

    async fn app(&self, b: Backend, extra: &[&str]) -> TestApp {
        let mut flags = self.flags();
        flags.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
        let app = TestApp::start_with(b, &refs).await;
        app.pin_vapid_key(&self.web).await;
        app
    }
}

async fn register(app: &TestApp, token: &str, platform: &str) {
    let (s, v) = app
        .post(
            "/api/v1/notifications/register-device",
            token,
            json!({"token": platform_token(platform), "platform": platform}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

fn platform_token(platform: &str) -> String {
    format!("{platform}-device-token")
}

async fn walkin(app: &TestApp, guard: &str, host_id: &str, name: &str) -> String {
    let (s, v) = app
        .post(
            "/api/v1/visits/walkin",
            guard,
            json!({"visitorName": name, "hostId": host_id, "purpose": "delivery"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

async fn job_states(db: &Db) -> Vec<(String, String)> {
    const SQL: &str = "SELECT state, device_id FROM push_jobs ORDER BY created_at";
    match db.reader() {
        store::Backend::Sqlite(p) => sqlx::query_as(SQL).fetch_all(p).await.unwrap(),
        store::Backend::Postgres(p) => sqlx::query_as(SQL).fetch_all(p).await.unwrap(),
    }
}

/// Runs a `SELECT COUNT(*) ...` on the read side.
async fn count(db: &Db, sql: &'static str) -> i64 {
    match db.reader() {
        store::Backend::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        store::Backend::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

async fn device_count(db: &Db) -> i64 {
    count(db, "SELECT COUNT(*) FROM devices").await
}

async fn wait_until<F: AsyncFnMut() -> bool>(what: &str, timeout: Duration, mut f: F) {
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn walkin_reaches_every_device_with_the_expected_message(b: Backend) {
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &[]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    register(&app, &asha, "android").await;
    register(&app, &asha, "ios").await;
    let browser = fakes.web.new_subscription();
    app.register_browser(&asha, &browser).await;

    let visit = walkin(&app, &guard, &asha_id, "Ravi").await;
    fakes
        .fcm
        .wait_for(2, Duration::from_secs(10))
        .await
        .unwrap();
    fakes
        .web
        .wait_for(1, Duration::from_secs(10))
        .await
        .unwrap();

    let (_, inbox) = app.get("/api/v1/notifications", &asha).await;
    let notification_id = inbox["items"][0]["id"].as_str().unwrap();
    for platform in ["android", "ios"] {
        let got = fakes.fcm.delivered_for(&platform_token(platform));
        assert_eq!(got.len(), 1, "{platform}");
        let m = &got[0].message;
        let text = json!({"title": "Visitor at the gate", "body": "Ravi is at the gate (delivery). Approve or reject?"});
        let mut data = m["data"].clone();
        let data = data.as_object_mut().unwrap();
        let token = data
            .remove("actionToken")
            .expect("a walk-in's push carries an action token");
        assert!(token.as_str().is_some_and(|t| t.len() >= 32), "{token}");
        // The buttons' labels and the outcome lines, in the resident's language, for the
        // app that draws or answers it.
        let mut expected = json!({"type": "walkin_pending", "visitId": visit,
            "notificationId": notification_id, "approveTitle": "Approve", "rejectTitle": "Reject",
            "approved": "Approved — Ravi may enter", "rejected": "Rejected"});
        if platform == "android" {
            // Data-only: the app draws it with Approve / Reject (the text is in data).
            assert!(m.get("notification").is_none(), "{m}");
            assert!(m["android"].get("notification").is_none(), "{m}");
            assert!(m.get("apns").is_none(), "{m}");
            expected["title"] = text["title"].clone();
            expected["body"] = text["body"].clone();
            assert_eq!(m["android"]["priority"], "high");
            let ttl: u64 = m["android"]["ttl"]
                .as_str()
                .unwrap()
                .trim_end_matches('s')
                .parse()
                .unwrap();
            assert!(
                (170..=180).contains(&ttl),
                "walk-in TTL is 3 minutes: {ttl}"
            );
            assert_eq!(m["android"]["collapse_key"], format!("visit-{visit}"));
        } else {
            assert_eq!(m["notification"], text);
            assert!(m.get("android").is_none(), "{m}");
            assert_eq!(m["apns"]["headers"]["apns-priority"], "10");
            assert_eq!(m["apns"]["headers"]["apns-push-type"], "alert");
            assert_eq!(
                m["apns"]["headers"]["apns-collapse-id"],
                format!("visit-{visit}")
            );
            assert_eq!(m["apns"]["payload"]["aps"]["category"], "WALKIN_PENDING");
        }
        assert_eq!(Value::Object(data.clone()), expected);
        assert_eq!(got[0].version, reqwest::Version::HTTP_2);
    }
    let shown = fakes.web.delivered_for(&browser.id);
    assert_eq!(shown.len(), 1);
    let mut payload = shown[0].json().unwrap();
    let token = payload.as_object_mut().unwrap().remove("actionToken");
    assert!(token.is_some_and(|t| t.as_str().is_some_and(|t| t.len() >= 32)));
    assert_eq!(
        payload,
        json!({
            "gatebell": 1,
            "type": "walkin_pending",
            "visitId": visit,
            "notificationId": notification_id,
            "title": "Visitor at the gate",
            "body": "Ravi is at the gate (delivery). Approve or reject?",
            "tag": format!("visit-{visit}"),
            "actions": [{"action": "approve", "title": "Approve"}, {"action": "reject", "title": "Reject"}],
            "answers": {"approved": "Approved — Ravi may enter", "rejected": "Rejected"},
        })
    );
    assert_eq!(shown[0].urgency.as_deref(), Some("high"));
    assert!((170..=180).contains(&shown[0].ttl.unwrap()));
    assert_eq!(
        shown[0].topic.as_deref(),
        Some(visit.replace('-', "").as_str())
    );
    assert_eq!(
        shown[0].vapid_aud.as_deref(),
        Some(fakes.web.base_url().as_str()),
        "aud is the origin with its port"
    );

    wait_until("outcomes recorded", Duration::from_secs(5), async || {
        job_states(&app.state().db)
            .await
            .iter()
            .all(|(s, _)| s == "delivered")
    })
    .await;
    let (_, metrics) = {
        let r = app
            .http
            .get(format!("{}/metrics", app.url))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert!(
        metrics.contains(r#"gatebell_pushes_total{event="delivered",provider="fcm"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"gatebell_pushes_total{event="delivered",provider="webpush"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("gatebell_push_dispatch_seconds_bucket"));
    // One OAuth token serves every FCM message.
    assert_eq!(fakes.oauth.tokens_issued(), 1);
    app.stop().await;
}

async fn checkin_pushes_visitor_arrived_for_an_hour(b: Backend) {
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &[]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    register(&app, &asha, "android").await;
    let browser = fakes.web.new_subscription();
    app.register_browser(&asha, &browser).await;
    let (_, inv) = app
        .post("/api/v1/visits", &asha, json!({"visitorName": "Meera"}))
        .await;
    let (s, _) = app
        .post("/api/v1/visits/checkin", &guard, json!({"otp": inv["otp"]}))
        .await;
    assert_eq!(s, 200);
    fakes
        .fcm
        .wait_for(1, Duration::from_secs(10))
        .await
        .unwrap();
    fakes
        .web
        .wait_for(1, Duration::from_secs(10))
        .await
        .unwrap();
    let visit = inv["visit"]["id"].as_str().unwrap();
    let m = &fakes.fcm.delivered_for(&platform_token("android"))[0].message;
    assert_eq!(m["data"]["type"], "visitor_arrived");
    assert_eq!(m["data"]["visitId"], visit);
    assert_eq!(m["notification"]["body"], "Meera has checked in.");
    assert_eq!(m["android"]["notification"]["channel_id"], "visitors");
    assert!(m.get("apns").is_none());
    let shown = &fakes.web.delivered_for(&browser.id)[0];
    let p = shown.json().unwrap();
    assert_eq!(p["type"], "visitor_arrived");
    assert_eq!(p["body"], "Meera has checked in.");
    assert!(p.get("actions").is_none());
    assert!((3590..=3600).contains(&shown.ttl.unwrap()));
    app.stop().await;
}

async fn dead_tokens_are_pruned_and_never_retried(b: Backend) {
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &[]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    register(&app, &asha, "android").await;
    register(&app, &asha, "ios").await;
    let browser = fakes.web.new_subscription();
    app.register_browser(&asha, &browser).await;
    fakes
        .fcm
        .fail_token_with(&platform_token("android"), FcmFailure::Unregistered);
    fakes
        .fcm
        .fail_token_with(&platform_token("ios"), FcmFailure::InvalidToken);
    fakes
        .web
        .fail_subscription_with(&browser.id, WebPushFailure::Gone);

    walkin(&app, &guard, &asha_id, "Ravi").await;
    wait_until("devices pruned", Duration::from_secs(10), async || {
        device_count(&app.state().db).await == 0
    })
    .await;
    // Pruned is final: no row is left pending, so none can be tried again.
    wait_until("every job closed", Duration::from_secs(10), async || {
        count(
            &app.state().db,
            "SELECT COUNT(*) FROM push_jobs WHERE state = 'pending'",
        )
        .await
            == 0
    })
    .await;
    assert_eq!(fakes.fcm.received().len(), 2, "one attempt per FCM token");
    assert_eq!(fakes.web.received().len(), 1, "one attempt for the browser");
    assert!(
        job_states(&app.state().db)
            .await
            .iter()
            .all(|(s, _)| s == "pruned")
    );
    assert_error(
        &app.delete(
            "/api/v1/notifications/register-device",
            &asha,
            json!({"token": platform_token("android")}),
        )
        .await,
        404,
        "device_not_found",
    );

    // The next walk-in has nobody to push to: its request queues no push at all (the rows
    // are written in the walk-in's own transaction).
    walkin(&app, &guard, &asha_id, "Second").await;
    assert_eq!(
        count(&app.state().db, "SELECT COUNT(*) FROM push_jobs").await,
        3
    );
    assert_eq!(fakes.fcm.received().len() + fakes.web.received().len(), 3);
    app.stop().await;
}

async fn retry_after_is_honoured_then_delivered(b: Backend) {
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &[]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    register(&app, &asha, "android").await;
    let browser = fakes.web.new_subscription();
    app.register_browser(&asha, &browser).await;
    fakes.fcm.fail_token_with(
        &platform_token("android"),
        FcmFailure::Unavailable {
            retry_after_secs: Some(2),
            times: 1,
        },
    );
    fakes.web.fail_subscription_with(
        &browser.id,
        WebPushFailure::Unavailable {
            retry_after_secs: Some(2),
            times: 1,
        },
    );

    walkin(&app, &guard, &asha_id, "Ravi").await;
    fakes
        .fcm
        .wait_for(1, Duration::from_secs(10))
        .await
        .unwrap();
    fakes
        .web
        .wait_for(1, Duration::from_secs(10))
        .await
        .unwrap();
    for attempts in [
        fakes
            .fcm
            .received()
            .iter()
            .map(|r| (r.at, r.status))
            .collect::<Vec<_>>(),
        fakes
            .web
            .received()
            .iter()
            .map(|r| (r.at, r.status))
            .collect::<Vec<_>>(),
    ] {
        assert_eq!(attempts.len(), 2, "{attempts:?}");
        assert_eq!(attempts[0].1, 503);
        assert!(attempts[1].1 < 300);
        let gap = attempts[1].0 - attempts[0].0;
        assert!(
            gap >= Duration::from_millis(2000),
            "retried after {gap:?}, before Retry-After"
        );
    }
    wait_until("attempts recorded", Duration::from_secs(5), async || {
        let n: i64 = count(&app.state().db, "SELECT COUNT(*) FROM push_attempts").await;
        n == 4
    })
    .await;
    app.stop().await;
}

async fn a_moved_token_never_gets_the_previous_owners_pushes(b: Backend) {
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &[]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let bina = app.login("bina@demo.gatebell").await;
    let asha_id = app.resident_id(&guard, "asha").await;
    register(&app, &asha, "android").await;
    // Asha's push fails once and waits 2 s to be retried...
    fakes.fcm.fail_token_with(
        &platform_token("android"),
        FcmFailure::Unavailable {
            retry_after_secs: Some(2),
            times: 1,
        },
    );
    walkin(&app, &guard, &asha_id, "Ravi").await;
    // (`wait_for` counts deliveries; the first, refused try is only in `received`.)
    wait_until(
        "the first, refused try",
        Duration::from_secs(10),
        async || !fakes.fcm.received().is_empty(),
    )
    .await;
    // ...meanwhile the phone is signed in as Bina and registers the same token.
    register(&app, &bina, "android").await;
    wait_until(
        "the queued push is dropped",
        Duration::from_secs(10),
        async || {
            let states = job_states(&app.state().db).await;
            states.len() == 1 && states[0].0 == "pruned"
        },
    )
    .await;
    // Only the failed first try ever reached FCM: the retry was not sent to Bina's phone.
    let sent: Vec<u16> = fakes.fcm.received().iter().map(|r| r.status).collect();
    assert_eq!(sent, vec![503]);
    // Bina's own pushes do reach the phone.
    let bina_id = app.resident_id(&guard, "bina").await;
    walkin(&app, &guard, &bina_id, "Meera").await;
    fakes
        .fcm
        .wait_for(1, Duration::from_secs(10))
        .await
        .unwrap();
    let sent: Vec<u16> = fakes.fcm.received().iter().map(|r| r.status).collect();
    assert_eq!(sent, vec![503, 200]);
    app.stop().await;
}

async fn undeliverable_pushes_expire_with_their_ttl(b: Backend) {
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &["--walkin-ttl", "2"]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    register(&app, &asha, "android").await;
    fakes.fcm.fail_token_with(
        &platform_token("android"),
        FcmFailure::Unavailable {
            retry_after_secs: None,
            times: 1000,
        },
    );
    walkin(&app, &guard, &asha_id, "Ravi").await;
    wait_until("job expired", Duration::from_secs(10), async || {
        job_states(&app.state().db)
            .await
            .iter()
            .all(|(s, _)| s == "expired")
    })
    .await;
    let tries = fakes.fcm.received().len();
    assert!(tries >= 1, "it was tried");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(fakes.fcm.received().len(), tries, "no attempt after expiry");
    app.stop().await;
}

async fn internal_notify_needs_the_service_key_and_pushes(b: Backend) {
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &[]).await;
    let asha = app.login(ASHA).await;
    let me = app.get("/api/v1/me", &asha).await.1;
    register(&app, &asha, "android").await;
    let body = json!({"userId": me["id"], "type": "parcel_arrived", "title": "Parcel", "body": "A parcel is at the gate.", "ttlSeconds": 600});
    assert_error(
        &app.call(
            Method::POST,
            "/api/v1/internal/notify",
            None,
            Some(body.clone()),
        )
        .await,
        401,
        "unauthorized",
    );
    assert_error(
        &app.call(
            Method::POST,
            "/api/v1/internal/notify",
            Some("wrong-key-wrong-key"),
            Some(body.clone()),
        )
        .await,
        401,
        "unauthorized",
    );
    let (s, v) = app
        .call(
            Method::POST,
            "/api/v1/internal/notify",
            Some(SERVICE_KEY),
            Some(body),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["devices"], 1);
    fakes
        .fcm
        .wait_for(1, Duration::from_secs(10))
        .await
        .unwrap();
    let m = &fakes.fcm.delivered_for(&platform_token("android"))[0].message;
    assert_eq!(m["data"]["type"], "parcel_arrived");
    // The notice's own TTL (600 s), less the moment it waited, not the default of a day.
    let ttl: u64 = m["android"]["ttl"]
        .as_str()
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no TTL in {m}"));
    assert!((540..=600).contains(&ttl), "TTL {ttl}s, sent 600");
    assert_eq!(
        app.get("/api/v1/notifications", &asha).await.1["items"][0]["type"],
        "parcel_arrived"
    );
    let bad = json!({"userId": "nobody", "type": "x", "title": "t", "body": "b"});
    assert_error(
        &app.call(
            Method::POST,
            "/api/v1/internal/notify",
            Some(SERVICE_KEY),
            Some(bad),
        )
        .await,
        422,
        "validation",
    );
    let huge = json!({"userId": me["id"], "type": "x", "title": "t", "body": "b".repeat(1001)});
    assert_error(
        &app.call(
            Method::POST,
            "/api/v1/internal/notify",
            Some(SERVICE_KEY),
            Some(huge),
        )
        .await,
        422,
        "validation",
    );
    app.stop().await;
}

/// Registers `n` Android devices for the user of `token`, each with its own FCM token.
async fn register_phones(app: &TestApp, token: &str, n: usize) {
    for i in 0..n {
        let (s, v) = app
            .post(
                "/api/v1/notifications/register-device",
                token,
                json!({"token": format!("phone-{i}-token"), "platform": "android"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
}

async fn a_failing_token_endpoint_holds_back_no_web_push(b: Backend) {
    for outage in [Outage::Hang, Outage::Refuse] {
        let fakes = Fakes::start().await;
        // Two send slots: FCM sends stuck on the token endpoint would fill a shared budget.
        let app = fakes.app(b, &["--push-concurrency", "2"]).await;
        let guard = app.login(GUARD).await;
        let asha = app.login(ASHA).await;
        let asha_id = app.resident_id(&guard, "asha").await;
        register_phones(&app, &asha, 6).await;
        let browser = fakes.web.new_subscription();
        app.register_browser(&asha, &browser).await;
        fakes.oauth.set_outage(outage);

        walkin(&app, &guard, &asha_id, "Ravi").await;
        walkin(&app, &guard, &asha_id, "Sita").await;
        fakes
            .web
            .wait_for(2, Duration::from_secs(20))
            .await
            .unwrap_or_else(|_| panic!("{outage:?}: no Web Push"));
        if outage == Outage::Hang {
            // With a shared budget the browser's pushes could go only once FCM's sends, stuck
            // on the token endpoint, gave up at its timeout, 5 s after the first token request.
            let asked = fakes
                .oauth
                .first_request_at()
                .expect("FCM asked for a token");
            let delivered = fakes.web.delivered_for(&browser.id);
            let last = delivered.iter().map(|d| d.at).max().expect("delivered");
            assert!(
                last < asked + Duration::from_secs(5),
                "Web Push waited for FCM's token endpoint"
            );
        }
        // FCM's jobs are retried, never pruned or failed: the key may be fixed in time.
        wait_until(
            "FCM attempts recorded",
            Duration::from_secs(20),
            async || {
                count(
                    &app.state().db,
                    "SELECT COUNT(*) FROM push_attempts WHERE provider = 'fcm'",
                )
                .await
                    >= 2
            },
        )
        .await;
        assert_eq!(fakes.fcm.received().len(), 0);
        assert_eq!(device_count(&app.state().db).await, 7);
        assert_eq!(
            count(
                &app.state().db,
                "SELECT COUNT(*) FROM push_jobs WHERE state <> 'pending' AND device_id IN
                 (SELECT id FROM devices WHERE platform = 'android')",
            )
            .await,
            0
        );
        app.stop().await;
    }
}

async fn shutdown_hands_back_sends_a_provider_never_answers(b: Backend) {
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &["--shutdown-grace", "1"]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    register(&app, &asha, "android").await;
    fakes.fcm.set_response_delay(Duration::from_secs(60));
    walkin(&app, &guard, &asha_id, "Ravi").await;
    wait_until(
        "the send is in flight",
        Duration::from_secs(10),
        async || {
            count(
                &app.state().db,
                "SELECT COUNT(*) FROM push_jobs WHERE claim IS NOT NULL",
            )
            .await
                == 1
        },
    )
    .await;

    let mut app = app;
    let server = app.server.take().unwrap();
    let stopping = Instant::now();
    server.shutdown().await;
    // A figure for the log, not a claim: the grace period (1 s) plus closing.
    println!("shutdown took {:?}", stopping.elapsed());
    // The row is handed back: pending, unclaimed, due now rather than when the lease ends, and
    // with no outcome: the send was abandoned at the grace period, not ended by the client's
    // own timeout (10 s), which would have recorded an attempt and a retry time.
    let db = Db::connect(&app.database_url).await.unwrap();
    let now = store::now_ms();
    const SQL: &str = "SELECT state, claim, due_at, last_error FROM push_jobs";
    let rows: Vec<(String, Option<String>, i64, Option<String>)> = match db.reader() {
        store::Backend::Sqlite(p) => sqlx::query_as(SQL).fetch_all(p).await.unwrap(),
        store::Backend::Postgres(p) => sqlx::query_as(SQL).fetch_all(p).await.unwrap(),
    };
    assert_eq!(rows.len(), 1);
    let (state, claim, due, error) = &rows[0];
    assert_eq!((state.as_str(), claim.as_deref()), ("pending", None));
    assert!(*due <= now, "due {} ms from now", due - now);
    assert_eq!(error.as_deref(), None);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM push_attempts").await, 0);
    db.close().await;
}

async fn pruning_stops_when_most_answers_say_gone(b: Backend) {
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &[]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    // A push service that answers 410 to everything (a proxy or a misconfiguration), not
    // fifteen browsers that all went away at once.
    for _ in 0..15 {
        let browser = fakes.web.new_subscription();
        fakes
            .web
            .fail_subscription_with(&browser.id, WebPushFailure::Gone);
        app.register_browser(&asha, &browser).await;
    }
    walkin(&app, &guard, &asha_id, "Ravi").await;
    wait_until(
        "every browser answered",
        Duration::from_secs(10),
        async || fakes.web.received().len() == 15,
    )
    .await;
    wait_until("outcomes recorded", Duration::from_secs(10), async || {
        count(&app.state().db, "SELECT COUNT(*) FROM push_attempts").await == 15
    })
    .await;
    // The breaker opens at the tenth answer: nine devices went, six are kept and retried.
    assert_eq!(device_count(&app.state().db).await, 6);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("gatebell_push_pruning_suspended{provider=\"webpush\"} 1"),
        "{metrics}"
    );
    app.stop().await;
}

async fn logout(app: &TestApp, token: &str, path: &str) {
    let (s, v) = app.call(Method::POST, path, Some(token), None).await;
    assert_eq!(s, 204, "{v}");
}

async fn logout_without_unregistering_ends_delivery_to_that_sessions_devices(b: Backend) {
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &[]).await;
    let guard = app.login(GUARD).await;
    let laptop = app.login(ASHA).await;
    let phone = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    let laptop_browser = fakes.web.new_subscription();
    app.register_browser(&laptop, &laptop_browser).await;
    let phone_browser = fakes.web.new_subscription();
    app.register_browser(&phone, &phone_browser).await;
    // A browser registered under the laptop's session and then again under the phone's belongs
    // to the phone's session: the laptop's logout must not drop it.
    let moved_browser = fakes.web.new_subscription();
    app.register_browser(&laptop, &moved_browser).await;
    app.register_browser(&phone, &moved_browser).await;

    // The laptop signs out; its unregister call never reaches the server (the network cut).
    logout(&app, &laptop, "/api/v1/auth/logout").await;
    assert_eq!(device_count(&app.state().db).await, 2);

    walkin(&app, &guard, &asha_id, "Ravi").await;
    fakes
        .web
        .wait_for(2, Duration::from_secs(10))
        .await
        .unwrap();
    // Every push of the walk-in sent or closed: a wrong delivery would have happened.
    common::pushes_settled(&app.state().db).await;
    assert!(fakes.web.delivered_for(&laptop_browser.id).is_empty());
    assert_eq!(fakes.web.received().len(), 2);
    assert_eq!(fakes.web.delivered_for(&phone_browser.id).len(), 1);
    assert_eq!(fakes.web.delivered_for(&moved_browser.id).len(), 1);
    app.stop().await;
}

/// Asha's browser whose first push (a walk-in) was refused with a 2 s `Retry-After`: its
/// retry is queued when this returns. Gives the fakes, the app and Asha's session token.
async fn a_retry_waiting(b: Backend) -> (Fakes, TestApp, String) {
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &[]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    let browser = fakes.web.new_subscription();
    app.register_browser(&asha, &browser).await;
    fakes.web.fail_subscription_with(
        &browser.id,
        WebPushFailure::Unavailable {
            retry_after_secs: Some(2),
            times: 1,
        },
    );
    walkin(&app, &guard, &asha_id, "Ravi").await;
    wait_until(
        "the first, refused try",
        Duration::from_secs(10),
        async || !fakes.web.received().is_empty(),
    )
    .await;
    (fakes, app, asha)
}

async fn logout_cancels_the_sessions_queued_pushes(b: Backend) {
    // The first try is refused and the retry waits 2 s...
    let (fakes, app, asha) = a_retry_waiting(b).await;
    // ...and meanwhile every session of Asha's ends.
    logout(&app, &asha, "/api/v1/auth/logout-all").await;
    let states = job_states(&app.state().db).await;
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].0, "pruned", "cancelled at logout");
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(fakes.web.received().len(), 1, "the retry was never sent");
    assert_eq!(device_count(&app.state().db).await, 0);
    app.stop().await;
}

async fn a_device_of_an_expired_session_gets_no_push(b: Backend) {
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &[]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    let browser = fakes.web.new_subscription();
    app.register_browser(&asha, &browser).await;
    let arjun = app.login("arjun@demo.gatebell").await;
    let other = fakes.web.new_subscription();
    app.register_browser(&arjun, &other).await;
    // Asha's session runs out (no cleanup has run yet).
    execute(
        &app.state().db,
        "UPDATE sessions SET expires_at = 1 WHERE user_id IN (SELECT id FROM users WHERE email = 'asha@demo.gatebell')",
    )
    .await;
    // Each walk-in asks its host only, so each device has one push it should get or not.
    execute(&app.state().db, "UPDATE units SET notify = 'host'").await;
    walkin(&app, &guard, &asha_id, "Ravi").await;
    let arjun_id = app.resident_id(&guard, "arjun").await;
    walkin(&app, &guard, &arjun_id, "Meera").await;
    fakes
        .web
        .wait_for(1, Duration::from_secs(10))
        .await
        .unwrap();
    common::pushes_settled(&app.state().db).await;
    assert!(fakes.web.delivered_for(&browser.id).is_empty());
    assert_eq!(fakes.web.delivered_for(&other.id).len(), 1);
    app.stop().await;
}

async fn a_queued_push_is_dropped_when_its_session_expires(b: Backend) {
    let (fakes, app, _asha) = a_retry_waiting(b).await;
    // The session runs out while the retry waits (no cleanup has run).
    execute(&app.state().db, "UPDATE sessions SET expires_at = 1").await;
    wait_until(
        "the queued push is dropped",
        Duration::from_secs(10),
        async || {
            let states = job_states(&app.state().db).await;
            states.len() == 1 && states[0].0 == "pruned"
        },
    )
    .await;
    assert_eq!(fakes.web.received().len(), 1, "the retry was never sent");
    assert_eq!(device_count(&app.state().db).await, 0);
    app.stop().await;
}

async fn with_keys_fcm_sees_no_visitor_name_and_the_device_decrypts_the_payload(b: Backend) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let fakes = Fakes::start().await;
    let app = fakes.app(b, &[]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    let private = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let auth = [9u8; 16];
    let keys = json!({
        "p256dh": b64.encode(private.public_key().to_sec1_bytes()),
        "auth": b64.encode(auth),
    });
    for platform in ["android", "ios"] {
        let (s, v) = app
            .post(
                "/api/v1/notifications/register-device",
                &asha,
                json!({"token": platform_token(platform), "platform": platform, "keys": keys}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    // Malformed keys are refused, and a web device's keys belong in its subscription.
    let (s, v) = app
        .post(
            "/api/v1/notifications/register-device",
            &asha,
            json!({"token": "x", "platform": "android", "keys": {"p256dh": "AAAA", "auth": "AAAA"}}),
        )
        .await;
    assert_eq!(s, 422, "{v}");

    let visit = walkin(&app, &guard, &asha_id, "Ravi").await;
    fakes
        .fcm
        .wait_for(2, Duration::from_secs(10))
        .await
        .unwrap();
    for platform in ["android", "ios"] {
        let got = fakes.fcm.delivered_for(&platform_token(platform));
        assert_eq!(got.len(), 1, "{platform}");
        let m = &got[0].message;
        let text = m.to_string();
        // The visit id still names the collapse key; the name, purpose and token are gone.
        for secret in ["Ravi", "delivery", "actionToken"] {
            assert!(!text.contains(secret), "{platform}: {secret} in {text}");
        }
        let data = m["data"].as_object().unwrap();
        assert_eq!(data.keys().collect::<Vec<_>>(), ["encrypted"], "{platform}");
        let body = b64.decode(data["encrypted"].as_str().unwrap()).unwrap();
        let plain = gatebell_testkit::decrypt_aes128gcm(&body, &private.to_bytes(), &auth).unwrap();
        let p: Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(p["type"], "walkin_pending");
        assert_eq!(p["visitId"], visit.as_str());
        assert_eq!(
            p["body"],
            "Ravi is at the gate (delivery). Approve or reject?"
        );
        assert!(p["actionToken"].is_string());
        if platform == "android" {
            assert!(m.get("notification").is_none());
        } else {
            assert_eq!(m["notification"]["body"], "A visitor is at the gate");
            assert_eq!(m["apns"]["payload"]["aps"]["mutable-content"], 1);
            assert_eq!(m["apns"]["payload"]["aps"]["category"], "WALKIN_PENDING");
        }
    }
    app.stop().await;
}

on_both_backends!(
    with_keys_fcm_sees_no_visitor_name_and_the_device_decrypts_the_payload,
    walkin_reaches_every_device_with_the_expected_message,
    checkin_pushes_visitor_arrived_for_an_hour,
    dead_tokens_are_pruned_and_never_retried,
    retry_after_is_honoured_then_delivered,
    a_moved_token_never_gets_the_previous_owners_pushes,
    undeliverable_pushes_expire_with_their_ttl,
    internal_notify_needs_the_service_key_and_pushes,
    killed_server_delivers_every_row_after_restart,
    a_failing_token_endpoint_holds_back_no_web_push,
    shutdown_hands_back_sends_a_provider_never_answers,
    pruning_stops_when_most_answers_say_gone,
    logout_without_unregistering_ends_delivery_to_that_sessions_devices,
    logout_cancels_the_sessions_queued_pushes,
    a_device_of_an_expired_session_gets_no_push,
    a_queued_push_is_dropped_when_its_session_expires,
);

// ------------------------------------------------------------------------------------------
// Real processes: a crash, and two instances sharing one PostgreSQL database.

/// A client of a [`Process`] and its database.
fn client(p: &Process, database_url: &str) -> ProcessClient {
    ProcessClient {
        url: p.url.clone(),
        http: reqwest::Client::new(),
        database_url: database_url.to_owned(),
    }
}

struct ProcessClient {
    url: String,
    http: reqwest::Client,
    database_url: String,
}

impl ProcessClient {
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut r = self.http.post(format!("{}{}", self.url, path)).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        let s = resp.status().as_u16();
        (s, resp.json().await.unwrap_or(Value::Null))
    }

    async fn login(&self, email: &str) -> String {
        let (_, v) = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": "gatebell-demo"}),
            )
            .await;
        v["token"].as_str().unwrap().to_owned()
    }

    async fn db(&self) -> Db {
        Db::connect(&self.database_url).await.unwrap()
    }
}

async fn killed_server_delivers_every_row_after_restart(b: Backend) {
    let fakes = Fakes::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(b, dir.path()).await;
    let mut flags = fakes.flags();
    flags.extend(["--claim-lease-ms".to_string(), "1500".to_string()]);

    // The provider hangs: rows are claimed and in flight when the process dies.
    fakes.fcm.set_response_delay(Duration::from_secs(30));
    let first = Process::spawn(&url, &flags);
    let c = client(&first, &url);
    let guard = c.login(GUARD).await;
    let asha = c.login(ASHA).await;
    let (_, me) = c
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": ASHA, "password": "gatebell-demo"}),
        )
        .await;
    let asha_id = me["user"]["id"].as_str().unwrap().to_owned();
    for i in 0..3 {
        let (s, _) = c
            .post(
                "/api/v1/notifications/register-device",
                Some(&asha),
                json!({"token": format!("phone-{i}"), "platform": "android"}),
            )
            .await;
        assert_eq!(s, 200);
    }
    let mut visits = HashSet::new();
    for i in 0..5 {
        let (s, v) = c
            .post(
                "/api/v1/visits/walkin",
                Some(&guard),
                json!({"visitorName": format!("V{i}"), "hostId": asha_id, "purpose": "p"}),
            )
            .await;
        assert_eq!(s, 201);
        visits.insert(v["id"].as_str().unwrap().to_owned());
    }
    let db = c.db().await;
    wait_until("rows claimed", Duration::from_secs(10), async || {
        let n: i64 = count(
            &db,
            "SELECT COUNT(*) FROM push_jobs WHERE claim IS NOT NULL",
        )
        .await;
        n == 15
    })
    .await;
    first.kill();
    let undelivered: i64 = count(
        &db,
        "SELECT COUNT(*) FROM push_jobs WHERE state = 'pending'",
    )
    .await;
    assert_eq!(undelivered, 15);

    fakes.fcm.set_response_delay(Duration::ZERO);
    let second = Process::spawn(&url, &flags);
    wait_until(
        "every row delivered after the restart",
        Duration::from_secs(20),
        async || {
            let n: i64 = count(
                &db,
                "SELECT COUNT(*) FROM push_jobs WHERE state = 'delivered'",
            )
            .await;
            n == 15
        },
    )
    .await;
    // Every (visit, phone) pair reached FCM.
    let mut pairs = HashSet::new();
    for r in fakes.fcm.received().iter().filter(|r| r.status == 200) {
        pairs.insert((
            r.token.clone(),
            r.message["data"]["visitId"].as_str().unwrap().to_owned(),
        ));
    }
    for v in &visits {
        for i in 0..3 {
            assert!(
                pairs.contains(&(format!("phone-{i}"), v.clone())),
                "phone-{i} missed visit {v}"
            );
        }
    }
    db.close().await;
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_deliver_each_push_exactly_once() {
    let fakes = Fakes::start().await;
    let url = common::pg::fresh_database().await;
    let flags = fakes.flags();
    // Migrate and seed once, then start both.
    Db::connect(&url).await.unwrap().close().await;
    let a = Process::spawn(&url, &flags);
    let b = Process::spawn(&url, &flags);
    let (ca, cb) = (client(&a, &url), client(&b, &url));
    let asha = ca.login(ASHA).await;
    let (_, me) = ca
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": ASHA, "password": "gatebell-demo"}),
        )
        .await;
    let asha_id = me["user"]["id"].as_str().unwrap().to_owned();
    const DEVICES: usize = 10;
    const NOTIFICATIONS: usize = 100;
    for i in 0..DEVICES {
        let (s, _) = ca
            .post(
                "/api/v1/notifications/register-device",
                Some(&asha),
                json!({"token": format!("phone-{i}"), "platform": "android"}),
            )
            .await;
        assert_eq!(s, 200);
    }
    // 100 notifications x 10 devices = 1 000 pushes, requested through both instances.
    let mut tasks = Vec::new();
    for i in 0..NOTIFICATIONS {
        let c = if i % 2 == 0 { &ca } else { &cb };
        let body = json!({"userId": asha_id, "type": "visitor_arrived", "title": "Visitor", "body": format!("n{i}")});
        tasks.push(c.post("/api/v1/internal/notify", Some(SERVICE_KEY), body));
    }
    for (s, v) in futures::future::join_all(tasks).await {
        assert_eq!(s, 202, "{v}");
    }
    fakes
        .fcm
        .wait_for(DEVICES * NOTIFICATIONS, Duration::from_secs(60))
        .await
        .unwrap();
    // Every row closed: a row sent twice (claimed twice) would have been sent by then.
    let db = gatebell_server::db::Db::connect(&url).await.unwrap();
    common::pushes_settled(&db).await;
    db.close().await;
    let received = fakes.fcm.received();
    let mut seen = HashSet::new();
    for r in &received {
        let n = r.message["data"]["notificationId"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            seen.insert((r.token.clone(), n)),
            "sent twice: {} {:?}",
            r.token,
            r.message
        );
    }
    assert_eq!(received.len(), DEVICES * NOTIFICATIONS);
    // Both instances sent: each keeps at most 4 HTTP/2 connections to FCM.
    assert!(
        fakes.fcm.connections() > 4,
        "only one instance sent ({} connections)",
        fakes.fcm.connections()
    );
    drop((a, b));
}

/// A VAPID key rotation: with the old key kept as `--vapid-previous-private-key`, a browser
/// that subscribed under it still gets its pushes (refused under the new key, sent again under
/// the old); once the old key is dropped, the push service's 403 prunes the device instead of
/// failing it forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_vapid_key_serves_old_subscriptions_through_the_grace_then_prunes_them() {
    use gatebell_server::channels::webpush::VapidKeys;
    let (old, new) = (VapidKeys::generate(), VapidKeys::generate());
    let push = FakeWebPush::start().await;
    // The browser subscribed with the old key as its applicationServerKey.
    push.expect_vapid_key(&old.public_key);
    let db_dir = tempfile::tempdir().unwrap();
    let url = common::database_url(Backend::Sqlite, db_dir.path()).await;
    let base = ["--push-allow-hosts", "127.0.0.1", "--push-allow-http"];
    let mut during = base.to_vec();
    during.extend(["--vapid-private-key", &new.private_key]);
    during.extend(["--vapid-previous-private-key", &old.private_key]);
    let app = TestApp::start_on(tempfile::tempdir().unwrap(), url.clone(), &during).await;
    let (_, k) = app
        .call(
            Method::GET,
            "/api/v1/notifications/vapid-public-key",
            None,
            None,
        )
        .await;
    assert_eq!(
        k["publicKey"],
        new.public_key.as_str(),
        "clients are given the new key"
    );
    let asha = app.login(ASHA).await;
    let browser = push.new_subscription();
    app.register_browser(&asha, &browser).await;
    let guard = app.login(GUARD).await;
    let host = app.resident_id(&guard, "asha").await;
    let walkin = json!({"visitorName": "Ravi", "hostId": host, "purpose": "parcel"});
    let (s, v) = app
        .post("/api/v1/visits/walkin", &guard, walkin.clone())
        .await;
    assert_eq!(s, 201, "{v}");
    push.wait_for(1, Duration::from_secs(10)).await.unwrap();
    let statuses: Vec<u16> = push.received().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [403, 201],
        "refused under the new key, taken under the old"
    );
    app.stop().await;

    // The grace is over: the old key is gone, and so is the device that never re-subscribed.
    let mut after = base.to_vec();
    after.extend(["--vapid-private-key", &new.private_key]);
    let app = TestApp::start_on(tempfile::tempdir().unwrap(), url, &after).await;
    let guard = app.login(GUARD).await;
    let (s, v) = app.post("/api/v1/visits/walkin", &guard, walkin).await;
    assert_eq!(s, 201, "{v}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::scalar(&app.state().db, "SELECT COUNT(*) FROM devices").await > 0 {
        assert!(Instant::now() < deadline, "the device was not pruned");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(push.received().last().unwrap().status, 403);
    let pruned = common::scalar(
        &app.state().db,
        "SELECT COUNT(*) FROM push_jobs WHERE state = 'pruned'",
    )
    .await;
    assert_eq!(pruned, 1);
    app.stop().await;
}

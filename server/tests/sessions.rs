//! Sessions over a real socket, on SQLite and on PostgreSQL: listing and ending them, what ends
//! with them (event streams), the per-user stream cap, cleanup of expired sessions, and the
//! retention purge.

mod common;

use common::{Backend, TestApp, assert_error, execute, scalar};
use gatebell_server::db::now_ms;
use gatebell_server::domain::sessions::hash_token;
use reqwest::{Method, StatusCode};
use serde_json::json;

const ASHA: &str = "asha@demo.gatebell";
const ARJUN: &str = "arjun@demo.gatebell";
const GUARD: &str = "guard@demo.gatebell";
const SERVICE_KEY: &str = "test-service-key-0123456789";

async fn post_empty(app: &TestApp, path: &str, token: &str) -> (StatusCode, serde_json::Value) {
    app.call(Method::POST, path, Some(token), None).await
}

/// Adds a session for Asha with a known token that expires at `expires_at`.
async fn asha_session(app: &TestApp, token: &str, expires_at: i64) {
    let sql = format!(
        "INSERT INTO sessions (token_hash, id, user_id, created_at, expires_at)
         SELECT '{}', 'sid-{}', id, 1, {expires_at} FROM users WHERE email = '{ASHA}'",
        hash_token(token),
        &hash_token(token)[..8],
    );
    execute(&app.state().db, &sql).await;
}

async fn sessions_list_the_callers_own_sessions_without_tokens(b: Backend) {
    let app = TestApp::start(b).await;
    let first = app.login(ASHA).await;
    let second = app.login(ASHA).await;
    let _arjun = app.login(ARJUN).await;
    let (s, list) = app.get("/api/v1/auth/sessions", &second).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 2, "only Asha's: {list}");
    let current: Vec<_> = items.iter().filter(|i| i["current"] == true).collect();
    assert_eq!(current.len(), 1, "{list}");
    for i in items {
        assert!(i["id"].as_str().is_some_and(|id| !id.is_empty()), "{list}");
        assert!(i["createdAt"].as_i64().unwrap() > 0);
        assert!(i["expiresAt"].as_i64().unwrap() > i["createdAt"].as_i64().unwrap());
        assert!(i["lastUsedAt"].as_i64().is_some(), "{list}");
    }
    let text = list.to_string();
    for t in [&first, &second] {
        assert!(!text.contains(t.as_str()), "a token leaked: {text}");
        assert!(
            !text.contains(&hash_token(t)),
            "a token hash leaked: {text}"
        );
    }
    // The other session sees itself as current.
    let (_, other) = app.get("/api/v1/auth/sessions", &first).await;
    let other_current = other
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["current"] == true)
        .unwrap();
    assert_ne!(other_current["id"], current[0]["id"]);
    app.stop().await;
}

async fn logout_all_ends_every_session_of_the_caller_only(b: Backend) {
    let app = TestApp::start(b).await;
    let first = app.login(ASHA).await;
    let second = app.login(ASHA).await;
    let arjun = app.login(ARJUN).await;
    let (s, v) = post_empty(&app, "/api/v1/auth/logout-all", &first).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    for t in [&first, &second] {
        assert_error(&app.get("/api/v1/me", t).await, 401, "unauthorized");
    }
    assert_eq!(app.get("/api/v1/me", &arjun).await.0, StatusCode::OK);
    app.stop().await;
}

async fn an_open_stream_ends_when_its_session_logs_out(b: Backend) {
    let app = TestApp::start(b).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let other = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    let mut stream = app.events(&asha).await;
    let mut kept = app.events(&other).await;
    let (s, _) = post_empty(&app, "/api/v1/auth/logout", &asha).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    stream.next_event("session_ended").await;
    stream.ends().await;
    // The session that is still signed in keeps hearing about Asha's visitors.
    let (s, v) = app
        .post(
            "/api/v1/visits/walkin",
            &guard,
            json!({"visitorName": "Ravi", "hostId": asha_id, "purpose": "delivery"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    kept.next_event("inbox").await;
    app.stop().await;
}

async fn an_open_stream_ends_with_logout_all(b: Backend) {
    let app = TestApp::start(b).await;
    let first = app.login(ASHA).await;
    let second = app.login(ASHA).await;
    let mut stream = app.events(&first).await;
    let (s, _) = post_empty(&app, "/api/v1/auth/logout-all", &second).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    stream.next_event("session_ended").await;
    stream.ends().await;
    app.stop().await;
}

async fn an_open_stream_ends_when_its_session_expires(b: Backend) {
    let app = TestApp::start(b).await;
    let token = "a-session-that-expires-in-a-moment";
    asha_session(&app, token, now_ms() + 1500).await;
    let mut stream = app.events(token).await;
    stream.next_event("session_ended").await;
    stream.ends().await;
    assert_error(&app.get("/api/v1/me", token).await, 401, "unauthorized");
    app.stop().await;
}

async fn streams_per_user_are_capped_with_429(b: Backend) {
    let app = TestApp::start_with(b, &["--max-streams-per-user", "2"]).await;
    let laptop = app.login(ASHA).await;
    let phone = app.login(ASHA).await;
    let mut a = app.events(&laptop).await;
    let mut b2 = app.events(&laptop).await;
    let refused = app
        .try_events(&phone)
        .await
        .err()
        .expect("a third stream is refused");
    assert_error(&refused, 429, "rate_limited");
    // Another user is not affected.
    let arjun = app.login(ARJUN).await;
    let _arjun_stream = app.events(&arjun).await;
    // The laptop's streams end with its session, which frees their slots.
    let (s, _) = post_empty(&app, "/api/v1/auth/logout", &laptop).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    a.ends().await;
    b2.ends().await;
    let _phone_stream = app.events(&phone).await;
    app.stop().await;
}

async fn expired_sessions_are_cleaned_up_with_their_devices(b: Backend) {
    let app = TestApp::start(b).await;
    let live = app.login(ASHA).await;
    let expired = "an-expired-session-token";
    asha_session(&app, expired, now_ms() + 60_000).await;
    for (token, device) in [(expired, "old-phone"), (live.as_str(), "new-phone")] {
        let (s, v) = app
            .post(
                "/api/v1/notifications/register-device",
                token,
                json!({"token": device, "platform": "android"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    execute(
        &app.state().db,
        &format!(
            "UPDATE sessions SET expires_at = 1 WHERE token_hash = '{}'",
            hash_token(expired)
        ),
    )
    .await;
    // A device registered as its session was being logged out is left without a session.
    execute(
        &app.state().db,
        "INSERT INTO devices (id, token, platform, user_id, created_at, updated_at, last_seen_at, session_hash)
         SELECT 'orphan', 'orphan-phone', 'android', id, 1, 1, 1, 'no-such-session' FROM users
         WHERE email = 'asha@demo.gatebell'",
    )
    .await;
    let swept = gatebell_server::jobs::housekeeping::run_once(app.state())
        .await
        .unwrap();
    assert_eq!(swept.sessions, 1);
    assert_eq!(swept.orphan_devices, 1);
    let db = &app.state().db;
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM sessions WHERE expires_at = 1").await,
        0
    );
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM devices WHERE token = 'old-phone'").await,
        0
    );
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM devices WHERE token = 'new-phone'").await,
        1
    );
    assert_eq!(app.get("/api/v1/me", &live).await.0, StatusCode::OK);
    app.stop().await;
}

/// A walk-in for Asha with her phone registered (FCM is not configured, so its push fails at
/// once): one visit, one notification, one outbox row and one attempt, once all are closed.
async fn walkin_with_push_rows(app: &TestApp, guard: &str, name: &str) -> String {
    // The host alone is asked: one notification and one push row per walk-in.
    execute(&app.state().db, "UPDATE units SET notify = 'host'").await;
    let asha_id = app.resident_id(guard, "asha").await;
    let (s, v) = app
        .post(
            "/api/v1/visits/walkin",
            guard,
            json!({"visitorName": name, "hostId": asha_id, "purpose": "delivery"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let db = &app.state().db;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while scalar(db, "SELECT COUNT(*) FROM push_jobs WHERE state = 'pending'").await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the push was not tried"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    v["id"].as_str().unwrap().to_owned()
}

async fn retention_counts(app: &TestApp) -> [i64; 4] {
    let db = &app.state().db;
    [
        scalar(db, "SELECT COUNT(*) FROM visits").await,
        scalar(db, "SELECT COUNT(*) FROM notifications").await,
        scalar(db, "SELECT COUNT(*) FROM push_jobs").await,
        scalar(db, "SELECT COUNT(*) FROM push_attempts").await,
    ]
}

/// Makes everything in the database 100 days old.
async fn age_everything(app: &TestApp) {
    let db = &app.state().db;
    let old = now_ms() - 100 * 24 * 3600 * 1000;
    for table in ["visits", "notifications", "push_jobs"] {
        execute(db, &format!("UPDATE {table} SET created_at = {old}")).await;
    }
    execute(db, &format!("UPDATE push_attempts SET at = {old}")).await;
}

async fn retention_purges_rows_older_than_its_days_only(b: Backend) {
    let app = TestApp::start_with(b, &["--retention-days", "90"]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let (s, v) = app
        .post(
            "/api/v1/notifications/register-device",
            &asha,
            json!({"token": "asha-phone", "platform": "android"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let old = walkin_with_push_rows(&app, &guard, "Old visitor").await;
    age_everything(&app).await;
    assert_eq!(retention_counts(&app).await, [1, 1, 1, 1]);
    let fresh = walkin_with_push_rows(&app, &guard, "New visitor").await;
    gatebell_server::jobs::housekeeping::run_once(app.state())
        .await
        .unwrap();
    let db = &app.state().db;
    assert_eq!(
        scalar(
            db,
            &format!("SELECT COUNT(*) FROM visits WHERE id = '{old}'")
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            db,
            &format!("SELECT COUNT(*) FROM visits WHERE id = '{fresh}'")
        )
        .await,
        1
    );
    let [visits, notifications, jobs, attempts] = retention_counts(&app).await;
    assert_eq!((visits, notifications, jobs, attempts), (1, 1, 1, 1));
    assert_eq!(
        app.get(&format!("/api/v1/visits/{fresh}"), &asha).await.0,
        200
    );
    app.stop().await;
}

async fn retention_of_zero_days_keeps_everything(b: Backend) {
    let app = TestApp::start_with(b, &["--retention-days", "0"]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let (s, _) = app
        .post(
            "/api/v1/notifications/register-device",
            &asha,
            json!({"token": "asha-phone", "platform": "android"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    walkin_with_push_rows(&app, &guard, "Old visitor").await;
    age_everything(&app).await;
    gatebell_server::jobs::housekeeping::run_once(app.state())
        .await
        .unwrap();
    assert_eq!(retention_counts(&app).await, [1, 1, 1, 1]);
    app.stop().await;
}

async fn put_disabled(
    app: &TestApp,
    user_id: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    app.call(
        Method::PUT,
        &format!("/api/v1/internal/users/{user_id}/disabled"),
        Some(SERVICE_KEY),
        Some(body),
    )
    .await
}

async fn a_disabled_account_cannot_sign_in_and_its_sessions_stop(b: Backend) {
    let app = TestApp::start_with(b, &["--service-key", SERVICE_KEY]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    // The internal API names the users the backend manages by its own ids.
    execute(
        &app.state().db,
        "UPDATE users SET external_id = 'ext-asha' WHERE email = 'asha@demo.gatebell'",
    )
    .await;
    let mut stream = app.events(&asha).await;
    let (s, v) = app
        .post(
            "/api/v1/notifications/register-device",
            &asha,
            json!({"token": "asha-phone", "platform": "android"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (s, v) = put_disabled(&app, "ext-asha", json!({"disabled": true})).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_error(&app.get("/api/v1/me", &asha).await, 401, "unauthorized");
    stream.next_event("session_ended").await;
    assert_eq!(
        scalar(&app.state().db, "SELECT COUNT(*) FROM devices").await,
        0
    );
    let refused = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(
                json!({"email": ASHA, "password": gatebell_server::http::accounts::DEMO_PASSWORD}),
            ),
        )
        .await;
    assert_error(&refused, 403, "forbidden");
    // A wrong password still gets the usual answer: the state is only told to the owner.
    let wrong = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": ASHA, "password": "not-her-password"})),
        )
        .await;
    assert_error(&wrong, 401, "unauthorized");
    // A disabled resident is no walk-in host.
    let walkin = app
        .post(
            "/api/v1/visits/walkin",
            &guard,
            json!({"visitorName": "Ravi", "hostId": asha_id, "purpose": "delivery"}),
        )
        .await;
    assert_error(&walkin, 422, "validation");

    let (s, v) = put_disabled(&app, "ext-asha", json!({"disabled": false})).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let again = app.login(ASHA).await;
    assert_eq!(app.get("/api/v1/me", &again).await.0, StatusCode::OK);

    assert_error(
        &put_disabled(&app, "no-such-user", json!({"disabled": true})).await,
        404,
        "not_found",
    );
    assert_error(
        &put_disabled(&app, "ext-asha", json!({"disabled": "yes"})).await,
        422,
        "validation",
    );
    let no_key = app
        .call(
            Method::PUT,
            "/api/v1/internal/users/ext-asha/disabled",
            Some(&guard),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_error(&no_key, 401, "unauthorized");
    app.stop().await;
}

async fn deleting_an_account_keeps_its_visits_anonymised(b: Backend) {
    let app = TestApp::start_with(b, &["--service-key", SERVICE_KEY]).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    // The internal API names the users the backend manages by its own ids.
    execute(
        &app.state().db,
        "UPDATE users SET external_id = 'ext-asha' WHERE email = 'asha@demo.gatebell'",
    )
    .await;
    let (s, inv) = app
        .post(
            "/api/v1/visits",
            &asha,
            json!({"visitorName": "Priya Nair", "phone": "+91 98765 43210", "purpose": "dinner"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    let otp = inv["otp"].as_str().unwrap().to_owned();
    let (s, v) = app
        .post(
            "/api/v1/visits/walkin",
            &guard,
            json!({"visitorName": "Ravi Kumar", "hostId": asha_id, "purpose": "delivery"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let db = &app.state().db;
    assert_eq!(scalar(db, "SELECT COUNT(*) FROM visits").await, 2);

    let (s, v) = app
        .call(
            Method::DELETE,
            "/api/v1/internal/users/ext-asha",
            Some(SERVICE_KEY),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_error(&app.get("/api/v1/me", &asha).await, 401, "unauthorized");
    assert_error(
        &app.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(
                json!({"email": ASHA, "password": gatebell_server::http::accounts::DEMO_PASSWORD}),
            ),
        )
        .await,
        401,
        "unauthorized",
    );
    // The visits stay, without the visitors' or the host's personal data.
    assert_eq!(scalar(db, "SELECT COUNT(*) FROM visits").await, 2);
    let personal = "SELECT COUNT(*) FROM visits WHERE visitor_name IN ('Priya Nair', 'Ravi Kumar')
         OR phone IS NOT NULL OR purpose IS NOT NULL OR otp_hash IS NOT NULL";
    assert_eq!(scalar(db, personal).await, 0);
    let traces = format!(
        "SELECT COUNT(*) FROM users WHERE id = '{asha_id}' AND (name = 'Asha Rao' OR email = '{ASHA}')"
    );
    assert_eq!(scalar(db, &traces).await, 0);
    assert_eq!(
        scalar(
            db,
            &format!("SELECT COUNT(*) FROM notifications WHERE user_id = '{asha_id}'")
        )
        .await,
        0
    );
    // The invitation's code no longer lets anyone in, and she is nobody's host any more.
    let (s, _) = app
        .post("/api/v1/visits/checkin", &guard, json!({"otp": otp}))
        .await;
    assert!(s.is_client_error(), "{s}");
    let (_, residents) = app.get("/api/v1/residents?q=asha", &guard).await;
    assert_eq!(residents, json!([]));
    // Deleting twice, or nobody, is a 404.
    let again = app
        .call(
            Method::DELETE,
            "/api/v1/internal/users/ext-asha",
            Some(SERVICE_KEY),
            None,
        )
        .await;
    assert_error(&again, 404, "not_found");
    app.stop().await;
}

on_both_backends!(
    sessions_list_the_callers_own_sessions_without_tokens,
    logout_all_ends_every_session_of_the_caller_only,
    an_open_stream_ends_when_its_session_logs_out,
    an_open_stream_ends_with_logout_all,
    an_open_stream_ends_when_its_session_expires,
    streams_per_user_are_capped_with_429,
    expired_sessions_are_cleaned_up_with_their_devices,
    retention_purges_rows_older_than_its_days_only,
    retention_of_zero_days_keeps_everything,
    a_disabled_account_cannot_sign_in_and_its_sessions_stop,
    deleting_an_account_keeps_its_visits_anonymised,
);

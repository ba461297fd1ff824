//! The HTTP API over a real socket, on SQLite and on PostgreSQL.

mod common;

use common::{Backend, TestApp, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const GUARD: &str = "guard@demo.gatebell";
const ASHA: &str = "asha@demo.gatebell";
const BINA: &str = "bina@demo.gatebell";
const ADMIN: &str = "admin@demo.gatebell";

/// A real, valid P-256 point and auth secret, like a browser's subscription.
fn web_subscription(endpoint: &str) -> Value {
    json!({
        "endpoint": endpoint,
        "expirationTime": null,
        "keys": {
            "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
            "auth": "BTBZMqHH6r4Tts7J_aSIgg"
        }
    })
}

async fn login_returns_a_token_and_me_uses_it(b: Backend) {
    let app = TestApp::start(b).await;
    let token = app.login(ASHA).await;
    let (s, me) = app.get("/api/v1/me", &token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["email"], ASHA);
    assert_eq!(me["role"], "resident");
    assert_eq!(me["unit"], "A-101");

    let wrong = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": ASHA, "password": "nope-nope"})),
        )
        .await;
    assert_error(&wrong, 401, "unauthorized");
    let unknown = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "x@y.z", "password": "whatever1"})),
        )
        .await;
    assert_error(&unknown, 401, "unauthorized");

    // Logout revokes exactly that session.
    let (s, _) = app
        .call(Method::POST, "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(&app.get("/api/v1/me", &token).await, 401, "unauthorized");
    app.stop().await;
}

async fn unauthenticated_and_malformed_auth_get_401(b: Backend) {
    let app = TestApp::start(b).await;
    assert_error(
        &app.call(Method::GET, "/api/v1/me", None, None).await,
        401,
        "unauthorized",
    );
    assert_error(
        &app.get("/api/v1/notifications", "not-a-session").await,
        401,
        "unauthorized",
    );
    let resp = app
        .http
        .get(format!("{}/api/v1/me", app.url))
        .header("Authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    app.stop().await;
}

async fn invite_then_otp_checkin_notifies_the_host(b: Backend) {
    let app = TestApp::start(b).await;
    let asha = app.login(ASHA).await;
    let guard = app.login(GUARD).await;

    let (s, inv) = app
        .post(
            "/api/v1/visits",
            &asha,
            json!({"visitorName": "Ravi Kumar", "purpose": "dinner"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    assert_eq!(inv["visit"]["status"], "INVITED");
    assert_eq!(inv["visit"]["kind"], "invited");
    let otp = inv["otp"].as_str().unwrap();
    assert!(otp.len() == 6 && otp.bytes().all(|c| c.is_ascii_digit()));
    let visit_id = inv["visit"]["id"].as_str().unwrap();

    // Guards only check in.
    assert_error(
        &app.post("/api/v1/visits/checkin", &asha, json!({"otp": otp}))
            .await,
        403,
        "forbidden",
    );
    assert_error(
        &app.post("/api/v1/visits/checkin", &guard, json!({"otp": "12ab56"}))
            .await,
        422,
        "validation",
    );
    assert_error(
        &app.post("/api/v1/visits/checkin", &guard, json!({})).await,
        422,
        "validation",
    );

    let (s, v) = app
        .post("/api/v1/visits/checkin", &guard, json!({"otp": otp}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], visit_id);
    assert_eq!(v["status"], "CHECKED_IN");
    // Single use.
    assert_error(
        &app.post("/api/v1/visits/checkin", &guard, json!({"otp": otp}))
            .await,
        409,
        "conflict",
    );

    let (s, inbox) = app.get("/api/v1/notifications", &asha).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(inbox["unreadCount"], 1);
    let n = &inbox["items"][0];
    assert_eq!(n["type"], "visitor_arrived");
    assert_eq!(n["visitId"], visit_id);
    assert_eq!(n["body"], "Ravi Kumar has checked in.");
    assert_eq!(n["read"], false);
    // Nobody else was told.
    let bina = app.login(BINA).await;
    assert_eq!(
        app.get("/api/v1/notifications", &bina).await.1["unreadCount"],
        0
    );
    app.stop().await;
}

async fn qr_checkin_works_once_and_unknown_codes_are_404(b: Backend) {
    let app = TestApp::start(b).await;
    let asha = app.login(ASHA).await;
    let guard = app.login(GUARD).await;
    let (_, inv) = app
        .post("/api/v1/visits", &asha, json!({"visitorName": "Meera"}))
        .await;
    let qr = inv["qr"].as_str().unwrap();
    let (s, v) = app
        .post("/api/v1/visits/checkin", &guard, json!({"qr": qr}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "CHECKED_IN");
    assert_error(
        &app.post("/api/v1/visits/checkin", &guard, json!({"qr": qr}))
            .await,
        409,
        "conflict",
    );
    assert_error(
        &app.post(
            "/api/v1/visits/checkin",
            &guard,
            json!({"qr": "no-such-code"}),
        )
        .await,
        404,
        "not_found",
    );
    assert_error(
        &app.post(
            "/api/v1/visits/checkin",
            &guard,
            json!({"otp": "123456", "qr": qr}),
        )
        .await,
        422,
        "validation",
    );
    app.stop().await;
}

async fn walkin_notifies_host_who_approves_once(b: Backend) {
    let app = TestApp::start(b).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let bina = app.login(BINA).await;
    let asha_id = app.resident_id(&guard, "asha").await;

    let (s, visit) = app
        .post("/api/v1/visits/walkin", &guard, json!({"visitorName": "Courier", "hostId": asha_id, "purpose": "parcel", "phone": "+91 98450 00000"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{visit}");
    assert_eq!(visit["status"], "PENDING");
    assert_eq!(visit["kind"], "walkin");
    assert_eq!(visit["unit"], "A-101");
    let id = visit["id"].as_str().unwrap();

    let (_, inbox) = app.get("/api/v1/notifications", &asha).await;
    assert_eq!(inbox["items"][0]["type"], "walkin_pending");
    assert_eq!(inbox["items"][0]["visitId"], id);
    assert_eq!(
        inbox["items"][0]["body"],
        "Courier is at the gate (parcel). Approve or reject?"
    );

    let (_, pending) = app.get("/api/v1/dashboard/my-requests", &asha).await;
    assert_eq!(pending["items"].as_array().unwrap().len(), 1);
    assert_eq!(pending["items"][0]["id"], id);

    // Someone else's visit, and guards, may not decide.
    assert_error(
        &app.post(&format!("/api/v1/visits/{id}/approve"), &bina, json!({}))
            .await,
        403,
        "forbidden",
    );
    assert_error(
        &app.post(&format!("/api/v1/visits/{id}/approve"), &guard, json!({}))
            .await,
        403,
        "forbidden",
    );
    assert_error(
        &app.get(&format!("/api/v1/visits/{id}"), &bina).await,
        403,
        "forbidden",
    );

    let (s, decided) = app
        .post(&format!("/api/v1/visits/{id}/approve"), &asha, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "APPROVED");
    assert_eq!(decided["decidedBy"], "Asha Rao");
    assert_error(
        &app.post(&format!("/api/v1/visits/{id}/approve"), &asha, json!({}))
            .await,
        409,
        "conflict",
    );
    assert_error(
        &app.post(&format!("/api/v1/visits/{id}/reject"), &asha, json!({}))
            .await,
        409,
        "conflict",
    );

    // The guard sees the decision; the answered notification is read; nothing is pending.
    let (_, seen) = app.get(&format!("/api/v1/visits/{id}"), &guard).await;
    assert_eq!(seen["status"], "APPROVED");
    assert_eq!(
        app.get("/api/v1/notifications", &asha).await.1["unreadCount"],
        0
    );
    assert!(
        app.get("/api/v1/dashboard/my-requests", &asha).await.1["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (_, today) = app.get("/api/v1/visits?kind=walkin", &guard).await;
    assert_eq!(today["items"][0]["status"], "APPROVED");
    app.stop().await;
}

async fn walkin_reject_and_bad_walkins(b: Backend) {
    let app = TestApp::start(b).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    let (_, a101) = app.get("/api/v1/residents?q=a-101", &guard).await;
    assert_eq!(
        a101.as_array().unwrap().len(),
        2,
        "search by unit finds both residents of A-101"
    );
    let (_, v) = app
        .post(
            "/api/v1/visits/walkin",
            &guard,
            json!({"visitorName": "X", "hostId": asha_id, "purpose": "sales"}),
        )
        .await;
    let id = v["id"].as_str().unwrap();
    let (s, r) = app
        .post(&format!("/api/v1/visits/{id}/reject"), &asha, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["status"], "REJECTED");

    // Residents cannot register walk-ins; bad hosts and fields are 422.
    assert_error(
        &app.post(
            "/api/v1/visits/walkin",
            &asha,
            json!({"visitorName": "X", "hostId": asha_id, "purpose": "p"}),
        )
        .await,
        403,
        "forbidden",
    );
    let guard_id = app.get("/api/v1/me", &guard).await.1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for body in [
        json!({"visitorName": "X", "hostId": "no-such-user", "purpose": "p"}),
        json!({"visitorName": "X", "hostId": guard_id, "purpose": "p"}),
        json!({"visitorName": "   ", "hostId": asha_id, "purpose": "p"}),
        json!({"visitorName": "X".repeat(101), "hostId": asha_id, "purpose": "p"}),
        json!({"visitorName": "X", "hostId": asha_id, "purpose": "p", "phone": "call me"}),
        json!({"visitorName": "X", "hostId": asha_id}),
        json!({"visitorName": "X", "hostId": asha_id, "purpose": "p", "surprise": true}),
        json!({"visitorName": 7, "hostId": asha_id, "purpose": "p"}),
    ] {
        assert_error(
            &app.post("/api/v1/visits/walkin", &guard, body.clone())
                .await,
            422,
            "validation",
        );
    }
    assert_error(
        &app.post("/api/v1/visits/no-such-visit/approve", &asha, json!({}))
            .await,
        404,
        "not_found",
    );
    app.stop().await;
}

async fn devices_register_upsert_move_and_delete(b: Backend) {
    let app = TestApp::start(b).await;
    let asha = app.login(ASHA).await;
    let bina = app.login(BINA).await;

    let (s, d1) = app
        .post(
            "/api/v1/notifications/register-device",
            &asha,
            json!({"token": "fcm-token-1", "platform": "android"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d1}");
    assert_eq!(d1["platform"], "android");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    // The same token again: the same row, created_at kept, updated.
    let (_, d2) = app
        .post(
            "/api/v1/notifications/register-device",
            &asha,
            json!({"token": "fcm-token-1", "platform": "android"}),
        )
        .await;
    assert_eq!(d2["id"], d1["id"]);
    assert_eq!(d2["createdAt"], d1["createdAt"]);
    assert!(d2["lastSeenAt"].as_i64() > d1["lastSeenAt"].as_i64());

    // A shared phone changed hands: the token moves to Bina as a new device (pushes queued
    // for Asha's stay hers), and Asha can no longer remove it.
    let (_, d3) = app
        .post(
            "/api/v1/notifications/register-device",
            &bina,
            json!({"token": "fcm-token-1", "platform": "android"}),
        )
        .await;
    assert_eq!(d3["token"], "fcm-token-1");
    assert_ne!(d3["id"], d1["id"]);
    assert_error(
        &app.delete(
            "/api/v1/notifications/register-device",
            &asha,
            json!({"token": "fcm-token-1"}),
        )
        .await,
        404,
        "device_not_found",
    );
    let (s, _) = app
        .delete(
            "/api/v1/notifications/register-device",
            &bina,
            json!({"token": "fcm-token-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(
        &app.delete(
            "/api/v1/notifications/register-device",
            &bina,
            json!({"token": "fcm-token-1"}),
        )
        .await,
        404,
        "device_not_found",
    );

    // Web devices carry a valid subscription on an allowed host.
    let web = json!({"token": "https://fcm.googleapis.com/fcm/send/abc", "platform": "web",
        "subscription": web_subscription("https://fcm.googleapis.com/fcm/send/abc")});
    let (s, w) = app
        .post("/api/v1/notifications/register-device", &asha, web)
        .await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(w["platform"], "web");
    app.stop().await;
}

async fn post_unregister_removes_a_device_like_delete(b: Backend) {
    let app = TestApp::start(b).await;
    let asha = app.login(ASHA).await;
    let bina = app.login(BINA).await;
    let register = json!({"token": "fcm-token-post", "platform": "android"});
    let (s, _) = app
        .post("/api/v1/notifications/register-device", &asha, register)
        .await;
    assert_eq!(s, StatusCode::OK);
    let unregister = json!({"token": "fcm-token-post"});
    // Only its owner removes it, and only once.
    assert_error(
        &app.post(
            "/api/v1/notifications/unregister-device",
            &bina,
            unregister.clone(),
        )
        .await,
        404,
        "device_not_found",
    );
    let (s, _) = app
        .post(
            "/api/v1/notifications/unregister-device",
            &asha,
            unregister.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(
        &app.delete("/api/v1/notifications/register-device", &asha, unregister)
            .await,
        404,
        "device_not_found",
    );
    // No body at all is a JSON error, not a 5xx.
    assert_error(
        &app.call(
            Method::POST,
            "/api/v1/notifications/unregister-device",
            Some(&asha),
            None,
        )
        .await,
        415,
        "unsupported_media_type",
    );
    app.stop().await;
}

async fn invalid_subscriptions_are_422(b: Backend) {
    let app = TestApp::start(b).await;
    let asha = app.login(ASHA).await;
    let good = web_subscription("https://fcm.googleapis.com/fcm/send/abc");
    let mut bad_point = good.clone();
    // 65 bytes starting with 4, but not on the curve.
    bad_point["keys"]["p256dh"] = json!(format!("BA{}", "A".repeat(85)));
    let mut short_auth = good.clone();
    short_auth["keys"]["auth"] = json!("AAAA");
    let mut not_b64 = good.clone();
    not_b64["keys"]["p256dh"] = json!("!!!");
    let mut no_keys = good.clone();
    no_keys.as_object_mut().unwrap().remove("keys");
    let cases = [
        json!({"token": "t", "platform": "web"}),
        json!({"token": "t", "platform": "web", "subscription": bad_point}),
        json!({"token": "t", "platform": "web", "subscription": short_auth}),
        json!({"token": "t", "platform": "web", "subscription": not_b64}),
        json!({"token": "t", "platform": "web", "subscription": no_keys}),
        json!({"token": "t", "platform": "web", "subscription": web_subscription("http://fcm.googleapis.com/x")}),
        json!({"token": "t", "platform": "web", "subscription": web_subscription("https://127.0.0.1/x")}),
        json!({"token": "t", "platform": "web", "subscription": web_subscription("https://10.1.2.3/x")}),
        json!({"token": "t", "platform": "web", "subscription": web_subscription("https://[::1]/x")}),
        json!({"token": "t", "platform": "web", "subscription": web_subscription("https://localhost/x")}),
        json!({"token": "t", "platform": "web", "subscription": web_subscription("https://attacker.example/x")}),
        json!({"token": "t", "platform": "android", "subscription": good}),
        json!({"token": "", "platform": "android"}),
        json!({"token": "x".repeat(2000), "platform": "ios"}),
        json!({"token": "t", "platform": "windows-phone"}),
    ];
    for body in cases {
        let got = app
            .post("/api/v1/notifications/register-device", &asha, body.clone())
            .await;
        assert_error(&got, 422, "validation");
    }
    app.stop().await;
}

async fn a_user_keeps_at_most_twenty_devices(b: Backend) {
    let app = TestApp::start(b).await;
    let asha = app.login(ASHA).await;
    for i in 0..22 {
        let (s, _) = app
            .post(
                "/api/v1/notifications/register-device",
                &asha,
                json!({"token": format!("tok-{i:02}"), "platform": "ios"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    // The two least recently seen were dropped.
    assert_error(
        &app.delete(
            "/api/v1/notifications/register-device",
            &asha,
            json!({"token": "tok-00"}),
        )
        .await,
        404,
        "device_not_found",
    );
    assert_error(
        &app.delete(
            "/api/v1/notifications/register-device",
            &asha,
            json!({"token": "tok-01"}),
        )
        .await,
        404,
        "device_not_found",
    );
    let (s, _) = app
        .delete(
            "/api/v1/notifications/register-device",
            &asha,
            json!({"token": "tok-02"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    app.stop().await;
}

async fn inbox_pages_newest_first_and_marks_read(b: Backend) {
    let app = TestApp::start(b).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    for i in 0..5 {
        app.post(
            "/api/v1/visits/walkin",
            &guard,
            json!({"visitorName": format!("V{i}"), "hostId": asha_id, "purpose": "p"}),
        )
        .await;
    }
    let (_, p1) = app.get("/api/v1/notifications?limit=2", &asha).await;
    assert_eq!(p1["unreadCount"], 5);
    let names: Vec<&str> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert!(
        names[0].starts_with("V4") && names[1].starts_with("V3"),
        "{names:?}"
    );
    let cursor = p1["nextCursor"].as_str().unwrap();
    let (_, p2) = app
        .get(
            &format!("/api/v1/notifications?limit=2&cursor={cursor}"),
            &asha,
        )
        .await;
    assert!(p2["items"][0]["body"].as_str().unwrap().starts_with("V2"));
    let (_, p3) = app
        .get(
            &format!(
                "/api/v1/notifications?limit=2&cursor={}",
                p2["nextCursor"].as_str().unwrap()
            ),
            &asha,
        )
        .await;
    assert_eq!(p3["items"].as_array().unwrap().len(), 1);
    assert!(p3.get("nextCursor").is_none());

    let first = p1["items"][0]["id"].as_str().unwrap();
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/notifications/{first}/read"),
            Some(&asha),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/notifications", &asha).await.1["unreadCount"],
        4
    );
    // Not someone else's.
    let bina = app.login(BINA).await;
    assert_error(
        &app.call(
            Method::POST,
            &format!("/api/v1/notifications/{first}/read"),
            Some(&bina),
            None,
        )
        .await,
        404,
        "not_found",
    );
    let (_, all) = app
        .call(
            Method::POST,
            "/api/v1/notifications/read-all",
            Some(&asha),
            None,
        )
        .await;
    assert_eq!(all["updated"], 4);
    assert_eq!(
        app.get("/api/v1/notifications", &asha).await.1["unreadCount"],
        0
    );

    assert_error(
        &app.get("/api/v1/notifications?limit=0", &asha).await,
        422,
        "validation",
    );
    assert_error(
        &app.get("/api/v1/notifications?cursor=garbage", &asha).await,
        400,
        "bad_request",
    );
    assert_error(
        &app.get("/api/v1/notifications?limit=abc", &asha).await,
        400,
        "bad_request",
    );
    app.stop().await;
}

async fn bad_requests_get_json_4xx_never_500(b: Backend) {
    let app = TestApp::start(b).await;
    let asha = app.login(ASHA).await;
    let url = format!("{}/api/v1/visits", app.url);

    // Over 64 KiB.
    let big = json!({"visitorName": "x".repeat(70 * 1024)});
    let got = app.post("/api/v1/visits", &asha, big).await;
    assert_error(&got, 413, "payload_too_large");

    // Broken JSON, wrong content type, wrong method, unknown path.
    let resp = app
        .http
        .post(&url)
        .bearer_auth(&asha)
        .header("content-type", "application/json")
        .body("{\"visitorName\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "bad_request"
    );
    let resp = app
        .http
        .post(&url)
        .bearer_auth(&asha)
        .body("visitorName=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "unsupported_media_type"
    );
    assert_error(
        &app.call(Method::PUT, "/api/v1/visits/checkin", Some(&asha), None)
            .await,
        405,
        "method_not_allowed",
    );
    assert_error(
        &app.get("/api/v1/nothing-here", &asha).await,
        404,
        "not_found",
    );

    // Wrong roles.
    assert_error(&app.get("/api/v1/residents", &asha).await, 403, "forbidden");
    let admin = app.login(ADMIN).await;
    assert_error(
        &app.post("/api/v1/visits", &admin, json!({"visitorName": "x"}))
            .await,
        403,
        "forbidden",
    );
    assert_error(
        &app.post(
            "/api/v1/visits",
            &asha,
            json!({"visitorName": "x", "validForMinutes": 0}),
        )
        .await,
        422,
        "validation",
    );
    assert_error(
        &app.post("/api/v1/visits", &asha, json!({"visitorName": "x\u{0007}"}))
            .await,
        422,
        "validation",
    );
    app.stop().await;
}

async fn health_ready_and_openapi(b: Backend) {
    let app = TestApp::start(b).await;
    let (s, h) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s.as_u16(), h["status"].as_str()), (200, Some("ok")));
    let (s, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, doc) = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/auth/login",
        "/api/v1/visits/walkin",
        "/api/v1/visits/{id}/approve",
        "/api/v1/notifications",
        "/api/v1/notifications/register-device",
        "/api/v1/dashboard/my-requests",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(
        doc["components"]["schemas"]
            .get("RegisterDeviceRequest")
            .is_some()
    );
    app.stop().await;
}

async fn event_stream_tells_the_host_and_the_guards(b: Backend) {
    let app = TestApp::start(b).await;
    let guard = app.login(GUARD).await;
    let asha = app.login(ASHA).await;
    let asha_id = app.resident_id(&guard, "asha").await;
    let mut host_events = app.events(&asha).await;
    let mut gate_events = app.events(&guard).await;
    let (_, v) = app
        .post(
            "/api/v1/visits/walkin",
            &guard,
            json!({"visitorName": "Ravi", "hostId": asha_id, "purpose": "p"}),
        )
        .await;
    host_events.next_event("inbox").await;
    let id = v["id"].as_str().unwrap();
    assert_eq!(
        gate_events.next_event("visit").await,
        json!({"visitId": id}).to_string()
    );
    app.post(&format!("/api/v1/visits/{id}/approve"), &asha, json!({}))
        .await;
    assert_eq!(
        gate_events.next_event("visit").await,
        json!({"visitId": id}).to_string()
    );
    // EventSource cannot send headers: the token may come as a query parameter instead.
    let resp = app
        .http
        .get(format!(
            "{}/api/v1/notifications/stream?access_token={asha}",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_error(
        &app.call(Method::GET, "/api/v1/notifications/stream", None, None)
            .await,
        401,
        "unauthorized",
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_instances_through_postgres() {
    let url = common::pg::fresh_database().await;
    let a = TestApp::start_on(tempfile::tempdir().unwrap(), url.clone(), &[]).await;
    let b = TestApp::start_on(tempfile::tempdir().unwrap(), url, &[]).await;
    let asha_on_a = a.login(ASHA).await;
    let guard_on_b = b.login(GUARD).await;
    let asha_id = b.resident_id(&guard_on_b, "asha").await;
    let mut events = a.events(&asha_on_a).await;
    b.post(
        "/api/v1/visits/walkin",
        &guard_on_b,
        json!({"visitorName": "Ravi", "hostId": asha_id, "purpose": "p"}),
    )
    .await;
    events.next_event("inbox").await;
    a.stop().await;
    b.stop().await;
}

on_both_backends!(
    event_stream_tells_the_host_and_the_guards,
    login_returns_a_token_and_me_uses_it,
    unauthenticated_and_malformed_auth_get_401,
    invite_then_otp_checkin_notifies_the_host,
    qr_checkin_works_once_and_unknown_codes_are_404,
    walkin_notifies_host_who_approves_once,
    walkin_reject_and_bad_walkins,
    devices_register_upsert_move_and_delete,
    post_unregister_removes_a_device_like_delete,
    invalid_subscriptions_are_422,
    a_user_keeps_at_most_twenty_devices,
    inbox_pages_newest_first_and_marks_read,
    bad_requests_get_json_4xx_never_500,
    health_ready_and_openapi,
);

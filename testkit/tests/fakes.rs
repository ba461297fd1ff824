//! The fakes over real HTTP: each accepts what the real service accepts and refuses what it
//! refuses. One test binary keeps link time down.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use gatebell_testkit::sender::{encrypt_aes128gcm, vapid_authorization, vapid_keypair};
use gatebell_testkit::{
    FakeFcm, FakeOAuth, FakeSms, FakeWebPush, FcmFailure, TestSubscription, TimedOut,
    WebPushFailure,
};
use reqwest::{Client, StatusCode, Version};
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::Sha256;
use serde_json::{Value, json};

const PROJECT: &str = "gatebell-test";
const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn client() -> Client {
    Client::builder().http2_prior_knowledge().build().unwrap()
}

// ---------- OAuth ----------

/// Signs an RS256 assertion the way gcp_auth does (padded base64url, `sub: null`).
fn assertion(key_json: &str, claims: Value) -> String {
    let key: Value = serde_json::from_str(key_json).unwrap();
    let private = rsa::PrivateKey::from_pkcs8_pem(key["private_key"].as_str().unwrap()).unwrap();
    let mut jwt = URL_SAFE.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
    jwt.push('.');
    jwt.push_str(&URL_SAFE.encode(claims.to_string()));
    let signature = private.pkcs1v15_sign::<Sha256>(jwt.as_bytes()).unwrap();
    jwt.push('.');
    jwt.push_str(&URL_SAFE.encode(signature));
    jwt
}

fn good_claims(key_json: &str) -> Value {
    let key: Value = serde_json::from_str(key_json).unwrap();
    let iat = now();
    json!({
        "iss": key["client_email"],
        "aud": key["token_uri"],
        "exp": iat + 3595,
        "iat": iat,
        "sub": null,
        "scope": FCM_SCOPE,
    })
}

async fn exchange(oauth: &FakeOAuth, assertion: &str) -> (StatusCode, Value) {
    let response = Client::new()
        .post(oauth.token_uri())
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn oauth_issues_a_token_for_a_correctly_signed_assertion() {
    let oauth = FakeOAuth::start().await;
    let key_json = oauth.service_account_json(PROJECT);
    let key: Value = serde_json::from_str(&key_json).unwrap();
    assert_eq!(key["type"], "service_account");
    assert_eq!(key["project_id"], PROJECT);
    assert_eq!(key["token_uri"], oauth.token_uri());
    assert!(
        key["private_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );

    let (status, body) = exchange(&oauth, &assertion(&key_json, good_claims(&key_json))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    assert!(oauth.is_valid_access_token(token));
    assert!(!oauth.is_valid_access_token("ya29.made-up"));
    assert_eq!(oauth.tokens_issued(), 1);
    oauth.revoke_all_tokens();
    assert!(!oauth.is_valid_access_token(token));
}

#[tokio::test]
async fn oauth_rejects_bad_assertions() {
    let oauth = FakeOAuth::start().await;
    let key_json = oauth.service_account_json(PROJECT);
    let good = good_claims(&key_json);
    let with = |field: &str, value: Value| {
        let mut c = good.clone();
        c[field] = value;
        c
    };
    let cases = [
        (
            "wrong aud",
            assertion(
                &key_json,
                with("aud", json!("https://oauth2.googleapis.com/token")),
            ),
        ),
        (
            "expired",
            assertion(
                &key_json,
                with("iat", json!(now() - 7200)).tap_exp(now() - 3600),
            ),
        ),
        (
            "too long-lived",
            assertion(&key_json, with("exp", json!(now() + 7200))),
        ),
        (
            "wrong scope",
            assertion(
                &key_json,
                with(
                    "scope",
                    json!("https://www.googleapis.com/auth/userinfo.email"),
                ),
            ),
        ),
        (
            "unknown account",
            assertion(
                &key_json,
                with("iss", json!("someone@else.iam.gserviceaccount.com")),
            ),
        ),
    ];
    for (what, jwt) in cases {
        let (status, body) = exchange(&oauth, &jwt).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
    }

    // Claims swapped after signing: the signature no longer covers them.
    let signed = assertion(&key_json, good.clone());
    let forged_claims = URL_SAFE_NO_PAD.encode(
        with(
            "scope",
            json!("https://www.googleapis.com/auth/cloud-platform"),
        )
        .to_string(),
    );
    let parts: Vec<&str> = signed.split('.').collect();
    let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
    let (status, body) = exchange(&oauth, &forged).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], "Invalid JWT Signature.");

    let response = Client::new()
        .post(oauth.token_uri())
        .form(&[
            ("grant_type", "client_credentials"),
            ("assertion", signed.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(oauth.tokens_issued(), 0);
    assert_eq!(oauth.rejections().len(), 7);
}

trait TapExp {
    fn tap_exp(self, exp: i64) -> Value;
}

impl TapExp for Value {
    fn tap_exp(mut self, exp: i64) -> Value {
        self["exp"] = json!(exp);
        self
    }
}

// ---------- FCM ----------

async fn fcm_with_token() -> (FakeOAuth, FakeFcm, String) {
    let oauth = FakeOAuth::start().await;
    let fcm = FakeFcm::start(&oauth, PROJECT).await;
    let key_json = oauth.service_account_json(PROJECT);
    let (status, body) = exchange(&oauth, &assertion(&key_json, good_claims(&key_json))).await;
    assert_eq!(status, StatusCode::OK);
    let token = body["access_token"].as_str().unwrap().to_owned();
    (oauth, fcm, token)
}

fn message(token: &str) -> Value {
    json!({ "message": {
        "token": token,
        "notification": { "title": "Visitor at the gate", "body": "Asha is at the gate." },
        "data": { "type": "walkin_pending", "visitId": "0192-abc" },
        "android": { "priority": "high", "ttl": "300s", "collapse_key": "visit-0192" },
        "apns": { "headers": { "apns-priority": "10" }, "payload": { "aps": { "category": "WALKIN" } } },
    }})
}

async fn send(fcm: &FakeFcm, bearer: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = client()
        .post(format!(
            "{}/v1/projects/{PROJECT}/messages:send",
            fcm.base_url()
        ))
        .json(body);
    if let Some(b) = bearer {
        request = request.bearer_auth(b);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn fcm_delivers_a_valid_message_over_h2c() {
    let (_oauth, fcm, token) = fcm_with_token().await;
    let response = send(&fcm, Some(&token), &message("device-1")).await;
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let name = body["name"].as_str().unwrap();
    assert!(
        name.starts_with(&format!("projects/{PROJECT}/messages/")),
        "{name}"
    );
    fcm.wait_for(1, Duration::from_secs(1)).await.unwrap();
    let got = fcm.delivered_for("device-1");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message["data"]["visitId"], "0192-abc");
    assert_eq!(got[0].version, Version::HTTP_2);
}

#[tokio::test]
async fn fcm_rejects_missing_unknown_and_foreign_credentials() {
    let (oauth, fcm, token) = fcm_with_token().await;
    for bearer in [None, Some("ya29.never-issued")] {
        let response = send(&fcm, bearer, &message("device-1")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], 401);
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    }
    // A token for another project's service account may not send to this one.
    let other = oauth.mint_access_token("another-project");
    let response = send(&fcm, Some(&other), &message("device-1")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // This project's token on a project the fake does not serve.
    let response = client()
        .post(format!("{}/v1/projects/nope/messages:send", fcm.base_url()))
        .bearer_auth(&token)
        .json(&message("device-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    oauth.revoke_all_tokens();
    assert_eq!(
        send(&fcm, Some(&token), &message("device-1"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(fcm.delivered_count(), 0);
    assert_eq!(fcm.received().len(), 5);
}

#[tokio::test]
async fn fcm_rejects_malformed_messages() {
    let (_oauth, fcm, token) = fcm_with_token().await;
    let mut non_string = message("device-1");
    non_string["message"]["data"]["attempt"] = json!(1);
    let mut unknown_field = message("device-1");
    unknown_field["message"]["priority"] = json!("high");
    let mut reserved = message("device-1");
    reserved["message"]["data"]["google.sent_time"] = json!("1");
    let mut too_big = message("device-1");
    too_big["message"]["data"]["blob"] = json!("x".repeat(4096));
    let mut bad_ttl = message("device-1");
    bad_ttl["message"]["android"]["ttl"] = json!(300);
    let mut no_token = message("");
    no_token["message"]["token"] = json!("");
    // A misspelt field anywhere is refused, however deep.
    let mut channel = message("device-1");
    channel["message"]["android"]["notification"] =
        json!({ "channelId": "visitors", "chanel_id": "x" });
    let mut category = message("device-1");
    category["message"]["apns"]["payload"]["aps"] = json!({ "categroy": "WALKIN_PENDING" });
    let mut alert = message("device-1");
    alert["message"]["apns"]["payload"]["aps"] = json!({ "alert": { "titel": "x" } });
    let mut mutable = message("device-1");
    mutable["message"]["apns"]["payload"]["aps"] = json!({ "mutable-content": true });
    let mut options = message("device-1");
    options["message"]["apns"]["fcm_options"] = json!({ "analytics": "x" });
    let mut sound = message("device-1");
    sound["message"]["android"]["notification"] = json!({ "default_sound": "yes" });
    for (what, body) in [
        ("Invalid value at 'message.data[", non_string),
        ("Unknown name \"priority\"", unknown_field),
        (
            "Unknown name \"chanel_id\" at 'message.android.notification'",
            channel,
        ),
        (
            "Unknown name \"categroy\" at 'message.apns.payload.aps'",
            category,
        ),
        (
            "Unknown name \"titel\" at 'message.apns.payload.aps.alert'",
            alert,
        ),
        ("message.apns.payload.aps.mutable-content", mutable),
        (
            "Unknown name \"analytics\" at 'message.apns.fcm_options'",
            options,
        ),
        ("message.android.notification.default_sound", sound),
        ("google.sent_time", reserved),
        ("too big", too_big),
        ("message.android.ttl", bad_ttl),
        ("message.token", no_token),
        ("message is required", json!({ "validate_only": false })),
    ] {
        let response = send(&fcm, Some(&token), &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(what), "{what}: {message}");
        assert_eq!(body["error"]["status"], "INVALID_ARGUMENT", "{what}");
        // Payload errors are not about the token, so they carry no FcmError.
        assert_eq!(
            body["error"]["details"][0]["@type"], "type.googleapis.com/google.rpc.BadRequest",
            "{what}"
        );
    }
    assert_eq!(fcm.delivered_count(), 0);
}

#[tokio::test]
async fn fcm_accepts_every_field_gatebell_sends_in_either_spelling() {
    let (_oauth, fcm, token) = fcm_with_token().await;
    let body = json!({ "message": {
        "token": "device-1",
        "notification": { "title": "t", "body": "b" },
        "data": { "type": "visitor_arrived" },
        "android": {
            "priority": "high",
            "ttl": "60s",
            "collapseKey": "visit-1",
            "notification": { "channel_id": "visitors", "defaultSound": true, "tag": "visit-1" },
            "fcm_options": { "analytics_label": "gate" },
        },
        "apns": {
            "headers": { "apns-priority": "10", "apns-push-type": "alert" },
            "payload": {
                "aps": { "alert": { "title": "t", "body": "b" }, "sound": "default", "category": "WALKIN_PENDING", "mutable-content": 1 },
                "visitId": "custom keys beside aps are the app's",
            },
            "fcmOptions": { "image": "https://example.com/i.png" },
        },
    }});
    let response = send(&fcm, Some(&token), &body).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
}

#[tokio::test]
async fn fcm_answers_scripted_token_errors_in_googles_shape() {
    let (_oauth, fcm, token) = fcm_with_token().await;
    fcm.fail_token_with("gone", FcmFailure::Unregistered);
    fcm.fail_token_with("bad", FcmFailure::InvalidToken);
    fcm.fail_token_with("other-sender", FcmFailure::SenderIdMismatch);

    let response = send(&fcm, Some(&token), &message("gone")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": {
            "code": 404,
            "message": "Requested entity was not found.",
            "status": "NOT_FOUND",
            "details": [{
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": "UNREGISTERED",
            }],
        }})
    );

    let response = send(&fcm, Some(&token), &message("bad")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(body["error"]["details"][0]["errorCode"], "INVALID_ARGUMENT");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("registration token")
    );

    let response = send(&fcm, Some(&token), &message("other-sender")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["details"][0]["errorCode"],
        "SENDER_ID_MISMATCH"
    );

    // Permanent failures stay.
    assert_eq!(
        send(&fcm, Some(&token), &message("gone")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn fcm_transient_failures_carry_retry_after_then_succeed() {
    let (_oauth, fcm, token) = fcm_with_token().await;
    fcm.fail_token_with(
        "busy",
        FcmFailure::Unavailable {
            retry_after_secs: Some(7),
            times: 2,
        },
    );
    fcm.fail_token_with(
        "quota",
        FcmFailure::QuotaExceeded {
            retry_after_secs: Some(60),
            times: 1,
        },
    );
    for _ in 0..2 {
        let response = send(&fcm, Some(&token), &message("busy")).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "7");
    }
    assert_eq!(
        send(&fcm, Some(&token), &message("busy")).await.status(),
        StatusCode::OK
    );

    let response = send(&fcm, Some(&token), &message("quota")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "60");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(body["error"]["details"][0]["errorCode"], "QUOTA_EXCEEDED");
    assert_eq!(
        send(&fcm, Some(&token), &message("quota")).await.status(),
        StatusCode::OK
    );

    let statuses: Vec<u16> = fcm.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 200, 429, 200]);
    assert_eq!(fcm.delivered_count(), 2);
}

#[tokio::test]
async fn h2c_multiplexes_and_http1_still_works() {
    let (_oauth, fcm, token) = fcm_with_token().await;
    let h2 = client();
    let sends = (0..250).map(|i| {
        let request = h2
            .post(format!(
                "{}/v1/projects/{PROJECT}/messages:send",
                fcm.base_url()
            ))
            .bearer_auth(&token)
            .json(&message(&format!("device-{i}")));
        async move { request.send().await.unwrap().status() }
    });
    let statuses = futures_join_all(sends).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));
    fcm.wait_for(250, Duration::from_secs(5)).await.unwrap();
    // More streams than the 100-stream limit, still one connection.
    assert_eq!(fcm.connections(), 1);

    let response = Client::builder()
        .http1_only()
        .build()
        .unwrap()
        .post(format!(
            "{}/v1/projects/{PROJECT}/messages:send",
            fcm.base_url()
        ))
        .bearer_auth(&token)
        .json(&message("device-h1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(fcm.delivered_for("device-h1")[0].version, Version::HTTP_11);
}

/// Runs futures concurrently on the current task set, without a futures-crate dependency.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

// ---------- Web Push ----------

struct Vapid {
    private: [u8; 32],
    public: String,
}

fn vapid() -> Vapid {
    let (private, public) = vapid_keypair();
    Vapid { private, public }
}

async fn post_push(
    push: &FakeWebPush,
    sub: &TestSubscription,
    authorization: &str,
    ttl: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = Client::new()
        .post(sub.endpoint())
        .header("authorization", authorization)
        .header("content-encoding", "aes128gcm")
        .header("urgency", "high")
        .header("topic", "visit-0192")
        .body(body);
    if let Some(ttl) = ttl {
        request = request.header("ttl", ttl);
    }
    let _ = push;
    request.send().await.unwrap()
}

fn encrypt_for(sub: &TestSubscription, plaintext: &[u8]) -> Vec<u8> {
    encrypt_aes128gcm(plaintext, &sub.public_key, &sub.auth_secret)
}

#[tokio::test]
async fn webpush_accepts_a_signed_encrypted_push_and_decrypts_it() {
    let push = FakeWebPush::start().await;
    let sub = push.new_subscription();
    assert!(
        sub.endpoint()
            .starts_with(&format!("{}/push/", push.base_url()))
    );
    assert_eq!(
        sub.subscription.keys.p256dh.len(),
        87,
        "65 bytes, base64url without padding"
    );
    assert_eq!(
        sub.subscription.keys.auth.len(),
        22,
        "16 bytes, base64url without padding"
    );
    let key = vapid();
    push.expect_vapid_key(&key.public);
    let payload = br#"{"type":"walkin_pending","visitId":"0192-abc"}"#;

    // The web-push crates leave the port out of aud; both forms pass by default.
    let host_only = "http://127.0.0.1";
    for aud in [push.base_url().as_str(), host_only] {
        let auth = vapid_authorization(
            &key.private,
            aud,
            "mailto:admin@localhost",
            now() + 12 * 3600,
        );
        let response = post_push(&push, &sub, &auth, Some("60"), encrypt_for(&sub, payload)).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{aud}");
        assert!(response.headers().contains_key("location"));
    }
    push.wait_for(2, Duration::from_secs(1)).await.unwrap();
    let got = push.delivered_for(&sub.id);
    assert_eq!(got[0].plaintext, payload);
    assert_eq!(got[0].json().unwrap()["visitId"], "0192-abc");
    assert_eq!(got[0].ttl, Some(60));
    assert_eq!(got[0].urgency.as_deref(), Some("high"));
    assert_eq!(got[0].topic.as_deref(), Some("visit-0192"));
    assert_eq!(got[0].vapid_aud.as_deref(), Some(push.base_url().as_str()));
    assert_eq!(got[1].vapid_aud.as_deref(), Some(host_only));

    // Strict mode wants the full origin.
    push.set_strict_aud(true);
    let auth = vapid_authorization(
        &key.private,
        host_only,
        "mailto:admin@localhost",
        now() + 3600,
    );
    let response = post_push(&push, &sub, &auth, Some("60"), encrypt_for(&sub, payload)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn webpush_rejects_bad_vapid() {
    let push = FakeWebPush::start().await;
    let sub = push.new_subscription();
    let key = vapid();
    let origin = push.base_url();
    let good = || {
        vapid_authorization(
            &key.private,
            &origin,
            "mailto:admin@localhost",
            now() + 3600,
        )
    };

    // Signed by one key, presented with another.
    let other = vapid();
    let t = good()
        .split_once("t=")
        .unwrap()
        .1
        .split_once(',')
        .unwrap()
        .0
        .to_owned();
    let wrong_key = format!("vapid t={t}, k={}", other.public);
    let cases = [
        ("signature", wrong_key),
        (
            "aud",
            vapid_authorization(
                &key.private,
                "https://fcm.googleapis.com",
                "mailto:a@b",
                now() + 3600,
            ),
        ),
        (
            "24 hours",
            vapid_authorization(&key.private, &origin, "mailto:a@b", now() + 25 * 3600),
        ),
        (
            "expired",
            vapid_authorization(&key.private, &origin, "mailto:a@b", now() - 10),
        ),
        (
            "sub",
            vapid_authorization(&key.private, &origin, "admin", now() + 3600),
        ),
        ("scheme", good().replace("vapid ", "WebPush ")),
        ("k=", good().split(", k=").next().unwrap().to_owned()),
    ];
    for (why, auth) in cases {
        let response = post_push(&push, &sub, &auth, Some("60"), encrypt_for(&sub, b"hi")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
        let error = push.received().pop().unwrap().error.unwrap();
        assert!(error.contains(why), "{why}: {error}");
    }
    // No Authorization header at all.
    let response = Client::new()
        .post(sub.endpoint())
        .header("ttl", "60")
        .header("content-encoding", "aes128gcm")
        .body(encrypt_for(&sub, b"hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A valid token from a key other than the subscription's applicationServerKey.
    push.expect_vapid_key(&other.public);
    let response = post_push(&push, &sub, &good(), Some("60"), encrypt_for(&sub, b"hi")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(push.delivered_count(), 0);
    assert!(push.received().iter().all(|r| r.error.is_some()));
}

#[tokio::test]
async fn webpush_requires_ttl_encoding_and_a_decryptable_body() {
    let push = FakeWebPush::start().await;
    let sub = push.new_subscription();
    let other = push.new_subscription();
    let key = vapid();
    let auth = vapid_authorization(
        &key.private,
        &push.base_url(),
        "https://gatebell.example",
        now() + 3600,
    );

    let response = post_push(&push, &sub, &auth, None, encrypt_for(&sub, b"hi")).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "TTL is required"
    );

    // Encrypted for another subscription's keys.
    let response = post_push(&push, &sub, &auth, Some("0"), encrypt_for(&other, b"hi")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let last = push.received().pop().unwrap();
    assert_eq!(last.status, 400);
    assert!(last.error.unwrap().contains("decrypt"));
    assert!(last.plaintext.is_empty());

    let response = Client::new()
        .post(sub.endpoint())
        .header("authorization", &auth)
        .header("ttl", "60")
        .header("content-encoding", "aesgcm")
        .body(encrypt_for(&sub, b"hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "legacy aesgcm");

    let big = vec![b'x'; 4000];
    let response = post_push(&push, &sub, &auth, Some("60"), encrypt_for(&sub, &big)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let unknown = format!("{}/push/no-such-id", push.base_url());
    let response = Client::new()
        .post(unknown)
        .header("authorization", &auth)
        .header("ttl", "60")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let err = push
        .wait_for(1, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(err, TimedOut { wanted: 1, got: 0 });

    // The largest plaintext RFC 8291 allows still fits.
    let max = vec![b'x'; 3993];
    let response = post_push(&push, &sub, &auth, Some("60"), encrypt_for(&sub, &max)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn webpush_load_mode_samples_decryption_and_verifies_each_vapid_header_once() {
    let push = FakeWebPush::start().await;
    let sub = push.new_subscription();
    let key = vapid();
    let auth = vapid_authorization(&key.private, &push.base_url(), "mailto:a@b", now() + 3600);
    push.set_load_mode(3);
    let mut statuses = Vec::new();
    for i in 0..6 {
        let body = encrypt_for(&sub, format!("{{\"n\":{i}}}").as_bytes());
        statuses.push(
            post_push(&push, &sub, &auth, Some("60"), body)
                .await
                .status(),
        );
    }
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    let decrypted: Vec<Vec<u8>> = push.received().into_iter().map(|r| r.plaintext).collect();
    assert_eq!(
        decrypted,
        [&b"{\"n\":0}"[..], b"", b"", b"{\"n\":3}", b"", b""],
        "one payload in three is decrypted"
    );

    // A body that is not an aes128gcm record is refused even when it is not decrypted.
    let response = post_push(&push, &sub, &auth, Some("60"), vec![7u8; 120]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // A sampled body that does not decrypt is refused.
    let other = push.new_subscription();
    let mut refused = 0;
    for _ in 0..3 {
        let body = encrypt_for(&other, b"{}");
        if post_push(&push, &sub, &auth, Some("60"), body)
            .await
            .status()
            == StatusCode::BAD_REQUEST
        {
            refused += 1;
        }
    }
    assert_eq!(
        refused, 1,
        "the sampled one of three is decrypted and refused"
    );

    // The cached header still passes; a header whose signature was never checked is checked.
    let forged = auth.replacen("t=", "t=x", 1);
    let response = post_push(&push, &sub, &forged, Some("60"), encrypt_for(&sub, b"{}")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Back to checking everything: a payload for other keys is refused every time.
    push.set_load_mode(1);
    let response = post_push(&push, &sub, &auth, Some("60"), encrypt_for(&other, b"{}")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn webpush_scripted_failures() {
    let push = FakeWebPush::start().await;
    let gone = push.new_subscription();
    let busy = push.new_subscription();
    push.fail_subscription_with(&gone.id, WebPushFailure::Gone);
    push.fail_subscription_with(
        &busy.id,
        WebPushFailure::TooMany {
            retry_after_secs: Some(30),
            times: 1,
        },
    );
    let key = vapid();
    let auth = vapid_authorization(&key.private, &push.base_url(), "mailto:a@b", now() + 3600);

    let response = post_push(&push, &gone, &auth, Some("60"), encrypt_for(&gone, b"hi")).await;
    assert_eq!(response.status(), StatusCode::GONE);
    let response = post_push(&push, &busy, &auth, Some("60"), encrypt_for(&busy, b"hi")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "30");
    let response = post_push(&push, &busy, &auth, Some("60"), encrypt_for(&busy, b"hi")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    push.fail_subscription_with(
        &busy.id,
        WebPushFailure::Unavailable {
            retry_after_secs: None,
            times: 1,
        },
    );
    let response = post_push(&push, &busy, &auth, Some("60"), encrypt_for(&busy, b"hi")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!response.headers().contains_key("retry-after"));
    assert_eq!(push.delivered_for(&busy.id).len(), 1);
    assert!(push.delivered_for(&gone.id).is_empty());
}

/// Throughput of the FCM fake with its client on the same machine; run with `--ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn fcm_throughput() {
    let (_oauth, fcm, token) = fcm_with_token().await;
    fcm.set_record_messages(false);
    let total = 40_000;
    let clients: Vec<Client> = (0..4).map(|_| client()).collect();
    let url = format!("{}/v1/projects/{PROJECT}/messages:send", fcm.base_url());
    let body = message("device-load");
    let start = std::time::Instant::now();
    let workers = (0..200).map(|w| {
        let (client, url, token, body) = (
            clients[w % 4].clone(),
            url.clone(),
            token.clone(),
            body.clone(),
        );
        async move {
            for _ in 0..total / 200 {
                let s = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(s, StatusCode::OK);
            }
        }
    });
    futures_join_all(workers).await;
    fcm.wait_for(total, Duration::from_secs(1)).await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{total} FCM sends in {secs:.2}s: {:.0}/s over {} connections",
        total as f64 / secs,
        fcm.connections()
    );
}

#[tokio::test]
async fn gcp_auth_gets_a_token_from_the_fake_and_caches_it() {
    use gcp_auth::TokenProvider;
    let oauth = FakeOAuth::start().await;
    let fcm = FakeFcm::start(&oauth, PROJECT).await;
    let account =
        gcp_auth::CustomServiceAccount::from_json(&oauth.service_account_json(PROJECT)).unwrap();
    let token = account.token(&[FCM_SCOPE]).await.unwrap();
    assert!(
        oauth.is_valid_access_token(token.as_str()),
        "{:?}",
        oauth.rejections()
    );
    let again = account.token(&[FCM_SCOPE]).await.unwrap();
    assert_eq!(again.as_str(), token.as_str());
    assert_eq!(oauth.tokens_issued(), 1);
    let response = send(&fcm, Some(token.as_str()), &message("device-1")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

const SMS_SID: &str = "AC0123456789abcdef0123456789abcdef";
const SMS_TOKEN: &str = "sms-auth-token";

async fn text(
    sms: &FakeSms,
    sid: &str,
    auth: (&str, &str),
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let resp = Client::new()
        .post(format!(
            "{}/2010-04-01/Accounts/{sid}/Messages.json",
            sms.base_url()
        ))
        .basic_auth(auth.0, Some(auth.1))
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap())
}

#[tokio::test]
async fn sms_accepts_twilios_request_and_answers_a_message_resource() {
    let sms = FakeSms::start(SMS_SID, SMS_TOKEN).await;
    let form = [
        ("To", "+919800000001"),
        ("From", "+15005550006"),
        ("Body", "Ravi is at the gate & waiting"),
    ];
    let (status, body) = text(&sms, SMS_SID, (SMS_SID, SMS_TOKEN), &form).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["status"], "queued");
    assert!(body["sid"].as_str().unwrap().starts_with("SM"));
    sms.wait_for(1, Duration::from_secs(1)).await.unwrap();
    let got = &sms.delivered()[0];
    assert_eq!(
        (got.to.as_str(), got.body.as_str()),
        ("+919800000001", "Ravi is at the gate & waiting")
    );
}

#[tokio::test]
async fn sms_refuses_what_twilio_refuses() {
    let sms = FakeSms::start(SMS_SID, SMS_TOKEN).await;
    let good = [
        ("To", "+919800000001"),
        ("From", "+15005550006"),
        ("Body", "hi"),
    ];
    let (s, b) = text(&sms, SMS_SID, (SMS_SID, "wrong"), &good).await;
    assert_eq!(
        (s, b["code"].as_u64()),
        (StatusCode::UNAUTHORIZED, Some(20003))
    );
    let (s, b) = text(&sms, "ACother", (SMS_SID, SMS_TOKEN), &good).await;
    assert_eq!(
        (s, b["code"].as_u64()),
        (StatusCode::NOT_FOUND, Some(20404))
    );
    let cases: [(&[(&str, &str)], u64); 4] = [
        (
            &[
                ("To", "9800000001"),
                ("From", "+15005550006"),
                ("Body", "hi"),
            ],
            21211,
        ),
        (&[("To", "+919800000001"), ("Body", "hi")], 21603),
        (&[("To", "+919800000001"), ("From", "+15005550006")], 21602),
        (
            &[
                ("To", "+919800000001"),
                ("From", "+15005550006"),
                ("Body", &"x".repeat(1601)),
            ],
            21617,
        ),
    ];
    for (form, code) in cases {
        let (s, b) = text(&sms, SMS_SID, (SMS_SID, SMS_TOKEN), form).await;
        assert_eq!(
            (s, b["code"].as_u64()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{form:?}"
        );
    }
    // A JSON body is not Twilio's format.
    let resp = Client::new()
        .post(format!(
            "{}/2010-04-01/Accounts/{SMS_SID}/Messages.json",
            sms.base_url()
        ))
        .basic_auth(SMS_SID, Some(SMS_TOKEN))
        .json(&json!({"To": "+919800000001", "From": "+15005550006", "Body": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    sms.fail_next(1);
    let (s, _) = text(&sms, SMS_SID, (SMS_SID, SMS_TOKEN), &good).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _) = text(&sms, SMS_SID, (SMS_SID, SMS_TOKEN), &good).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(sms.delivered().len(), 1);
}

/// A well-formed number that is no phone's is a 400 with code 21211, every time; a rate limit
/// is a 429 with code 20429 and the scripted `Retry-After`, as many times as scripted.
#[tokio::test]
async fn sms_answers_an_invalid_number_400_and_a_rate_limit_429() {
    let sms = FakeSms::start(SMS_SID, SMS_TOKEN).await;
    sms.mark_invalid("+15005550001");
    let to = |n| [("To", n), ("From", "+15005550006"), ("Body", "hi")];
    for _ in 0..2 {
        let (s, b) = text(&sms, SMS_SID, (SMS_SID, SMS_TOKEN), &to("+15005550001")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert_eq!(b["code"], 21211, "{b}");
        assert_eq!(b["more_info"], "https://www.twilio.com/docs/errors/21211");
    }
    sms.rate_limit_next(1, Some(7));
    let resp = Client::new()
        .post(format!(
            "{}/2010-04-01/Accounts/{SMS_SID}/Messages.json",
            sms.base_url()
        ))
        .basic_auth(SMS_SID, Some(SMS_TOKEN))
        .form(&to("+919800000001"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "7");
    let b: Value = resp.json().await.unwrap();
    assert_eq!(
        (b["code"].as_u64(), b["status"].as_u64()),
        (Some(20429), Some(429)),
        "{b}"
    );
    let (s, _) = text(&sms, SMS_SID, (SMS_SID, SMS_TOKEN), &to("+919800000001")).await;
    assert_eq!(s, StatusCode::CREATED);
    let codes: Vec<_> = sms.received().iter().map(|r| r.error_code).collect();
    assert_eq!(codes, [Some(21211), Some(21211), Some(20429), None]);
    assert_eq!(sms.delivered().len(), 1);
}

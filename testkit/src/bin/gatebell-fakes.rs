//! The FCM, Google OAuth and Web Push fakes as a process, for tests written in other languages
//! (the React Native example's Node test) and for measuring a release server from outside
//! (`server/examples/throughput.rs`): `gatebell-fakes <credentials-file>`.
//!
//! Writes the service-account key for `gatebell serve --fcm-credentials` to the file, prints
//! one JSON line `{"fcmEndpoint", "webPushOrigin", "control"}` and serves until its standard
//! input closes. On `control`:
//! - `GET /fcm/received`: every request the fake FCM received, in order:
//!   `[{ "token", "status", "error", "message" }]` (`message` as sent);
//! - `POST /fcm/record` `{"on": false}`: stop keeping messages (counts still run), for load;
//! - `POST /webpush/subscriptions` `{"count": n}`: `n` new browser subscriptions
//!   (`[{ "endpoint", "keys": { "p256dh", "auth" } }]`) whose pushes the fake decrypts;
//! - `POST /webpush/load` `{"decryptEvery": n}`: load mode for throughput runs, where this
//!   process shares the machine with the sender: one payload in `n` is decrypted (every body's
//!   `aes128gcm` header is still checked) and a VAPID header's signature is verified once, then
//!   only its expiry; `1` checks everything on every request again;
//! - `GET /webpush/received`: every request the fake push service received, in order:
//!   `[{ "subscriptionId", "status", "payload" }]`, `payload` the decrypted plaintext as JSON
//!   (null when it did not decrypt or is not JSON); a subscription's id is its endpoint's last
//!   path segment;
//! - `GET /stats`: `{ "fcmDelivered", "fcmConnections", "webPushDelivered",
//!   "webPushConnections" }`;
//! - `GET /arrivals`: when each delivered message that names a visit arrived, as Unix
//!   microseconds (`[{ "provider": "fcm" | "webpush", "visitId", "atUs" }]`), for measuring
//!   walk-in → push latency from another process. FCM messages are read while recording is on;
//!   Web Push payloads are the fake's decrypted plaintext.

use std::io::Read;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use gatebell_testkit::{FakeFcm, FakeOAuth, FakeWebPush};
use serde_json::{Value, json};

const PROJECT: &str = "gatebell-fakes";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(credentials) = std::env::args().nth(1) else {
        eprintln!("usage: gatebell-fakes <credentials-file>");
        std::process::exit(2);
    };
    let oauth = FakeOAuth::start().await;
    let fcm = FakeFcm::start(&oauth, PROJECT).await;
    let web = FakeWebPush::start().await;
    // As the real services do: the VAPID `aud` is the endpoint's origin, port included.
    web.set_strict_aud(true);
    if let Err(e) = std::fs::write(&credentials, oauth.service_account_json(PROJECT)) {
        eprintln!("writing {credentials}: {e}");
        std::process::exit(1);
    }
    let control = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("binding the control port: {e}");
            std::process::exit(1);
        }
    };
    let control_url = match control.local_addr() {
        Ok(a) => format!("http://{a}"),
        Err(e) => {
            eprintln!("control port: {e}");
            std::process::exit(1);
        }
    };
    let router = Router::new()
        .route("/fcm/received", get(received))
        .route("/fcm/record", post(record))
        .route("/webpush/subscriptions", post(subscriptions))
        .route("/webpush/load", post(load))
        .route("/webpush/received", get(webpush_received))
        .route("/stats", get(stats))
        .route("/arrivals", get(arrivals))
        .with_state(Fakes {
            fcm: fcm.clone(),
            web: web.clone(),
        });
    tokio::spawn(async move {
        let _ = axum::serve(control, router).await;
    });
    println!(
        "{}",
        json!({ "fcmEndpoint": fcm.base_url(), "webPushOrigin": web.base_url(), "control": control_url })
    );
    // Until the parent goes away: its end of our stdin closes.
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await;
}

#[derive(Clone)]
struct Fakes {
    fcm: FakeFcm,
    web: FakeWebPush,
}

async fn record(State(fakes): State<Fakes>, Json(body): Json<Value>) -> Json<Value> {
    let on = body["on"].as_bool().unwrap_or(true);
    fakes.fcm.set_record_messages(on);
    Json(json!({ "on": on }))
}

async fn load(State(fakes): State<Fakes>, Json(body): Json<Value>) -> Json<Value> {
    let every = body["decryptEvery"].as_u64().unwrap_or(1).max(1);
    fakes.web.set_load_mode(every);
    Json(json!({ "decryptEvery": every }))
}

/// At most this many subscriptions per call, so a typo cannot exhaust memory.
const MAX_SUBSCRIPTIONS: u64 = 100_000;

async fn subscriptions(State(fakes): State<Fakes>, Json(body): Json<Value>) -> Json<Value> {
    let count = body["count"].as_u64().unwrap_or(1).min(MAX_SUBSCRIPTIONS);
    let made: Vec<Value> = (0..count)
        .map(|_| json!(fakes.web.new_subscription().subscription))
        .collect();
    Json(Value::Array(made))
}

async fn stats(State(fakes): State<Fakes>) -> Json<Value> {
    Json(json!({
        "fcmDelivered": fakes.fcm.delivered_count(),
        "fcmConnections": fakes.fcm.connections(),
        "webPushDelivered": fakes.web.delivered_count(),
        "webPushConnections": fakes.web.connections(),
    }))
}

async fn received(State(Fakes { fcm, .. }): State<Fakes>) -> Json<Value> {
    let all: Vec<Value> = fcm
        .received()
        .into_iter()
        .map(|r| {
            json!({ "token": r.token, "status": r.status, "error": r.error, "message": r.message })
        })
        .collect();
    Json(Value::Array(all))
}

async fn webpush_received(State(Fakes { web, .. }): State<Fakes>) -> Json<Value> {
    let all: Vec<Value> = web
        .received()
        .into_iter()
        .map(|r| {
            let payload = r.json().unwrap_or(Value::Null);
            json!({ "subscriptionId": r.subscription_id, "status": r.status, "payload": payload })
        })
        .collect();
    Json(Value::Array(all))
}

async fn arrivals(State(fakes): State<Fakes>) -> Json<Value> {
    // `Instant`s are this process's own: each becomes wall-clock time by its age now.
    let (wall, mono) = (std::time::SystemTime::now(), std::time::Instant::now());
    let unix_us = |at: std::time::Instant| {
        (wall - mono.saturating_duration_since(at))
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64)
    };
    let mut out = Vec::new();
    for r in fakes.fcm.received() {
        if let (200, Some(visit)) = (r.status, r.message["data"]["visitId"].as_str()) {
            out.push(json!({ "provider": "fcm", "visitId": visit, "atUs": unix_us(r.at) }));
        }
    }
    for r in fakes.web.received() {
        let payload: Value = serde_json::from_slice(&r.plaintext).unwrap_or(Value::Null);
        if let (201, Some(visit)) = (r.status, payload["visitId"].as_str()) {
            out.push(json!({ "provider": "webpush", "visitId": visit, "atUs": unix_us(r.at) }));
        }
    }
    Json(Value::Array(out))
}

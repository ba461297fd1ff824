//! No secret in the logs at any level: the server binary runs with `RUST_LOG=trace` through
//! sign-in, device registration, invitations checked in by OTP and by QR code, the event stream
//! (`?access_token=`), `/internal/notify` and `PUT /internal/users/{id}` with the service key, a
//! backend's JWT, a walk-in escalated by SMS (the Twilio fake) and email (a real SMTP server),
//! its one-tap link page, a decision by the push's action token, the signed webhook that
//! reports it, a metrics scrape, FCM (OAuth) and Web Push deliveries and sign-out; then every
//! line it wrote is searched for each secret it handled.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use common::smtp::SmtpSink;
use gatebell_testkit::{FakeFcm, FakeOAuth, FakeSms, FakeWebPush};
use serde_json::{Value, json};

/// Priya's password; the demo accounts' password is printed by `--demo` on purpose.
const PASSWORD: &str = "priya-password-must-stay-secret";
const DEMO_PASSWORD: &str = "gatebell-demo";
const SERVICE_KEY: &str = "log-scan-service-key-5f1e2d3c";
const FCM_TOKEN: &str = "fcm-token-that-must-stay-secret-9c8b7a";
const SMS_SID: &str = "AC0000000000000000000000000000105c";
const SMS_TOKEN: &str = "sms-auth-token-must-stay-secret-77aa";
const PRIYA_PHONE: &str = "+919800000042";
/// `whsec_` and the base64 of 32 bytes; the base64 part is the key that must not leak.
const WEBHOOK_KEY: &str = "bG9nLXNjYW4td2ViaG9vay1rZXktMzItYnl0ZXMhIQ==";
const JWT_SECRET: &str = "log-scan-hs256-secret-at-least-32-bytes-long";
const CODE_SECRET: &str = "log-scan-code-secret-0123456789abcdef";
const METRICS_TOKEN: &str = "log-scan-metrics-token-3e4f5a6b";

struct Client {
    url: String,
    http: reqwest::Client,
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, bearer: &str, body: Value) -> Value {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.url))
            .json(&body);
        if !bearer.is_empty() {
            r = r.bearer_auth(bearer);
        }
        let r = r.send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    async fn login(&self, email: &str, password: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        v["token"].as_str().unwrap().to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log_at_trace_level() {
    let oauth = FakeOAuth::start().await;
    let fcm = FakeFcm::start(&oauth, "log-scan").await;
    let web = FakeWebPush::start().await;
    let dir = tempfile::tempdir().unwrap();
    let credentials = oauth.service_account_json("log-scan");
    let key_path = dir.path().join("fcm.json");
    std::fs::write(&key_path, &credentials).unwrap();
    let db_url = format!("sqlite://{}/g.db?mode=rwc", dir.path().display());
    let sms = FakeSms::start(SMS_SID, SMS_TOKEN).await;
    let smtp = SmtpSink::start();
    let (webhook_url, webhooks) = webhook_receiver().await;

    // A resident of our own, whose password is not the demo's.
    let mut add = Command::new(env!("CARGO_BIN_EXE_gatebell"))
        .args([
            "user",
            "add",
            "--role",
            "resident",
            "--email",
            "priya@log.scan",
        ])
        .args([
            "--name",
            "Priya",
            "--unit",
            "A-101",
            "--database-url",
            &db_url,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        writeln!(add.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    }
    assert!(add.wait().unwrap().success());

    let mut child = Command::new(env!("CARGO_BIN_EXE_gatebell"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--demo",
            "--push-allow-http",
        ])
        .args(["--database-url", &db_url, "--service-key", SERVICE_KEY])
        .args([
            "--fcm-endpoint",
            &fcm.base_url(),
            "--push-allow-hosts",
            "127.0.0.1",
        ])
        .arg("--fcm-credentials")
        .arg(&key_path)
        .args([
            "--sms-api-url",
            &sms.base_url(),
            "--sms-account-sid",
            SMS_SID,
        ])
        .args(["--sms-auth-token", SMS_TOKEN, "--sms-from", "+15005550006"])
        .args([
            "--smtp-url",
            &smtp.url(),
            "--smtp-from",
            "Gate <gate@log.scan>",
        ])
        .args(["--escalate-after", "1"])
        .args(["--webhook-url", &format!("{webhook_url}/hook")])
        .args(["--webhook-secret", &format!("whsec_{WEBHOOK_KEY}")])
        .args([
            "--jwt-hs256-secret",
            JWT_SECRET,
            "--code-secret",
            CODE_SECRET,
        ])
        .args([
            "--jwt-issuer",
            "https://backend.log.scan",
            "--jwt-audience",
            "gatebell",
        ])
        .args(["--metrics-token", METRICS_TOKEN])
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gatebell");
    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let err_log = log.clone();
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        err_log.lock().unwrap().push_str(&text);
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("gatebell printed its address").unwrap();
        {
            let mut l = log.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
        if let Some(u) = line.strip_prefix("Gatebell listening on ") {
            break u.to_owned();
        }
    };
    let out_log = log.clone();
    let out_reader = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let mut l = out_log.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });

    let c = Client {
        url,
        http: reqwest::Client::new(),
    };
    let post = reqwest::Method::POST;
    let priya = c.login("priya@log.scan", PASSWORD).await;
    let guard = c.login("guard@demo.gatebell", DEMO_PASSWORD).await;
    let vapid = c
        .http
        .get(format!("{}/api/v1/notifications/vapid-public-key", c.url))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    web.expect_vapid_key(vapid["publicKey"].as_str().unwrap());
    let register = "/api/v1/notifications/register-device";
    c.call(
        post.clone(),
        register,
        &priya,
        json!({"token": FCM_TOKEN, "platform": "android"}),
    )
    .await;
    let browser = web.new_subscription();
    c.call(
        post.clone(),
        register,
        &priya,
        json!({"token": browser.subscription.endpoint, "platform": "web", "subscription": browser.subscription}),
    )
    .await;
    // The event stream, authenticated in its query string as EventSource must.
    let stream = c
        .http
        .get(format!(
            "{}/api/v1/notifications/stream?access_token={priya}",
            c.url
        ))
        .send()
        .await
        .unwrap();
    assert!(stream.status().is_success());
    let invite = c
        .call(
            post.clone(),
            "/api/v1/visits",
            &priya,
            json!({"visitorName": "Meera"}),
        )
        .await;
    let otp = invite["otp"].as_str().unwrap().to_owned();
    c.call(
        post.clone(),
        "/api/v1/visits/checkin",
        &guard,
        json!({"otp": otp}),
    )
    .await;
    let invite = c
        .call(
            post.clone(),
            "/api/v1/visits",
            &priya,
            json!({"visitorName": "Kiran"}),
        )
        .await;
    let qr = invite["qr"].as_str().unwrap().to_owned();
    c.call(
        post.clone(),
        "/api/v1/visits/checkin",
        &guard,
        json!({"qr": qr}),
    )
    .await;
    let me = c
        .call(reqwest::Method::GET, "/api/v1/me", &priya, Value::Null)
        .await;
    c.call(
        post.clone(),
        "/api/v1/internal/notify",
        SERVICE_KEY,
        json!({"userId": me["id"], "type": "parcel", "title": "Parcel", "body": "At the gate"}),
    )
    .await;

    // The backend: a user put through the internal API, then signed in by its JWT.
    c.call(
        reqwest::Method::PUT,
        "/api/v1/internal/users/ext-log-scan",
        SERVICE_KEY,
        json!({"name": "Ext Resident", "role": "resident", "unit": "B-202"}),
    )
    .await;
    let backend_jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "ext-log-scan", "role": "resident", "unit": "B-202",
                "iss": "https://backend.log.scan", "aud": "gatebell",
                "exp": jsonwebtoken::get_current_timestamp() + 600}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let ext_me = c
        .call(
            reqwest::Method::GET,
            "/api/v1/me",
            &backend_jwt,
            Value::Null,
        )
        .await;
    assert_eq!(ext_me["name"], "Ext Resident", "{ext_me}");

    // A walk-in for Priya that nobody answers in a second: texted and emailed with links.
    c.call(
        reqwest::Method::PUT,
        "/api/v1/me/preferences",
        &priya,
        json!({"phone": PRIYA_PHONE}),
    )
    .await;
    let walkin = c
        .call(
            post.clone(),
            "/api/v1/visits/walkin",
            &guard,
            json!({"visitorName": "Ravi", "hostId": me["id"], "purpose": "parcel"}),
        )
        .await;
    let visit_id = walkin["id"].as_str().unwrap().to_owned();
    let action_token_of = || {
        fcm.delivered_for(FCM_TOKEN)
            .iter()
            .find_map(|m| m.message["data"]["actionToken"].as_str().map(str::to_owned))
    };
    wait_until(|| action_token_of().is_some()).await;
    let action_token = action_token_of().unwrap();
    // Two check-ins, the notice and the walk-in, to the browser too.
    web.wait_for(4, Duration::from_secs(15)).await.unwrap();
    sms.wait_for(1, Duration::from_secs(15)).await.unwrap();
    // The household is emailed too: wait for Priya's own email among theirs.
    let priyas = || {
        smtp.received()
            .into_iter()
            .find(|e| e["rcpt_tos"][0] == "priya@log.scan")
    };
    wait_until(|| priyas().is_some()).await;
    let text = sms.delivered()[0].body.clone();
    let sms_link = link_after(&text, "Approve:");
    let mail_text = priyas().unwrap()["text"].as_str().unwrap().to_owned();
    let mail_link = link_after(&mail_text, "Reject:");
    // Opening a link shows its page (and decides nothing).
    let page = c.http.get(&sms_link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    c.call(
        post.clone(),
        &format!("/api/v1/visits/{visit_id}/decision"),
        "",
        json!({"decision": "approve", "actionToken": action_token}),
    )
    .await;
    wait_until(|| webhooks.load(std::sync::atomic::Ordering::SeqCst) >= 1).await;
    let metrics = c
        .http
        .get(format!("{}/metrics", c.url))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);

    drop(stream);
    c.call(post.clone(), "/api/v1/auth/logout", &priya, Value::Null)
        .await;

    // SIGTERM, so the process flushes and exits by itself.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    out_reader.join().unwrap();
    err_reader.join().unwrap();
    let log = log.lock().unwrap().clone();

    // The log is really at trace level (else this test proves nothing).
    assert!(
        log.lines().count() > 200,
        "only {} lines",
        log.lines().count()
    );
    assert!(log.contains("TRACE"), "no trace lines");
    for route in [
        "/api/v1/visits/checkin",
        "/a/{token}",
        "/api/v1/visits/{id}/decision",
        "/api/v1/internal/users/{id}",
    ] {
        assert!(
            log.contains(&format!("route={route}")),
            "requests to {route} are not logged by their route"
        );
    }

    assert!(oauth.tokens_issued() >= 1, "FCM sends used no access token");
    let pem_line = credentials
        .split("\\n")
        .find(|l| l.len() > 40 && !l.contains("BEGIN"))
        .unwrap()
        .to_owned();
    let vapid_private = vapid_private_key(&db_url).await;
    // `…/a/<token>?d=approve`: the token alone.
    let link_token = |url: &str| {
        let last = url.rsplit('/').next().unwrap();
        last.split('?').next().unwrap().to_owned()
    };
    let sms_basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{SMS_SID}:{SMS_TOKEN}"));
    let mut secrets: Vec<(&str, String)> = vec![
        ("the QR code", qr.clone()),
        ("the walk-in's action token", action_token.clone()),
        ("the SMS's link token", link_token(&sms_link)),
        ("the email's link token", link_token(&mail_link)),
        ("the webhook secret", WEBHOOK_KEY.into()),
        ("the SMS auth token", SMS_TOKEN.into()),
        ("the SMS Basic credentials", sms_basic),
        ("the backend's JWT", backend_jwt.clone()),
        ("the JWT HS256 secret", JWT_SECRET.into()),
        ("the code secret", CODE_SECRET.into()),
        ("the metrics token", METRICS_TOKEN.into()),
        ("password", PASSWORD.into()),
        ("Priya's session token", priya.clone()),
        ("the guard's session token", guard.clone()),
        ("the OTP", otp.clone()),
        ("the service key", SERVICE_KEY.into()),
        ("the FCM token", FCM_TOKEN.into()),
        (
            "the Web Push endpoint",
            browser.subscription.endpoint.clone(),
        ),
        (
            "the Web Push auth secret",
            browser.subscription.keys.auth.clone(),
        ),
        ("the service account's private key", pem_line),
        ("the VAPID private key", vapid_private),
        (
            "a signed JWT (OAuth assertion or VAPID)",
            "eyJ0eXAiOiJKV1Qi".into(),
        ),
        (
            "a signed JWT (OAuth assertion or VAPID)",
            "eyJhbGciOi".into(),
        ),
    ];
    // Every access token the fake OAuth endpoint issues starts so (as Google's do).
    secrets.push(("an OAuth access token", "ya29.".into()));
    let leaks: Vec<String> = secrets
        .iter()
        .filter(|(_, s)| log.contains(s.as_str()))
        .map(|(what, s)| {
            let line = log.lines().find(|l| l.contains(s.as_str())).unwrap_or("");
            format!("{what} appears in: {}", &line[..line.len().min(300)])
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "secrets in the log:\n{}",
        leaks.join("\n")
    );
}

/// The URL after `label` in a text (up to the next space or line end).
fn link_after(text: &str, label: &str) -> String {
    let start = text
        .find(label)
        .unwrap_or_else(|| panic!("no {label} in {text}"))
        + label.len();
    text[start..].split_whitespace().next().unwrap().to_owned()
}

/// A webhook receiver answering 204 to every POST; its base URL and how many it received.
async fn webhook_receiver() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, count)
}

/// Polls `done` until it holds (the test's own deadline stops a hang).
async fn wait_until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "gave up waiting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn vapid_private_key(db_url: &str) -> String {
    let db = gatebell_server::db::Db::connect(db_url).await.unwrap();
    let key = gatebell_server::db::settings::get(&db, "vapid_private_key")
        .await
        .unwrap()
        .expect("a VAPID key was stored");
    db.close().await;
    key
}

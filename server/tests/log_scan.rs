//! No secret in the logs at any level: the release binary runs with `RUST_LOG=trace` through
//! sign-in, device registration, an invitation checked in by OTP, a walk-in, the event stream
//! (`?access_token=`), `/internal/notify` with the service key, FCM (OAuth) and Web Push
//! deliveries and sign-out; then every line it wrote is searched for each secret it handled.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatebell_testkit::{FakeFcm, FakeOAuth, FakeWebPush};
use serde_json::{Value, json};

/// Priya's password; the demo accounts' password is printed by `--demo` on purpose.
const PASSWORD: &str = "priya-password-must-stay-secret";
const DEMO_PASSWORD: &str = "gatebell-demo";
const SERVICE_KEY: &str = "log-scan-service-key-5f1e2d3c";
const FCM_TOKEN: &str = "fcm-token-that-must-stay-secret-9c8b7a";

struct Client {
    url: String,
    http: reqwest::Client,
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, bearer: &str, body: Value) -> Value {
        let r = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await
            .unwrap();
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
    let me = c
        .http
        .get(format!("{}/api/v1/me", c.url))
        .bearer_auth(&priya)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    c.call(
        post.clone(),
        "/api/v1/internal/notify",
        SERVICE_KEY,
        json!({"userId": me["id"], "type": "parcel", "title": "Parcel", "body": "At the gate"}),
    )
    .await;
    fcm.wait_for(2, Duration::from_secs(15)).await.unwrap();
    web.wait_for(2, Duration::from_secs(15)).await.unwrap();
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
    assert!(
        log.contains("/api/v1/visits/checkin"),
        "requests are not logged"
    );

    assert!(oauth.tokens_issued() >= 1, "FCM sends used no access token");
    let pem_line = credentials
        .split("\\n")
        .find(|l| l.len() > 40 && !l.contains("BEGIN"))
        .unwrap()
        .to_owned();
    let vapid_private = vapid_private_key(&db_url).await;
    let mut secrets: Vec<(&str, String)> = vec![
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

async fn vapid_private_key(db_url: &str) -> String {
    let db = gatebell_server::db::Db::connect(db_url).await.unwrap();
    let key = gatebell_server::db::settings::get(&db, "vapid_private_key")
        .await
        .unwrap()
        .expect("a VAPID key was stored");
    db.close().await;
    key
}

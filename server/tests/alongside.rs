//! Gatebell beside an existing backend, end to end against real processes: the Python example
//! backend (`examples/python-backend`) issues JWTs from its own key set, hands over walk-ins and
//! check-ins, and verifies the decisions' webhooks with the `standardwebhooks` package from
//! PyPI; a fake push service decrypts the push; the Approve action goes through the core's
//! routing with the push's action token after the JWT has expired. On SQLite and PostgreSQL.
//!
//! The backend runs in a Python venv made from its `requirements.txt` on first use and cached
//! ([`common::python::venv`]), so these tests need `python3` and, once, PyPI.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::process::Process;
use common::{Backend, TestApp, assert_conflict_naming, assert_error, scalar, wait_for_count};
use gatebell_core::protocol::PushPayload;
use gatebell_core::routing;
use gatebell_testkit::FakeWebPush;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SERVICE_KEY: &str = "alongside-service-key-0123456789";
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The whole story's JWTs live this long: enough to register and hand over a walk-in on a busy
/// machine, short enough to wait out before Approve.
const JWT_TTL_SECS: u64 = 8;

/// The example backend's venv.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        common::python::venv("python-backend", &example_dir().join("requirements.txt"))
    })
}

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python-backend")
}

/// The backend's listening socket, bound by the test before Gatebell (whose flags name its
/// port) starts, and handed to the backend process: nothing else can take the port between.
struct BackendSocket(std::net::TcpListener);

impl BackendSocket {
    /// On a port the system picks.
    fn new() -> BackendSocket {
        BackendSocket(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// On `port` again, for a backend that restarts where Gatebell knows it; fails loudly
    /// if another process took the port meanwhile.
    fn on(port: u16) -> BackendSocket {
        BackendSocket(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap())
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }
}

/// A port held for a backend that never runs: bound but not listening, so a connection to it
/// is refused at once and no other process can take it while the test runs.
struct RefusingPort {
    /// Held, not read: the port is ours while it is open.
    _socket: std::os::fd::OwnedFd,
    port: u16,
}

impl RefusingPort {
    fn new() -> RefusingPort {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        // SAFETY: plain socket calls on a descriptor this function owns from its creation.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let owned = OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(owned.as_raw_fd(), (&raw const addr).cast(), len);
            assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
            let mut len = len;
            let named = libc::getsockname(owned.as_raw_fd(), (&raw mut addr).cast(), &mut len);
            assert_eq!(named, 0, "getsockname: {}", std::io::Error::last_os_error());
            RefusingPort {
                _socket: owned,
                port: u16::from_be(addr.sin_port),
            }
        }
    }
}

/// The example backend, as a process.
struct PyBackend {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl PyBackend {
    /// The backend serving on `socket`; the test keeps no copy of it, so once the backend
    /// is killed its port refuses connections.
    fn start(socket: BackendSocket, gatebell: &str, jwt_ttl: u64, sync: bool) -> PyBackend {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        const LISTEN_FD: i32 = 10;
        let port = socket.port();
        let fd = socket.0.as_raw_fd();
        let mut cmd = Command::new(python());
        cmd.arg(example_dir().join("backend.py"))
            .args(["--port", &port.to_string(), "--gatebell", gatebell])
            .args(["--listen-fd", &LISTEN_FD.to_string()])
            .args([
                "--service-key",
                SERVICE_KEY,
                "--webhook-secret",
                WEBHOOK_SECRET,
            ])
            .args(["--jwt-ttl", &jwt_ttl.to_string()])
            .stdout(Stdio::piped());
        if !sync {
            cmd.arg("--no-sync");
        }
        // SAFETY: between fork and exec only dup2, which is async-signal-safe; the copy it
        // makes is not close-on-exec, so the backend inherits the socket as LISTEN_FD.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(fd, LISTEN_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("start the Python backend");
        drop(socket);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines
            .next()
            .expect("the backend printed its address or died")
            .unwrap();
        assert!(line.starts_with("backend listening on "), "{line}");
        std::thread::spawn(move || for _ in lines {});
        PyBackend {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn login(&self, user: &str) -> String {
        let (s, v) = self.post("/login", json!({"userId": user})).await;
        assert_eq!(s, 200, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }

    /// The webhooks the backend received and `standardwebhooks` verified.
    async fn events(&self) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/events", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v.as_array().unwrap().clone()
    }

    /// Waits for a verified webhook about `visit_id`.
    async fn wait_for_event(&self, visit_id: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let found = self
                .events()
                .await
                .into_iter()
                .find(|e| e["event"]["data"]["visitId"] == visit_id);
            if let Some(e) = found {
                return e;
            }
            assert!(
                start.elapsed() < timeout,
                "no verified webhook for {visit_id} within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for PyBackend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `gatebell serve` flags for a server beside the backend on `port`.
fn flags(port: u16) -> Vec<String> {
    let backend = format!("http://127.0.0.1:{port}");
    [
        "--service-key",
        SERVICE_KEY,
        "--jwt-jwks-url",
        &format!("{backend}/.well-known/jwks.json"),
        "--jwt-jwks-allow-private",
        "--jwt-issuer",
        "https://backend.example",
        "--jwt-audience",
        "gatebell",
        "--jwt-leeway",
        "0",
        "--webhook-url",
        &format!("{backend}/webhooks/gatebell"),
        "--webhook-secret",
        WEBHOOK_SECRET,
        "--webhook-retry-max",
        "1",
        "--push-allow-hosts",
        "127.0.0.1",
        "--push-allow-http",
    ]
    .map(str::to_owned)
    .to_vec()
}

async fn app(b: Backend, port: u16) -> TestApp {
    let flags = flags(port);
    let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    TestApp::start_with(b, &refs).await
}

async fn the_whole_story(b: Backend) {
    let socket = BackendSocket::new();
    let push = FakeWebPush::start().await;
    let app = app(b, socket.port()).await;
    app.pin_vapid_key(&push).await;
    let backend = PyBackend::start(socket, &app.url, JWT_TTL_SECS, true);

    // The backend's JWT signs in; the user it PUT is the one the token names.
    let jwt = backend.login("res-asha").await;
    let (s, me) = app.get("/api/v1/me", &jwt).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["name"], "Asha Rao");
    assert_eq!(me["unit"], "A-101");
    let sub = push.new_subscription();
    app.register_browser(&jwt, &sub).await;

    // The backend's gate desk hands over a walk-in; handing it over again changes nothing.
    let walkin = json!({"visitId": "desk-visit-1", "hostId": "res-asha",
                        "visitorName": "Vikram", "purpose": "courier"});
    let (s, visit) = backend.post("/walkins", walkin.clone()).await;
    assert_eq!(s, 201, "{visit}");
    assert_eq!(visit["externalId"], "desk-visit-1");
    assert_eq!(visit["status"], "PENDING");
    let visit_id = visit["id"].as_str().unwrap().to_owned();
    let notifications = format!("SELECT COUNT(*) FROM notifications WHERE visit_id = '{visit_id}'");
    let asked = scalar(&app.state().db, &notifications).await;
    assert!(asked >= 1);
    let (s, again) = backend.post("/walkins", walkin).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["id"], visit["id"]);
    assert_eq!(scalar(&app.state().db, &notifications).await, asked);

    // The push, as the browser decrypts it, carries the action token.
    push.wait_for(1, Duration::from_secs(10)).await.unwrap();
    let received = push.delivered_for(&sub.id);
    assert_eq!(received.len(), 1);
    let payload: PushPayload = serde_json::from_slice(&received[0].plaintext).unwrap();
    assert_eq!(payload.visit_id.as_deref(), Some(visit_id.as_str()));
    let token = payload.action_token.clone().expect("an action token");

    // The JWT expires (4 s, no leeway) before the resident presses Approve.
    let start = Instant::now();
    while app.get("/api/v1/me", &jwt).await.0 != StatusCode::UNAUTHORIZED {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the JWT never expired"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Approve, routed as the service worker routes it: no session, the push's token.
    let route = routing::route(&payload, Some(gatebell_core::protocol::ACTION_APPROVE));
    let call = route.decision_call(&token).expect("a decision call");
    let (s, decided) = app
        .call(
            Method::POST,
            &call.path,
            None,
            Some(serde_json::to_value(&call.body).unwrap()),
        )
        .await;
    assert_eq!(s, 200, "{decided}");
    assert_eq!(decided["status"], "APPROVED");
    assert_eq!(decided["decidedBy"], "Asha Rao");
    // Single use: the same token again is refused.
    let again = app
        .call(
            Method::POST,
            &call.path,
            None,
            Some(serde_json::to_value(&call.body).unwrap()),
        )
        .await;
    assert_error(&again, 403, "forbidden");

    // The backend hears of it, verified by standardwebhooks.
    let event = backend
        .wait_for_event(&visit_id, Duration::from_secs(10))
        .await;
    assert_eq!(event["event"]["type"], "visit.approved");
    let data = &event["event"]["data"];
    assert_eq!(data["externalVisitId"], "desk-visit-1");
    assert_eq!(data["status"], "APPROVED");
    assert_eq!(data["decidedByExternalId"], "res-asha");
    assert!(event["id"].as_str().is_some_and(|id| !id.is_empty()));

    // The receiver really verifies: a forged signature is refused.
    let forged = reqwest::Client::new()
        .post(format!("{}/webhooks/gatebell", backend.url))
        .header("webhook-id", "msg_forged")
        .header(
            "webhook-timestamp",
            (gatebell_server::db::now_ms() / 1000).to_string(),
        )
        .header(
            "webhook-signature",
            "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .body(r#"{"type":"visit.approved"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);

    // A check-in handed over notifies the host; its id cannot be reused for a walk-in.
    let (s, arrived) = backend
        .post(
            "/checkins",
            json!({"visitId": "desk-visit-2", "hostId": "res-asha", "visitorName": "Meera"}),
        )
        .await;
    assert_eq!(s, 201, "{arrived}");
    assert_eq!(arrived["status"], "CHECKED_IN");
    let clash = backend
        .post(
            "/walkins",
            json!({"visitId": "desk-visit-2", "hostId": "res-asha", "visitorName": "Meera"}),
        )
        .await;
    assert_eq!(clash.0, 409, "{}", clash.1);
    let start = Instant::now();
    let arrival = loop {
        let found = push
            .delivered_for(&sub.id)
            .iter()
            .filter_map(|r| r.json())
            .find(|p| p["type"] == "visitor_arrived");
        if let Some(p) = found {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no visitor_arrived push"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(arrival["visitId"], arrived["id"]);
    assert!(arrival.get("actionToken").is_none(), "{arrival}");
}

/// A second walk-in for Asha through the internal API; returns its id and the push's token.
async fn internal_walkin(app: &TestApp, external_id: &str, host: &str) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        "/api/v1/internal/walkins",
        Some(SERVICE_KEY),
        Some(
            json!({"externalVisitId": external_id, "hostExternalId": host, "visitorName": "Ravi"}),
        ),
    )
    .await
}

async fn put_user(app: &TestApp, id: &str, body: Value) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        &format!("/api/v1/internal/users/{id}"),
        Some(SERVICE_KEY),
        Some(body),
    )
    .await
}

async fn users_and_visits_from_the_backend(b: Backend) {
    let no_backend = RefusingPort::new();
    let app = app(b, no_backend.port).await;
    // Create, then update; the answer says which.
    let asha = json!({"name": "Asha", "email": "Asha@Backend.example", "phone": "+919800000001",
                      "role": "resident", "unit": "B-7"});
    let (s, made) = put_user(&app, "ext-asha", asha.clone()).await;
    assert_eq!(s, 201, "{made}");
    assert_eq!(made["externalId"], "ext-asha");
    assert_eq!(made["email"], "asha@backend.example");
    assert_eq!(made["phone"], "+919800000001");
    let (s, updated) = put_user(
        &app,
        "ext-asha",
        json!({"name": "Asha Rao", "role": "resident", "unit": "B-8"}),
    )
    .await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["id"], made["id"]);
    assert_eq!(updated["unit"], "B-8");
    assert_eq!(
        updated["email"], "asha@backend.example",
        "an absent email is kept"
    );
    assert!(updated.get("phone").is_none(), "{updated}");
    // Bad input is a 4xx with a message.
    let bad_phone = put_user(
        &app,
        "x",
        json!({"name": "X", "role": "guard", "phone": "98000"}),
    )
    .await;
    assert_error(&bad_phone, 422, "validation");
    let no_unit = put_user(&app, "x", json!({"name": "X", "role": "resident"})).await;
    assert_error(&no_unit, 422, "validation");
    let taken = put_user(
        &app,
        "x",
        json!({"name": "X", "role": "guard", "email": "asha@backend.example"}),
    )
    .await;
    assert_error(&taken, 409, "conflict");
    let unknown_field = put_user(
        &app,
        "x",
        json!({"name": "X", "role": "guard", "admin": true}),
    )
    .await;
    assert_eq!(unknown_field.0.as_u16(), 422, "{}", unknown_field.1);
    let no_key = app
        .call(
            Method::PUT,
            "/api/v1/internal/users/x",
            None,
            Some(json!({"name": "X", "role": "guard"})),
        )
        .await;
    assert_error(&no_key, 401, "unauthorized");

    // Walk-ins: an unknown or non-resident host is refused; the same id twice at once makes one.
    assert_error(
        &internal_walkin(&app, "v-1", "nobody").await,
        422,
        "validation",
    );
    let (s, v) = put_user(&app, "ext-guard", json!({"name": "Gate", "role": "guard"})).await;
    assert_eq!(s, 201, "{v}");
    assert_error(
        &internal_walkin(&app, "v-1", "ext-guard").await,
        422,
        "validation",
    );
    assert_error(
        &internal_walkin(&app, "bad id!", "ext-asha").await,
        422,
        "validation",
    );
    let (a, b2) = tokio::join!(
        internal_walkin(&app, "v-2", "ext-asha"),
        internal_walkin(&app, "v-2", "ext-asha")
    );
    assert_eq!(a.1["id"], b2.1["id"], "{} {}", a.1, b2.1);
    let mut codes = [a.0.as_u16(), b2.0.as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 201]);
    let db = &app.state().db;
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM visits WHERE external_id = 'v-2'").await,
        1
    );
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM action_tokens a JOIN visits v ON v.id = a.visit_id WHERE v.external_id = 'v-2'").await,
        1
    );
    // A standalone account is still reachable by its Gatebell id.
    let guard = app.login("guard@demo.gatebell").await;
    let resident = app.resident_id(&guard, "asha").await;
    let (s, v) = internal_walkin(&app, "v-3", &resident).await;
    assert_eq!(s, 201, "{v}");

    // Deleting by the backend's id revokes everything the user had (and they had some).
    let uid = made["id"].as_str().unwrap();
    for table in ["action_tokens", "notifications"] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE user_id = '{uid}'");
        assert!(scalar(db, &sql).await > 0, "{table}");
    }
    let del = app
        .call(
            Method::DELETE,
            "/api/v1/internal/users/ext-asha",
            Some(SERVICE_KEY),
            None,
        )
        .await;
    assert_eq!(del.0, 204, "{}", del.1);
    assert_eq!(
        scalar(
            db,
            &format!("SELECT COUNT(*) FROM action_tokens WHERE user_id = '{uid}'")
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            db,
            &format!("SELECT COUNT(*) FROM notifications WHERE user_id = '{uid}'")
        )
        .await,
        0
    );
    let again = app
        .call(
            Method::DELETE,
            "/api/v1/internal/users/ext-asha",
            Some(SERVICE_KEY),
            None,
        )
        .await;
    assert_error(&again, 404, "not_found");
}

async fn action_tokens_are_single_use_scoped_and_lose_to_the_first_answer(b: Backend) {
    let push = FakeWebPush::start().await;
    let no_backend = RefusingPort::new();
    let app = app(b, no_backend.port).await;
    app.pin_vapid_key(&push).await;
    // A demo resident with a browser, and two walk-ins for her.
    let asha = app.login("asha@demo.gatebell").await;
    let sub = push.new_subscription();
    app.register_browser(&asha, &sub).await;
    let guard = app.login("guard@demo.gatebell").await;
    let host = app.resident_id(&guard, "asha").await;
    let mut visits = Vec::new();
    for name in ["Ravi", "Meera"] {
        let (s, v) = app
            .post(
                "/api/v1/visits/walkin",
                &guard,
                json!({"visitorName": name, "hostId": host, "purpose": "visit"}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        visits.push(v["id"].as_str().unwrap().to_owned());
    }
    push.wait_for(2, Duration::from_secs(10)).await.unwrap();
    let token_of = |visit: &str| -> String {
        push.delivered_for(&sub.id)
            .iter()
            .filter_map(|r| r.json())
            .find(|p| p["visitId"] == visit)
            .and_then(|p| p["actionToken"].as_str().map(str::to_owned))
            .expect("a token")
    };
    let (t0, t1) = (token_of(&visits[0]), token_of(&visits[1]));
    let decide = |visit: &str, token: &str, decision: &str| {
        let path = format!("/api/v1/visits/{visit}/decision");
        let body = json!({"decision": decision, "actionToken": token});
        let app = &app;
        async move { app.call(Method::POST, &path, None, Some(body)).await }
    };
    // Another visit's token, a made-up one, a malformed body: refused.
    assert_error(&decide(&visits[0], &t1, "approve").await, 403, "forbidden");
    assert_error(
        &decide(&visits[0], "made-up", "approve").await,
        403,
        "forbidden",
    );
    assert_error(&decide(&visits[0], "", "approve").await, 422, "validation");
    let bad = app
        .call(
            Method::POST,
            &format!("/api/v1/visits/{}/decision", visits[0]),
            None,
            Some(json!({"decision": "maybe", "actionToken": t0})),
        )
        .await;
    assert_eq!(bad.0, 422, "{}", bad.1);
    // Decided in the app first: the token then gets 409 naming the outcome, and stays unused.
    let (s, v) = app
        .post(
            &format!("/api/v1/visits/{}/reject", visits[0]),
            &asha,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_conflict_naming(&decide(&visits[0], &t0, "approve").await, "REJECTED");
    // An expired token is refused.
    common::execute(
        &app.state().db,
        &format!(
            "UPDATE action_tokens SET expires_at = 1 WHERE visit_id = '{}'",
            visits[1]
        ),
    )
    .await;
    assert_error(&decide(&visits[1], &t1, "reject").await, 403, "forbidden");
}

const HS_SECRET: &str = "alongside-hs256-secret-of-32-bytes-or-more";

/// An HS256 JWT of the test backend for `claims` (issuer, audience and times added unless
/// given), with `typ` in its header when given.
fn hs_jwt(claims: Value, typ: Option<&str>) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let mut full = json!({"iss": "https://backend.example", "aud": "gatebell",
                          "iat": now, "exp": now + 600});
    full.as_object_mut()
        .unwrap()
        .extend(claims.as_object().unwrap().clone());
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        &full,
        &jsonwebtoken::EncodingKey::from_secret(HS_SECRET.as_bytes()),
    )
    .unwrap()
}

/// A server beside a backend whose JWTs are HS256 with [`HS_SECRET`], plus `extra` flags.
async fn hs_app(b: Backend, extra: &[&str]) -> TestApp {
    let mut flags = vec![
        "--service-key",
        SERVICE_KEY,
        "--jwt-hs256-secret",
        HS_SECRET,
        "--jwt-issuer",
        "https://backend.example",
        "--jwt-audience",
        "gatebell",
    ];
    flags.extend_from_slice(extra);
    TestApp::start_with(b, &flags).await
}

async fn backend_identities_stay_apart_and_deleted_ones_stay_deleted(b: Backend) {
    let app = hs_app(b, &[]).await;
    let db = &app.state().db;

    // A Gatebell id of an account the backend does not manage is not one of its ids.
    let guard = app.login("guard@demo.gatebell").await;
    let asha_local = app.resident_id(&guard, "asha").await;
    for (method, path, body) in [
        (
            Method::PUT,
            format!("/api/v1/internal/users/{asha_local}"),
            Some(json!({"name": "Someone Else", "role": "resident", "unit": "B-9"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/internal/users/{asha_local}/disabled"),
            Some(json!({"disabled": true})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/internal/users/{asha_local}"),
            None,
        ),
    ] {
        let got = app.call(method, &path, Some(SERVICE_KEY), body).await;
        assert_error(&got, 409, "conflict");
        assert!(
            got.1["error"]["message"]
                .as_str()
                .unwrap()
                .contains("backend"),
            "{}",
            got.1
        );
    }
    app.login("asha@demo.gatebell").await;
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM users WHERE name = 'Someone Else'").await,
        0
    );

    // The backend's users have no password here: sign-in refuses them like a wrong password.
    let (s, made) = put_user(
        &app,
        "ext-ira",
        json!({"name": "Ira Sen", "role": "resident", "unit": "B-7", "email": "ira@backend.example"}),
    )
    .await;
    assert_eq!(s, 201, "{made}");
    let ira_id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(
        scalar(
            db,
            &format!("SELECT COUNT(*) FROM users WHERE id = '{ira_id}' AND password_hash = ''")
        )
        .await,
        1
    );
    for password in ["", "password", "gatebell-demo"] {
        let login = app
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "ira@backend.example", "password": password})),
            )
            .await;
        assert_error(&login, 401, "unauthorized");
    }

    // A token without a name keeps the name the backend gave; a new user's name is never the
    // raw `sub`; name and unit claims pass the API's text checks.
    let ira = hs_jwt(
        json!({"sub": "ext-ira", "role": "resident", "unit": "B-7"}),
        None,
    );
    let (s, me) = app.get("/api/v1/me", &ira).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["name"], "Ira Sen");
    let odd_sub = "ext-\u{202e}odd\r\nsub";
    let odd = hs_jwt(
        json!({"sub": odd_sub, "role": "resident", "unit": "B-7", "name": "Bad\nName"}),
        None,
    );
    let (s, me) = app.get("/api/v1/me", &odd).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["name"], "Resident");
    let bad_unit = hs_jwt(
        json!({"sub": "ext-unit", "role": "resident", "unit": "B-7\u{202e}"}),
        None,
    );
    assert_error(&app.get("/api/v1/me", &bad_unit).await, 403, "forbidden");
    // Only access tokens: `typ` JWT or at+jwt when present.
    for typ in ["JWT", "at+jwt"] {
        let t = hs_jwt(
            json!({"sub": "ext-ira", "role": "resident", "unit": "B-7"}),
            Some(typ),
        );
        assert_eq!(app.get("/api/v1/me", &t).await.0, 200, "{typ}");
    }
    let refresh = hs_jwt(
        json!({"sub": "ext-ira", "role": "resident", "unit": "B-7"}),
        Some("refresh+jwt"),
    );
    assert_error(&app.get("/api/v1/me", &refresh).await, 401, "unauthorized");

    // Tokens follow the person: moving to another unit, or being disabled, voids them.
    let walkin = app
        .call(
            Method::POST,
            "/api/v1/internal/walkins",
            Some(SERVICE_KEY),
            Some(json!({"externalVisitId": "ira-1", "hostExternalId": "ext-ira", "visitorName": "Ravi"})),
        )
        .await;
    assert_eq!(walkin.0, 201, "{}", walkin.1);
    let tokens = format!("SELECT COUNT(*) FROM action_tokens WHERE user_id = '{ira_id}'");
    assert_eq!(scalar(db, &tokens).await, 1);
    let (s, v) = put_user(
        &app,
        "ext-ira",
        json!({"name": "Ira Sen", "role": "resident", "unit": "B-8"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(scalar(db, &tokens).await, 0, "a move voids the tokens");
    let walkin = app
        .call(
            Method::POST,
            "/api/v1/internal/walkins",
            Some(SERVICE_KEY),
            Some(json!({"externalVisitId": "ira-2", "hostExternalId": "ext-ira", "visitorName": "Ravi"})),
        )
        .await;
    assert_eq!(walkin.0, 201, "{}", walkin.1);
    assert_eq!(scalar(db, &tokens).await, 1);
    let disabled = app
        .call(
            Method::PUT,
            "/api/v1/internal/users/ext-ira/disabled",
            Some(SERVICE_KEY),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(disabled.0, 204, "{}", disabled.1);
    assert_eq!(scalar(db, &tokens).await, 0, "a disable voids the tokens");

    // A deleted user stays deleted for the tokens issued before: the backend's PUT makes them
    // again, and then a new token works.
    let deleted = app
        .call(
            Method::DELETE,
            "/api/v1/internal/users/ext-ira",
            Some(SERVICE_KEY),
            None,
        )
        .await;
    assert_eq!(deleted.0, 204, "{}", deleted.1);
    let before = hs_jwt(
        json!({"sub": "ext-ira", "role": "resident", "unit": "B-7",
                              "iat": jsonwebtoken::get_current_timestamp() - 5}),
        None,
    );
    assert_error(&app.get("/api/v1/me", &before).await, 401, "unauthorized");
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(*) FROM users WHERE external_id = 'ext-ira'"
        )
        .await,
        0,
        "the token made the account again"
    );
    let (s, v) = put_user(
        &app,
        "ext-ira",
        json!({"name": "Ira Sen", "role": "resident", "unit": "B-7"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(app.get("/api/v1/me", &before).await.0, 200);
    app.stop().await;
}

/// The backend names a user's language through its users API and its JWTs' `locale` claim
/// (`hi-IN` is `hi`; one without a catalog changes nothing), and the walk-in's push, as the
/// browser decrypts it, is in that language: question, buttons and outcome lines.
async fn the_backend_names_the_language_and_the_push_is_written_in_it(b: Backend) {
    let push = FakeWebPush::start().await;
    let app = hs_app(b, &["--push-allow-hosts", "127.0.0.1", "--push-allow-http"]).await;
    app.pin_vapid_key(&push).await;
    let meera = json!({"name": "Meera", "role": "resident", "unit": "C-3"});
    let mut with_language = meera.clone();
    with_language["language"] = json!("hi");
    let (s, made) = put_user(&app, "ext-meera", with_language).await;
    assert_eq!(s, 201, "{made}");
    assert_eq!(made["language"], "hi");
    let (s, kept) = put_user(&app, "ext-meera", meera.clone()).await;
    assert_eq!(
        (s.as_u16(), &kept["language"]),
        (200, &json!("hi")),
        "absent keeps it"
    );
    let mut unknown = meera.clone();
    unknown["language"] = json!("xx-YY");
    assert_error(
        &put_user(&app, "ext-meera", unknown).await,
        422,
        "validation",
    );

    let language = |locale: Option<&str>| {
        let mut claims =
            json!({"sub": "ext-meera", "role": "resident", "unit": "C-3", "name": "Meera"});
        if let Some(l) = locale {
            claims["locale"] = json!(l);
        }
        let jwt = hs_jwt(claims, None);
        let app = &app;
        async move {
            let (s, v) = app.get("/api/v1/me/preferences", &jwt).await;
            assert_eq!(s, 200, "{v}");
            (jwt, v["language"].as_str().unwrap().to_owned())
        }
    };
    assert_eq!(language(Some("en-IN")).await.1, "en");
    assert_eq!(language(None).await.1, "en", "no claim keeps it");
    assert_eq!(language(Some("fr")).await.1, "en", "no catalog keeps it");
    let (jwt, tag) = language(Some("hi-IN")).await;
    assert_eq!(tag, "hi");

    let sub = push.new_subscription();
    app.register_browser(&jwt, &sub).await;
    let (s, v) = internal_walkin(&app, "desk-meera-1", "ext-meera").await;
    assert_eq!(s, 201, "{v}");
    push.wait_for(1, Duration::from_secs(10)).await.unwrap();
    let received = push.delivered_for(&sub.id);
    let payload: PushPayload = serde_json::from_slice(&received[0].plaintext).unwrap();
    assert_eq!(payload.title, "गेट पर आगंतुक");
    assert_eq!(payload.body, "Ravi गेट पर हैं। अनुमति दें?");
    let labels: Vec<&str> = payload.actions.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(labels, ["अनुमति दें", "मना करें"]);
    let answers = payload.answers.expect("outcome lines");
    assert_eq!(answers.approved, "अनुमति दी — Ravi अंदर आ सकते हैं");
    assert_eq!(answers.rejected, "मना किया");
    app.stop().await;
}

on_both_backends!(
    the_backend_names_the_language_and_the_push_is_written_in_it,
    the_whole_story,
    backend_identities_stay_apart_and_deleted_ones_stay_deleted,
    users_and_visits_from_the_backend,
    action_tokens_are_single_use_scoped_and_lose_to_the_first_answer,
);

/// The receiver is down for 30 s: the webhook is retried until it is up, then arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_waits_for_its_receiver() {
    let socket = BackendSocket::new();
    let port = socket.port();
    let app = app(Backend::Sqlite, port).await;
    let backend = PyBackend::start(socket, &app.url, 600, true);
    let jwt = backend.login("res-asha").await;
    // Gatebell fetches the backend's key set on the JWT's first use, while it is up.
    assert_eq!(app.get("/api/v1/me", &jwt).await.0, 200);
    let (s, visit) = backend
        .post(
            "/walkins",
            json!({"visitId": "w-1", "hostId": "res-asha", "visitorName": "Ravi"}),
        )
        .await;
    assert_eq!(s, 201, "{visit}");
    let visit_id = visit["id"].as_str().unwrap().to_owned();
    backend.kill();
    let (s, v) = app
        .post(
            &format!("/api/v1/visits/{visit_id}/approve"),
            &jwt,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // Retried while the receiver is down (backoff 1 s, 2 s, …).
    let db = &app.state().db;
    wait_for_count(
        db,
        "SELECT COUNT(*) FROM webhook_jobs WHERE attempts >= 3",
        1,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(*) FROM webhook_jobs WHERE state = 'pending'"
        )
        .await,
        1
    );
    let backend = PyBackend::start(BackendSocket::on(port), &app.url, 600, false);
    let event = backend
        .wait_for_event(&visit_id, Duration::from_secs(10))
        .await;
    assert_eq!(event["event"]["type"], "visit.approved");
    // The row closed as delivered: a second delivery would have come before.
    wait_for_count(
        db,
        "SELECT COUNT(*) FROM webhook_jobs WHERE state = 'delivered'",
        1,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(backend.events().await.len(), 1);
    let metrics = reqwest::get(format!("{}/metrics", app.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gatebell_webhooks_total{event=\"delivered\"} 1"),
        "{metrics}"
    );
}

/// `kill -9` between the decision and the webhook: it arrives after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_survives_kill_9() {
    // Refusing until the backend starts after the restart, on the port Gatebell knows.
    let held = RefusingPort::new();
    let port = held.port;
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(Backend::Sqlite, dir.path()).await;
    let flags = flags(port);
    let first = Process::spawn(&url, &flags);
    let http = reqwest::Client::new();
    let post = |base: String, path: &str, token: &str, body: Value| {
        let req = http
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body);
        async move {
            let resp = req.send().await.unwrap();
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let login = |email: &str| {
        let req = http
            .post(format!("{}/api/v1/auth/login", first.url))
            .json(&json!({"email": email, "password": "gatebell-demo"}));
        async move {
            req.send().await.unwrap().json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let guard = login("guard@demo.gatebell").await;
    let asha = login("asha@demo.gatebell").await;
    let residents: Value = http
        .get(format!("{}/api/v1/residents?q=asha", first.url))
        .bearer_auth(&guard)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let host = residents[0]["id"].as_str().unwrap().to_owned();
    let (s, v) = post(
        first.url.clone(),
        "/api/v1/visits/walkin",
        &guard,
        json!({"visitorName": "Ravi", "hostId": host, "purpose": "visit"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let visit_id = v["id"].as_str().unwrap().to_owned();
    let (s, v) = post(
        first.url.clone(),
        &format!("/api/v1/visits/{visit_id}/approve"),
        &asha,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    first.kill();
    // The receiver comes up while Gatebell is down; Gatebell restarts on the same database.
    drop(held);
    let backend = PyBackend::start(BackendSocket::on(port), "http://127.0.0.1:9", 600, false);
    let _second = Process::spawn(&url, &flags);
    let event = backend
        .wait_for_event(&visit_id, Duration::from_secs(45))
        .await;
    assert_eq!(event["event"]["type"], "visit.approved");
    assert!(
        event["event"]["data"].get("externalVisitId").is_none(),
        "{event}"
    );
}

/// Browser apps on a listed origin may call the API; others get no CORS grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_admits_only_listed_origins() {
    let app = TestApp::start_with(
        Backend::Sqlite,
        &[
            "--cors-origins",
            "https://app.example,http://localhost:3000",
        ],
    )
    .await;
    let preflight = |origin: &'static str| {
        app.http
            .request(Method::OPTIONS, format!("{}/api/v1/me", app.url))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization")
            .send()
    };
    let ok = preflight("https://app.example").await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    let h = ok.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example");
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_lowercase()
            .contains("authorization")
    );
    assert!(h.get("access-control-allow-credentials").is_none());
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // A real request from a listed origin is granted too.
    let token = app.login("asha@demo.gatebell").await;
    let got = app
        .http
        .get(format!("{}/api/v1/me", app.url))
        .header("Origin", "http://localhost:3000")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    // Without --cors-origins, no grant at all.
    let plain = TestApp::start(Backend::Sqlite).await;
    let r = plain
        .http
        .request(Method::OPTIONS, format!("{}/api/v1/me", plain.url))
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

/// Origins are exact: a wildcard, a path or a trailing slash is refused at start.
#[test]
fn cors_origins_must_be_origins() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: gatebell_server::config::ServeArgs,
    }
    for bad in [
        "*",
        "https://app.example/",
        "https://app.example/path",
        "app.example",
        "https://*.example",
    ] {
        let args = Cli::try_parse_from(["gatebell", "--cors-origins", bad])
            .unwrap()
            .serve;
        assert!(
            gatebell_server::config::Config::from_args(args).is_err(),
            "{bad}"
        );
    }
    let args = Cli::try_parse_from(["gatebell", "--cors-origins", "https://app.example:8443"])
        .unwrap()
        .serve;
    assert!(gatebell_server::config::Config::from_args(args).is_ok());
}

//! Test harness: a real server on a real socket, over SQLite or a throwaway PostgreSQL.
#![allow(dead_code)]

pub mod pg;
pub mod process;
pub mod python;
pub mod smtp;

use clap::Parser;
use gatebell_server::config::{Config, ServeArgs};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed `async fn name(Backend)` as two tests: `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// A fresh, migrated database URL for one test.
pub async fn database_url(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}/gatebell.db?mode=rwc", dir.display()),
        Backend::Postgres => pg::fresh_database().await,
    }
}

/// `gatebell serve` flags for a test: random port, the given database, the demo community.
pub fn serve_args(database_url: &str, extra: &[&str]) -> ServeArgs {
    let mut argv = vec![
        "gatebell",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        database_url,
        "--demo",
    ];
    // Tests make walk-ins and decisions faster than any gate; the limits have tests of their
    // own, which set them.
    for (flag, value) in [
        ("--walkins-per-guard", "100000"),
        ("--decisions-per-ip", "100000"),
    ] {
        if !extra.contains(&flag) {
            argv.extend([flag, value]);
        }
    }
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).expect("test flags parse").serve
}

/// A running server and an HTTP client for it.
pub struct TestApp {
    pub server: Option<gatebell_server::Server>,
    pub url: String,
    pub http: reqwest::Client,
    pub database_url: String,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Starts a server with the demo community on `backend`.
    pub async fn start(backend: Backend) -> TestApp {
        TestApp::start_with(backend, &[]).await
    }

    /// Starts a server with extra `serve` flags.
    pub async fn start_with(backend: Backend, extra: &[&str]) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let database_url = database_url(backend, dir.path()).await;
        TestApp::start_on(dir, database_url, extra).await
    }

    /// Starts a server on an existing database (two servers may share one).
    pub async fn start_on(dir: tempfile::TempDir, database_url: String, extra: &[&str]) -> TestApp {
        let config = Config::from_args(serve_args(&database_url, extra)).unwrap();
        let server = gatebell_server::start(config).await.expect("server starts");
        TestApp {
            url: server.url(),
            server: Some(server),
            http: reqwest::Client::new(),
            database_url,
            _dir: dir,
        }
    }

    /// A client of a server running elsewhere (a [`process::Process`]): every request helper
    /// works, [`TestApp::state`] does not.
    pub fn client_of(url: &str, database_url: &str) -> TestApp {
        TestApp {
            server: None,
            url: url.to_owned(),
            http: reqwest::Client::new(),
            database_url: database_url.to_owned(),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The server's state (database, config).
    pub fn state(&self) -> &gatebell_server::state::AppState {
        &self.server.as_ref().unwrap().state
    }

    /// Sends a request with an optional bearer token and JSON body; returns status and JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.url, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{status}: body is not JSON: {text}"))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), Some(body))
            .await
    }

    /// Signs in a demo account; returns the bearer token.
    pub async fn login(&self, email: &str) -> String {
        let (s, v) = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(
                    json!({ "email": email, "password": gatebell_server::http::accounts::DEMO_PASSWORD }),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }

    /// The id of a user, looked up by a guard in `/residents`.
    pub async fn resident_id(&self, guard: &str, email_name: &str) -> String {
        let (s, v) = self
            .get(&format!("/api/v1/residents?q={email_name}"), guard)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v[0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no resident {email_name}: {v}"))
            .to_owned()
    }

    /// A guard registers a walk-in, Ravi with a parcel, for Asha; returns its id.
    pub async fn walkin_for_asha(&self, guard: &str) -> String {
        let host = self.resident_id(guard, "asha").await;
        let (s, v) = self
            .post(
                "/api/v1/visits/walkin",
                guard,
                json!({"visitorName": "Ravi", "hostId": host, "purpose": "parcel"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Opens the event stream and waits for its `ready` event.
    pub async fn events(&self, token: &str) -> EventStream {
        self.try_events(token).await.expect("the stream opens")
    }

    /// Opens the event stream and waits for its `ready` event; a refusal is returned as the
    /// status and JSON body.
    pub async fn try_events(&self, token: &str) -> Result<EventStream, (StatusCode, Value)> {
        let resp = self
            .http
            .get(format!("{}/api/v1/notifications/stream", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if resp.status() != 200 {
            let status = resp.status();
            return Err((status, resp.json().await.expect("a JSON error body")));
        }
        let mut s = EventStream {
            resp,
            buf: String::new(),
        };
        s.next_event("ready").await;
        Ok(s)
    }

    /// Makes `push` refuse every push not signed with this server's VAPID key, as a browser's
    /// subscription made with its `applicationServerKey` does.
    pub async fn pin_vapid_key(&self, push: &gatebell_testkit::FakeWebPush) {
        let (_, k) = self
            .call(
                Method::GET,
                "/api/v1/notifications/vapid-public-key",
                None,
                None,
            )
            .await;
        push.expect_vapid_key(k["publicKey"].as_str().expect("a VAPID key"));
    }

    /// Registers a browser's push subscription under the session or JWT `token`.
    pub async fn register_browser(&self, token: &str, sub: &gatebell_testkit::TestSubscription) {
        let body =
            json!({"token": sub.endpoint(), "platform": "web", "subscription": sub.subscription});
        let (s, v) = self
            .post("/api/v1/notifications/register-device", token, body)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    /// The Prometheus text `/metrics` serves (no token set).
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// Runs a write statement (to set up rows a test needs, such as an expired session).
pub async fn execute(db: &gatebell_server::db::Db, sql: &str) {
    use gatebell_server::db::Backend as B;
    let mut tx = db.begin().await.unwrap();
    match tx.conn() {
        B::Sqlite(c) => sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(c)
            .await
            .map(|_| ())
            .unwrap(),
        B::Postgres(c) => sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(c)
            .await
            .map(|_| ())
            .unwrap(),
    }
    tx.commit().await.unwrap();
}

/// Runs a `SELECT COUNT(*) …` (or any one BIGINT) on the read side.
pub async fn scalar(db: &gatebell_server::db::Db, sql: &str) -> i64 {
    use gatebell_server::db::Backend as B;
    match db.reader() {
        B::Sqlite(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(p)
            .await
            .unwrap(),
        B::Postgres(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

/// Runs a query of one TEXT column on the read side; every row's value.
pub async fn texts(db: &gatebell_server::db::Db, sql: &str) -> Vec<String> {
    use gatebell_server::db::Backend as B;
    match db.reader() {
        B::Sqlite(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(p)
            .await
            .unwrap(),
        B::Postgres(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(p)
            .await
            .unwrap(),
    }
}

/// Polls a `SELECT COUNT(*) …` until it gives `want`; panics after `timeout` (a deadline so a
/// broken server fails the test instead of hanging it, not a claim about speed).
pub async fn wait_for_count(
    db: &gatebell_server::db::Db,
    sql: &str,
    want: i64,
    timeout: std::time::Duration,
) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let got = scalar(db, sql).await;
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited {timeout:?} for {want} from {sql}, got {got}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits until no push is queued or being sent (claimed rows stay `pending`): every push
/// queued before the call has reached its fake or closed, so a push that should not have
/// gone would have been seen by then.
pub async fn pushes_settled(db: &gatebell_server::db::Db) {
    let pending = "SELECT COUNT(*) FROM push_jobs WHERE state = 'pending'";
    wait_for_count(db, pending, 0, std::time::Duration::from_secs(30)).await;
}

/// Asserts a 409 whose message names `what` (the outcome, who decided).
#[track_caller]
pub fn assert_conflict_naming(got: &(StatusCode, Value), what: &str) {
    assert_error(got, 409, "conflict");
    let message = got.1["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(what), "{what} not in {message}");
}

/// Asserts an error answer: status and the JSON error code.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "body: {}", got.1);
    assert_eq!(got.1["error"]["code"], code, "body: {}", got.1);
    assert!(
        got.1["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "message missing: {}",
        got.1
    );
}

/// A Server-Sent Events stream.
pub struct EventStream {
    resp: reqwest::Response,
    buf: String,
}

impl EventStream {
    /// Waits (5 s at most) for the server to end the stream, skipping what comes before.
    pub async fn ends(&mut self) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk())
                .await
                .expect("the stream ends within 5 s");
            match chunk {
                Ok(Some(c)) => self.buf.push_str(&String::from_utf8_lossy(&c)),
                Ok(None) | Err(_) => return,
            }
        }
    }

    /// Waits (5 s at most) for the next event named `name`; returns its data.
    pub async fn next_event(&mut self, name: &str) -> String {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = "";
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event: ") {
                        event = e;
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push_str(d);
                    }
                }
                if event == name {
                    return data;
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {name} event within 5 s"))
                .unwrap()
                .expect("stream open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

impl EventStream {
    /// Every event (name, data) that arrives within `wait`.
    pub async fn all_within(&mut self, wait: std::time::Duration) -> Vec<(String, String)> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut got = Vec::new();
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event: ") {
                        event = e.to_owned();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push_str(d);
                    }
                }
                if !event.is_empty() {
                    got.push((event, data));
                }
            }
            match tokio::time::timeout_at(deadline, self.resp.chunk()).await {
                Err(_) => return got,
                Ok(chunk) => {
                    let chunk = chunk.unwrap().expect("stream open");
                    self.buf.push_str(&String::from_utf8_lossy(&chunk));
                }
            }
        }
    }
}

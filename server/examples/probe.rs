//! The hardening probes, repeated against the release server as its own process:
//!
//! ```text
//! cargo build --release -p gatebell-server --bin gatebell --example probe
//! target/release/examples/probe
//! ```
//!
//! Each probe starts a fresh `gatebell serve --demo` (SQLite, or a throwaway PostgreSQL for the
//! race) and prints what it measured: memory around a burst of failed sign-ins, `/healthz`
//! with 2 000 idle sockets open, a redirect and a private-address push refused, gate-code
//! guesses allowed, concurrent check-ins and decisions of one visit on PostgreSQL, and Web Push
//! delivery plus shutdown time while Google's token endpoint refuses or hangs. The fakes run in
//! this process, the server in its own. See docs/PERFORMANCE.md ("Hardening probes").

#[path = "../tests/common/pg.rs"]
mod pg;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use gatebell_testkit::{FakeFcm, FakeOAuth, FakeWebPush, Outage};
use serde_json::{Value, json};

const PASSWORD: &str = "gatebell-demo";
const SERVICE_KEY: &str = "probe-service-key-0123456789";

/// A `gatebell serve` process.
struct Gatebell {
    child: Child,
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    database_url: String,
}

impl Gatebell {
    fn start(database_url: Option<String>, flags: &[&str]) -> Gatebell {
        let dir = tempfile::tempdir().unwrap();
        let database_url = database_url
            .unwrap_or_else(|| format!("sqlite://{}/g.db?mode=rwc", dir.path().display()));
        let exe = std::env::current_exe().unwrap();
        let bin = exe.parent().unwrap().parent().unwrap().join("gatebell");
        let mut child = Command::new(&bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--demo"])
            .args([
                "--database-url",
                &database_url,
                "--service-key",
                SERVICE_KEY,
            ])
            .args(flags)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e} (build it with --release)", bin.display()));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("gatebell printed its address").unwrap();
            if let Some(u) = line.strip_prefix("Gatebell listening on ") {
                break u.to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Gatebell {
            child,
            url,
            http: reqwest::Client::new(),
            _dir: dir,
            database_url,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
        let mut r = self.http.post(format!("{}{path}", self.url)).json(&body);
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        match r.send().await {
            Ok(r) => {
                let s = r.status().as_u16();
                (s, r.json().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    async fn login(&self, email: &str) -> String {
        let (s, v) = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(s, 200, "login {email}: {v}");
        v["token"].as_str().unwrap().to_owned()
    }

    /// A GET's JSON answer.
    async fn get_json(&self, path: &str, bearer: Option<&str>) -> Value {
        let mut r = self.http.get(format!("{}{path}", self.url));
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send().await.unwrap().json().await.unwrap()
    }

    async fn user_id(&self, token: &str) -> String {
        let v = self.get_json("/api/v1/me", Some(token)).await;
        v["id"].as_str().unwrap().to_owned()
    }

    async fn resident_id(&self, guard: &str, name: &str) -> String {
        let v = self
            .get_json(&format!("/api/v1/residents?q={name}"), Some(guard))
            .await;
        v[0]["id"].as_str().unwrap().to_owned()
    }

    /// SIGTERM; how long until the process exited.
    fn terminate(mut self) -> Duration {
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let _ = self.child.wait();
        started.elapsed()
    }
}

impl Drop for Gatebell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn tally(statuses: impl IntoIterator<Item = u16>) -> String {
    let mut counts = BTreeMap::new();
    for s in statuses {
        *counts.entry(s).or_insert(0) += 1;
    }
    counts
        .iter()
        .map(|(s, n)| format!("{n}×{s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// 64 failed sign-ins at once: answers and RSS before, at peak and 5 s after.
async fn failed_logins(label: &str, flags: &[&str]) {
    let g = Gatebell::start(None, flags);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = g.pid();
    let before = rss_mb(pid);
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max((rss_mb(pid) * 10.0) as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let g = Arc::new(g);
    let started = Instant::now();
    let attempts = (0..64).map(|i| {
        let g = g.clone();
        tokio::spawn(async move {
            let email = if i % 2 == 0 {
                "asha@demo.gatebell".to_owned()
            } else {
                format!("nobody{i}@demo.gatebell")
            };
            g.post(
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": "wrong password"}),
            )
            .await
            .0
        })
    });
    let statuses = futures::future::join_all(attempts).await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(5)).await;
    done.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let after = rss_mb(pid);
    println!(
        "  {label}: {} in {:.2} s; RSS {before:.0} MB before, {:.0} MB peak, {after:.0} MB 5 s after ({:.2}× baseline)",
        tally(statuses.into_iter().map(|s| s.unwrap())),
        took.as_secs_f64(),
        peak.load(Ordering::Relaxed) as f64 / 10.0,
        after / before
    );
}

/// `/healthz` while 2 000 sockets sit on half-sent headers; how many the server then closes.
async fn idle_sockets() {
    raise_open_files();
    let g = Gatebell::start(None, &[]);
    let addr = g.url.trim_start_matches("http://").to_owned();
    let mut idle = Vec::new();
    for _ in 0..2000 {
        match TcpStream::connect(&addr) {
            Ok(mut s) => {
                let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: probe\r\n");
                idle.push(s);
            }
            Err(e) => {
                println!("  opened only {} sockets: {e}", idle.len());
                break;
            }
        }
    }
    let mut latencies = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let ok = reqwest::Client::new()
            .get(format!("{}/healthz", g.url))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        latencies.push((ok, started.elapsed().as_secs_f64() * 1000.0));
    }
    let answered = latencies.iter().filter(|(ok, _)| *ok).count();
    let mut ms: Vec<f64> = latencies.iter().map(|(_, ms)| *ms).collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "  {} idle sockets open: /healthz answered {answered}/5, median {:.1} ms, worst {:.1} ms",
        idle.len(),
        ms[2],
        ms[4]
    );
    // The header timeout (10 s) closes them.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let mut closed = 0;
    for s in &mut idle {
        use std::io::Read;
        let _ = s.set_read_timeout(Some(Duration::from_millis(1)));
        let mut buf = [0u8; 256];
        // EOF or an answer (408) both mean the server let go of it.
        if s.read(&mut buf).is_ok() {
            closed += 1;
        }
    }
    println!(
        "  12 s later the server had closed {closed} of {} (header timeout 10 s)",
        idle.len()
    );
}

fn raise_open_files() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max.min(65_536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// A local server that answers every POST with `status` and counts them.
async fn counting_server(status: StatusCode, location: Option<String>) -> (String, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let app = Router::new().fallback(post(move || {
        let (h, location) = (h.clone(), location.clone());
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            match location {
                Some(l) => (status, [("location", l)]).into_response(),
                None => status.into_response(),
            }
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

/// The outcome the outbox recorded for the only push job.
async fn job_outcome(database_url: &str) -> String {
    let db = gatebell_server::db::Db::connect(database_url)
        .await
        .unwrap();
    const SQL: &str = "SELECT state || ': ' || COALESCE(last_error, '') FROM push_jobs";
    let v: Vec<String> = match db.reader() {
        gatebell_server::db::Backend::Sqlite(p) => sqlx::query_scalar(SQL).fetch_all(p).await,
        gatebell_server::db::Backend::Postgres(p) => sqlx::query_scalar(SQL).fetch_all(p).await,
    }
    .unwrap();
    db.close().await;
    v.join(" | ")
}

async fn register_web(g: &Gatebell, token: &str, endpoint: &str, web: &FakeWebPush) -> u16 {
    let mut sub = web.new_subscription().subscription;
    sub.endpoint = endpoint.to_owned();
    g.post(
        "/api/v1/notifications/register-device",
        Some(token),
        json!({"token": endpoint, "platform": "web", "subscription": sub}),
    )
    .await
    .0
}

async fn notify(g: &Gatebell, user_id: &str) {
    let (s, v) = g
        .post(
            "/api/v1/internal/notify",
            Some(SERVICE_KEY),
            json!({"userId": user_id, "type": "probe", "title": "Probe", "body": "Probe"}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
}

/// A push endpoint that redirects to another address, and a name that resolves privately.
async fn egress() {
    let web = FakeWebPush::start().await;
    let (target, target_hits) = counting_server(StatusCode::CREATED, None).await;
    let (redirector, _) = counting_server(
        StatusCode::TEMPORARY_REDIRECT,
        Some(format!("{target}/stolen")),
    )
    .await;
    let g = Gatebell::start(
        None,
        &["--push-allow-hosts", "127.0.0.1", "--push-allow-http"],
    );
    let asha = g.login("asha@demo.gatebell").await;
    register_web(&g, &asha, &format!("{redirector}/push/x"), &web).await;
    notify(&g, &g.user_id(&asha).await).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "  307 to another address: the redirect target got {} requests; outbox: {}",
        target_hits.load(Ordering::SeqCst),
        job_outcome(&g.database_url).await
    );
    drop(g);

    // `localhost` passes the host allow-list, but resolves to a loopback address.
    let g = Gatebell::start(None, &["--push-allow-hosts", "localhost"]);
    let asha = g.login("asha@demo.gatebell").await;
    let s = register_web(&g, &asha, "https://localhost/push/rebind", &web).await;
    notify(&g, &g.user_id(&asha).await).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "  allowed name resolving to 127.0.0.1: registration {s}; outbox: {}",
        job_outcome(&g.database_url).await
    );
}

/// Wrong gate codes from one guard as fast as it can for 5 s.
async fn gate_codes() {
    let g = Gatebell::start(None, &[]);
    let guard = g.login("guard@demo.gatebell").await;
    let asha = g.login("asha@demo.gatebell").await;
    let (_, invite) = g
        .post(
            "/api/v1/visits",
            Some(&asha),
            json!({"visitorName": "Meera"}),
        )
        .await;
    let right = invite["otp"].as_str().unwrap().to_owned();
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    let started = Instant::now();
    let mut statuses = Vec::new();
    while started.elapsed() < Duration::from_secs(5) {
        let (s, _) = g
            .post(
                "/api/v1/visits/checkin",
                Some(&guard),
                json!({"otp": wrong}),
            )
            .await;
        statuses.push(s);
    }
    let answered = statuses.iter().filter(|s| **s == 404).count();
    let (right_status, v) = g
        .post(
            "/api/v1/visits/checkin",
            Some(&guard),
            json!({"otp": right}),
        )
        .await;
    println!(
        "  {} guesses in 5 s: {}; wrong codes actually tried: {answered} (the limit per 15 min); \
         then the right code: {right_status} {}",
        statuses.len(),
        tally(statuses),
        v["error"]["code"]
    );
}

/// The same code checked in, and the same walk-in decided, 8 times at once, 30 rounds each.
async fn postgres_races() {
    let url = pg::fresh_database().await;
    // The race needs 30 walk-ins and 240 decisions in a few seconds, far past the limits
    // that protect a real gate; those limits have their own probe and tests.
    let g = Arc::new(Gatebell::start(
        Some(url),
        &[
            "--walkins-per-guard",
            "100000",
            "--decisions-per-ip",
            "100000",
        ],
    ));
    let guard = g.login("guard@demo.gatebell").await;
    let asha = g.login("asha@demo.gatebell").await;
    let asha_id = g.resident_id(&guard, "asha").await;
    let mut checkin_ok = Vec::new();
    let mut decide_ok = Vec::new();
    for _ in 0..30 {
        let (_, invite) = g
            .post(
                "/api/v1/visits",
                Some(&asha),
                json!({"visitorName": "Race"}),
            )
            .await;
        let otp = invite["otp"].as_str().unwrap().to_owned();
        let tries = (0..8).map(|_| {
            let (g, guard, otp) = (g.clone(), guard.clone(), otp.clone());
            tokio::spawn(async move {
                g.post("/api/v1/visits/checkin", Some(&guard), json!({"otp": otp}))
                    .await
                    .0
            })
        });
        let statuses = futures::future::join_all(tries).await;
        checkin_ok.push(
            statuses
                .iter()
                .filter(|s| *s.as_ref().unwrap() == 200)
                .count(),
        );

        let (_, walkin) = g
            .post(
                "/api/v1/visits/walkin",
                Some(&guard),
                json!({"visitorName": "Race", "hostId": asha_id, "purpose": "race"}),
            )
            .await;
        let id = walkin["id"]
            .as_str()
            .unwrap_or_else(|| panic!("walk-in: {walkin}"))
            .to_owned();
        let tries = (0..8).map(|i| {
            let (g, asha, id) = (g.clone(), asha.clone(), id.clone());
            tokio::spawn(async move {
                let verb = if i % 2 == 0 { "approve" } else { "reject" };
                g.post(
                    &format!("/api/v1/visits/{id}/{verb}"),
                    Some(&asha),
                    json!({}),
                )
                .await
                .0
            })
        });
        let statuses = futures::future::join_all(tries).await;
        decide_ok.push(
            statuses
                .iter()
                .filter(|s| *s.as_ref().unwrap() == 200)
                .count(),
        );
    }
    let exactly_one = |v: &[usize]| v.iter().filter(|n| **n == 1).count();
    println!(
        "  check-in, 8 at once: exactly one success in {}/30 rounds (successes per round: {:?})",
        exactly_one(&checkin_ok),
        checkin_ok
    );
    println!(
        "  approve/reject, 8 at once: exactly one success in {}/30 rounds",
        exactly_one(&decide_ok)
    );
}

/// 100 Web Push messages while Google's token endpoint refuses or hangs; then SIGTERM.
async fn provider_outage(outage: Outage) {
    let oauth = FakeOAuth::start().await;
    let fcm = FakeFcm::start(&oauth, "probe").await;
    let web = FakeWebPush::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("fcm.json");
    std::fs::write(&key, oauth.service_account_json("probe")).unwrap();
    let fcm_url = fcm.base_url();
    let key_arg = key.display().to_string();
    let g = Gatebell::start(
        None,
        &[
            "--fcm-credentials",
            &key_arg,
            "--fcm-endpoint",
            &fcm_url,
            "--push-allow-hosts",
            "127.0.0.1",
            "--push-allow-http",
        ],
    );
    let vapid = g
        .get_json("/api/v1/notifications/vapid-public-key", None)
        .await;
    web.expect_vapid_key(vapid["publicKey"].as_str().unwrap());
    let asha = g.login("asha@demo.gatebell").await;
    let guard = g.login("guard@demo.gatebell").await;
    let asha_id = g.resident_id(&guard, "asha").await;
    for i in 0..10 {
        g.post(
            "/api/v1/notifications/register-device",
            Some(&asha),
            json!({"token": format!("probe-phone-{i}"), "platform": "android"}),
        )
        .await;
        let sub = web.new_subscription().subscription;
        g.post(
            "/api/v1/notifications/register-device",
            Some(&asha),
            json!({"token": sub.endpoint, "platform": "web", "subscription": sub}),
        )
        .await;
    }
    oauth.set_outage(outage);
    for i in 0..10 {
        g.post(
            "/api/v1/visits/walkin",
            Some(&guard),
            json!({"visitorName": format!("Visitor {i}"), "hostId": asha_id, "purpose": "probe"}),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let delivered = web.received().iter().filter(|r| r.status == 201).count();
    let took = g.terminate();
    println!(
        "  token endpoint {outage:?}: {delivered}/100 browser pushes delivered 3 s after their walk-ins \
         (FCM got {} sends); SIGTERM exited in {:.1} s",
        fcm.received().len(),
        took.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    println!("64 concurrent failed sign-ins (half for one account, half unknown emails):");
    failed_logins("default limits", &[]).await;
    failed_logins(
        "rate limits off (hashing pool and queue only)",
        &["--login-per-ip", "100000", "--login-per-account", "100000"],
    )
    .await;
    println!("Idle connections:");
    idle_sockets().await;
    println!("Push egress:");
    egress().await;
    println!("Gate-code guessing, one guard:");
    gate_codes().await;
    println!("PostgreSQL races:");
    postgres_races().await;
    println!("A provider that fails (FCM's OAuth token endpoint):");
    provider_outage(Outage::Refuse).await;
    provider_outage(Outage::Hang).await;
}

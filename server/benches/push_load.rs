//! Push delivery under load, against the local fakes (not a test: it prints figures).
//!
//! `cargo bench -p gatebell-server --bench push_load` — environment knobs: `RATE` (walk-ins per
//! second, 200), `SECONDS` (10), `FCM_DEVICES` (10000), `WEB_DEVICES` (2000), `DATABASE_URL`
//! (default: a fresh SQLite file).
//!
//! 1. Latency: residents with one FCM and one Web Push device each; a guard registers walk-ins
//!    at a fixed rate (open loop); each push's latency is from sending the walk-in request to the
//!    fake provider receiving the push.
//! 2. FCM throughput: one notification fanned out to `FCM_DEVICES` Android devices.
//! 3. Web Push throughput: one notification to `WEB_DEVICES` browsers (each payload is encrypted
//!    by the server and decrypted by the fake, both on this machine's two cores).
//! 4. The `web-push` crate's raw encrypt+sign rate, for comparison.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use gatebell_server::config::{Config, ServeArgs};
use gatebell_server::db::Backend;
use gatebell_server::db::{new_id, now_ms};
use gatebell_testkit::{FakeFcm, FakeOAuth, FakeWebPush};
use serde_json::{Value, json};

/// A device row: token, platform, and for the web (endpoint, p256dh, auth).
type BulkDevice = (String, &'static str, Option<(String, String, String)>);

const SERVICE_KEY: &str = "bench-service-key-0123456789";

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU seconds of this process (server, fakes and load generator together).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of /proc/self/stat (utime, stime), counted after the name: 11 and 12.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

struct Api {
    url: String,
    http: reqwest::Client,
}

impl Api {
    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("server answers");
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    async fn login(&self, email: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&json!({"email": email, "password": "gatebell-demo"}))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[tokio::main]
async fn main() {
    let rate = env_num("RATE", 200);
    let seconds = env_num("SECONDS", 10);
    let fcm_devices = env_num("FCM_DEVICES", 10_000) as usize;
    let web_devices = env_num("WEB_DEVICES", 2_000) as usize;

    let oauth = FakeOAuth::start().await;
    let fcm = FakeFcm::start(&oauth, "bench").await;
    let web = FakeWebPush::start().await;
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("fcm.json");
    std::fs::write(&creds, oauth.service_account_json("bench")).unwrap();
    let db_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()));
    // One guard sends every walk-in, far past the per-guard limit that protects a real gate.
    let walkins_per_minute = (rate * 60 * 2).to_string();
    let cli = Cli::try_parse_from([
        "gatebell",
        "--walkins-per-guard",
        &walkins_per_minute,
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &db_url,
        "--demo",
        "--fcm-credentials",
        creds.to_str().unwrap(),
        "--fcm-endpoint",
        &fcm.base_url(),
        "--push-allow-hosts",
        "127.0.0.1",
        "--push-allow-http",
        "--service-key",
        SERVICE_KEY,
    ])
    .unwrap();
    let server = gatebell_server::start(Config::from_args(cli.serve).unwrap())
        .await
        .unwrap();
    let db = server.state.db.clone();
    let api = Arc::new(Api {
        url: server.url(),
        http: reqwest::Client::new(),
    });
    println!(
        "Gatebell push benchmark: database {}",
        if db.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );

    // ---- 1. latency at a fixed walk-in rate
    let guard = api.login("guard@demo.gatebell").await;
    let residents = api
        .http
        .get(format!("{}/api/v1/residents", api.url))
        .bearer_auth(&guard)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let mut hosts = Vec::new();
    for r in residents.as_array().unwrap() {
        let email = format!(
            "{}@demo.gatebell",
            r["name"]
                .as_str()
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_lowercase()
        );
        let token = api.login(&email).await;
        api.post(
            "/api/v1/notifications/register-device",
            &token,
            json!({"token": format!("fcm-{email}"), "platform": "android"}),
        )
        .await;
        let sub = web.new_subscription();
        api.post(
            "/api/v1/notifications/register-device",
            &token,
            json!({"token": sub.endpoint(), "platform": "web", "subscription": sub.subscription}),
        )
        .await;
        hosts.push(r["id"].as_str().unwrap().to_owned());
    }
    let total = (rate * seconds) as usize;
    println!(
        "\n1. latency: {total} walk-ins at {rate}/s to {} residents with 1 FCM + 1 Web Push device each",
        hosts.len()
    );
    let sent_at: Arc<tokio::sync::Mutex<HashMap<String, Instant>>> = Default::default();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        ticker.tick().await;
        let (api, guard, host, sent_at) = (
            api.clone(),
            guard.clone(),
            hosts[i % hosts.len()].clone(),
            sent_at.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let start = Instant::now();
            let v = api
                .post(
                    "/api/v1/visits/walkin",
                    &guard,
                    json!({"visitorName": format!("V{i}"), "hostId": host, "purpose": "bench"}),
                )
                .await;
            sent_at
                .lock()
                .await
                .insert(v["id"].as_str().unwrap().to_owned(), start);
            start.elapsed()
        }));
    }
    let mut request_times = Vec::new();
    for t in tasks {
        request_times.push(t.await.unwrap());
    }
    fcm.wait_for(total, Duration::from_secs(120))
        .await
        .expect("every FCM push arrives");
    web.wait_for(total, Duration::from_secs(120))
        .await
        .expect("every Web Push arrives");
    let wall = t0.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let sent_at = sent_at.lock().await;
    let mut latencies = Vec::new();
    for r in fcm.received() {
        if let Some(s) = r.message["data"]["visitId"]
            .as_str()
            .and_then(|v| sent_at.get(v))
        {
            latencies.push(r.at.saturating_duration_since(*s));
        }
    }
    for r in web.received() {
        if let Some(s) = r
            .json()
            .and_then(|j| j["visitId"].as_str().map(str::to_owned))
            .and_then(|v| sent_at.get(&v).copied())
        {
            latencies.push(r.at.saturating_duration_since(s));
        }
    }
    latencies.sort();
    request_times.sort();
    println!(
        "   walk-in request → push received: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} pushes)",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        latencies.len()
    );
    println!(
        "   walk-in request itself: p50 {:.1} ms, p99 {:.1} ms; CPU {:.2} s over {:.1} s wall ({:.0} % of one core)",
        percentile(&request_times, 0.50).as_secs_f64() * 1e3,
        percentile(&request_times, 0.99).as_secs_f64() * 1e3,
        cpu,
        wall.as_secs_f64(),
        cpu / wall.as_secs_f64() * 100.0
    );

    // Bulk users and devices go straight into the database: the API caps a user at 20 devices.
    async fn bulk_user(db: &gatebell_server::db::Db, rows: Vec<BulkDevice>) -> String {
        let user = new_id();
        let now = now_ms();
        let mut tx = db.begin().await.unwrap();
        // The same statements on either backend's connection type.
        macro_rules! insert_rows {
            ($c:ident) => {{
            sqlx::query("INSERT INTO users (id, name, email, password_hash, role, created_at) VALUES ($1, 'Bulk', $2, 'x', 'admin', $3)")
                .bind(&user).bind(format!("{user}@bench")).bind(now).execute(&mut *$c).await.unwrap();
            for (token, platform, sub) in &rows {
                let (e, p, a) = match sub { Some((e, p, a)) => (Some(e), Some(p), Some(a)), None => (None, None, None) };
                sqlx::query("INSERT INTO devices (id, token, platform, endpoint, p256dh, auth, user_id, created_at, updated_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)")
                    .bind(new_id()).bind(token).bind(*platform).bind(e).bind(p).bind(a).bind(&user).bind(now)
                    .execute(&mut *$c).await.unwrap();
            }
            }};
        }
        match tx.conn() {
            Backend::Sqlite(c) => insert_rows!(c),
            Backend::Postgres(c) => insert_rows!(c),
        }
        tx.commit().await.unwrap();
        user
    }

    // ---- 2. FCM throughput
    fcm.set_record_messages(false);
    let user = bulk_user(
        &db,
        (0..fcm_devices)
            .map(|i| (format!("bulk-fcm-{i}"), "android", None))
            .collect(),
    )
    .await;
    let before = fcm.delivered_count();
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    api.post(
        "/api/v1/internal/notify",
        SERVICE_KEY,
        json!({"userId": user, "type": "visitor_arrived", "title": "Bench", "body": "FCM fan-out"}),
    )
    .await;
    fcm.wait_for(before + fcm_devices, Duration::from_secs(300))
        .await
        .expect("FCM fan-out completes");
    let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    println!(
        "\n2. FCM: {fcm_devices} messages in {secs:.2} s = {:.0} messages/s (CPU {cpu:.2} s, fake FCM included)",
        fcm_devices as f64 / secs
    );

    // ---- 3. Web Push throughput
    let subs: Vec<_> = (0..web_devices).map(|_| web.new_subscription()).collect();
    let rows = subs
        .iter()
        .map(|s| {
            (
                s.endpoint().to_owned(),
                "web",
                Some((
                    s.endpoint().to_owned(),
                    s.subscription.keys.p256dh.clone(),
                    s.subscription.keys.auth.clone(),
                )),
            )
        })
        .collect();
    let user = bulk_user(&db, rows).await;
    let before = web.delivered_count();
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    api.post("/api/v1/internal/notify", SERVICE_KEY, json!({"userId": user, "type": "visitor_arrived", "title": "Bench", "body": "Web Push fan-out"})).await;
    web.wait_for(before + web_devices, Duration::from_secs(300))
        .await
        .expect("Web Push fan-out completes");
    let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let web_rate = web_devices as f64 / secs;
    println!(
        "\n3. Web Push: {web_devices} messages in {secs:.2} s = {web_rate:.0} messages/s (CPU {cpu:.2} s, the fake's decryption included)"
    );

    // ---- 4. the crate's raw rate: encrypt + sign each message, on every core
    let raw = raw_encrypt_sign_rate(&subs[..subs.len().min(1000)]);
    println!(
        "\n4. web-push crate raw encrypt+sign: {raw:.0} messages/s on {} threads; delivered Web Push is {:.0} % of it",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        web_rate / raw * 100.0
    );
    const UNDELIVERED: &str = "SELECT COUNT(*) FROM push_jobs WHERE state <> 'delivered'";
    let pending: i64 = match db.reader() {
        Backend::Sqlite(p) => sqlx::query_scalar(UNDELIVERED).fetch_one(p).await.unwrap(),
        Backend::Postgres(p) => sqlx::query_scalar(UNDELIVERED).fetch_one(p).await.unwrap(),
    };
    println!("\nundelivered outbox rows at the end: {pending}");
    server.shutdown().await;
}

fn raw_encrypt_sign_rate(subs: &[gatebell_testkit::TestSubscription]) -> f64 {
    use web_push::{
        ContentEncoding, SubscriptionInfo, VapidSignatureBuilder, WebPushMessageBuilder,
    };
    let keys = gatebell_server::channels::webpush::VapidKeys::generate();
    let payload = br#"{"type":"visitor_arrived","visitId":"0192f1a2-3b4c-7d5e-8f60-718293a4b5c6","title":"Bench","body":"Web Push fan-out"}"#;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let t = Instant::now();
    std::thread::scope(|s| {
        for chunk in subs.chunks(subs.len().div_ceil(threads)) {
            let keys = &keys;
            s.spawn(move || {
                for sub in chunk {
                    let info = SubscriptionInfo::new(
                        sub.endpoint(),
                        &sub.subscription.keys.p256dh,
                        &sub.subscription.keys.auth,
                    );
                    let sig = VapidSignatureBuilder::from_base64(&keys.private_key, &info)
                        .unwrap()
                        .build()
                        .unwrap();
                    let mut b = WebPushMessageBuilder::new(&info);
                    b.set_payload(ContentEncoding::Aes128Gcm, payload);
                    b.set_vapid_signature(sig);
                    std::hint::black_box(b.build().unwrap());
                }
            });
        }
    });
    subs.len() as f64 / t.elapsed().as_secs_f64()
}

//! Push throughput of the release server measured from outside (issue 15, first slice):
//!
//! ```text
//! cargo xtask bench            # builds the three release binaries below, then runs this
//! cargo build --release -p gatebell-server --bin gatebell --example throughput \
//!     -p gatebell-testkit --bin gatebell-fakes && target/release/examples/throughput
//! ```
//!
//! Three processes: this driver, `gatebell serve` (release, SQLite file or `DATABASE_URL`), and
//! `gatebell-fakes` (Google's OAuth and FCM, and a Web Push service that checks VAPID and decrypts
//! every payload). The driver seeds one user with `MESSAGES` Android devices and one with
//! `MESSAGES` browsers straight into the database (the API caps devices per user), starts the
//! server on it, and per round sends one `POST /api/v1/internal/notify`, then waits until the
//! fakes counted every message. Printed per provider: messages/s, the server's CPU ms per message
//! (utime + stime from `/proc/<pid>/stat`, so neither the fakes nor this driver count), the new
//! connections the fakes accepted, and the server's RSS idle / peak / 5 s after the runs.
//! Knobs: `MESSAGES` (4000), `ROUNDS` (3).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gatebell_server::db::{Backend, Db, new_id, now_ms};
use serde_json::{Value, json};

const SERVICE_KEY: &str = "throughput-service-key-0123456789";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A release binary beside this example (`target/release/NAME`).
fn sibling(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent().unwrap().parent().unwrap().join(name)
}

/// Reads lines of `child`'s stdout until `pick` returns something; the rest is drained.
fn first_line<T>(child: &mut Child, mut pick: impl FnMut(&str) -> Option<T>) -> T {
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let found = loop {
        let line = lines
            .next()
            .expect("the process ended before printing its address")
            .expect("reading stdout");
        if let Some(v) = pick(&line) {
            break v;
        }
    };
    std::thread::spawn(move || for _ in lines {});
    found
}

/// utime + stime of `pid`, in milliseconds.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15; counted after the name, 11 and 12 (100 ticks/s).
    (ticks(11) + ticks(12)) * 10.0
}

/// A `/proc/<pid>/status` size in MiB (`VmRSS`, `VmHWM`).
fn status_mib(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A device row: token (the endpoint for a browser), platform, and a browser's p256dh and auth.
type SeedDevice = (String, &'static str, Option<(String, String)>);

/// One user and its devices, inserted in one transaction.
async fn seed_user(db: &Db, devices: &[SeedDevice]) -> String {
    let user = new_id();
    let now = now_ms();
    let mut tx = db.begin().await.expect("begin");
    macro_rules! insert_rows {
        ($c:ident) => {{
            sqlx::query("INSERT INTO users (id, name, email, password_hash, role, created_at) VALUES ($1, 'Bench', $2, 'x', 'admin', $3)")
                .bind(&user).bind(format!("{user}@bench")).bind(now).execute(&mut *$c).await.expect("user");
            for (token, platform, keys) in devices {
                let endpoint = keys.as_ref().map(|_| token.clone());
                let (p256dh, auth) = keys.clone().unzip();
                sqlx::query("INSERT INTO devices (id, token, platform, endpoint, p256dh, auth, user_id, created_at, updated_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)")
                    .bind(new_id()).bind(token).bind(*platform).bind(endpoint).bind(p256dh).bind(auth).bind(&user).bind(now)
                    .execute(&mut *$c).await.expect("device");
            }
        }};
    }
    match tx.conn() {
        Backend::Sqlite(c) => insert_rows!(c),
        Backend::Postgres(c) => insert_rows!(c),
    }
    tx.commit().await.expect("commit");
    user
}

struct Round {
    per_second: f64,
    cpu_ms_per_message: f64,
    connections: u64,
}

#[tokio::main]
async fn main() {
    let messages = env_num("MESSAGES", 4000);
    let rounds = env_num("ROUNDS", 3).max(1);
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().expect("tempdir");

    // The fakes, in their own process.
    let credentials = dir.path().join("fcm.json");
    let mut fakes = Command::new(sibling("gatebell-fakes"))
        .arg(&credentials)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("target/release/gatebell-fakes (cargo xtask bench builds it)");
    let fakes_info: Value = first_line(&mut fakes, |l| serde_json::from_str(l).ok());
    let control = fakes_info["control"].as_str().expect("control").to_owned();
    let fcm_endpoint = fakes_info["fcmEndpoint"].as_str().expect("fcm").to_owned();
    let post = |path: &str, body: Value| http.post(format!("{control}{path}")).json(&body).send();
    post("/fcm/record", json!({ "on": false }))
        .await
        .expect("fakes: /fcm/record");
    let subscriptions: Vec<Value> = post("/webpush/subscriptions", json!({ "count": messages }))
        .await
        .expect("fakes: subscriptions")
        .json()
        .await
        .expect("subscriptions JSON");

    // The database, seeded before the server starts.
    let database_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()));
    let db = Db::connect(&database_url).await.expect("database");
    let android: Vec<SeedDevice> = (0..messages)
        .map(|i| (format!("bench-fcm-{i}"), "android", None))
        .collect();
    let browsers: Vec<SeedDevice> = subscriptions
        .iter()
        .map(|s| {
            let key = |k: &str| s["keys"][k].as_str().unwrap_or_default().to_owned();
            (
                s["endpoint"].as_str().unwrap_or_default().to_owned(),
                "web",
                Some((key("p256dh"), key("auth"))),
            )
        })
        .collect();
    let fcm_user = seed_user(&db, &android).await;
    let web_user = seed_user(&db, &browsers).await;
    drop(db);

    // The server, release build, as its own process.
    let mut server = Command::new(sibling("gatebell"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database_url,
        ])
        .args([
            "--service-key",
            SERVICE_KEY,
            "--fcm-endpoint",
            &fcm_endpoint,
        ])
        .arg("--fcm-credentials")
        .arg(&credentials)
        .args(["--push-allow-hosts", "127.0.0.1", "--push-allow-http"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("target/release/gatebell (cargo xtask bench builds it)");
    let url = first_line(&mut server, |l| {
        l.strip_prefix("Gatebell listening on ")
            .map(|u| u.trim_end_matches('/').to_owned())
    });
    let pid = server.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_mib = status_mib(pid, "VmRSS");
    let database = if database_url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    println!(
        "Gatebell push throughput, release server as its own process ({database}), {messages} messages × {rounds} rounds per provider"
    );

    let stats = || async {
        http.get(format!("{control}/stats"))
            .send()
            .await
            .expect("fakes: stats")
            .json::<Value>()
            .await
            .expect("stats JSON")
    };
    let mut table = Vec::new();
    for (provider, user, delivered, connections) in [
        ("FCM", &fcm_user, "fcmDelivered", "fcmConnections"),
        (
            "Web Push",
            &web_user,
            "webPushDelivered",
            "webPushConnections",
        ),
    ] {
        let mut runs = Vec::new();
        for round in 1..=rounds {
            let before = stats().await;
            let (sent0, conns0) = (
                before[delivered].as_u64().unwrap_or(0),
                before[connections].as_u64().unwrap_or(0),
            );
            let cpu0 = cpu_ms(pid);
            let started = Instant::now();
            let answer = http
                .post(format!("{url}/api/v1/internal/notify"))
                .bearer_auth(SERVICE_KEY)
                .json(&json!({ "userId": user, "type": "visitor_arrived", "title": "Bench", "body": provider }))
                .send()
                .await
                .expect("notify");
            assert!(answer.status().is_success(), "notify: {}", answer.status());
            let after = loop {
                let now = stats().await;
                if now[delivered].as_u64().unwrap_or(0) >= sent0 + messages {
                    break now;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(300),
                    "{provider}: not every message arrived in 300 s"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            let seconds = started.elapsed().as_secs_f64();
            let run = Round {
                per_second: messages as f64 / seconds,
                cpu_ms_per_message: (cpu_ms(pid) - cpu0) / messages as f64,
                connections: after[connections].as_u64().unwrap_or(0) - conns0,
            };
            println!(
                "  {provider} round {round}: {:.0} messages/s, {:.3} CPU ms/message, {} new connections",
                run.per_second, run.cpu_ms_per_message, run.connections
            );
            runs.push(run);
        }
        let mut rates: Vec<f64> = runs.iter().map(|r| r.per_second).collect();
        let mut cpu: Vec<f64> = runs.iter().map(|r| r.cpu_ms_per_message).collect();
        let mut conns: Vec<f64> = runs.iter().map(|r| r.connections as f64).collect();
        table.push((
            provider,
            median(&mut rates),
            median(&mut cpu),
            median(&mut conns),
        ));
    }
    let peak_mib = status_mib(pid, "VmHWM");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after_mib = status_mib(pid, "VmRSS");

    println!(
        "\n| sender ({database}) | messages/s | CPU ms per message | new connections per round |"
    );
    println!("|---|---:|---:|---:|");
    for (provider, rate, cpu, conns) in table {
        println!("| Gatebell, {provider} through the outbox | {rate:.0} | {cpu:.2} | {conns:.0} |");
    }
    println!(
        "\nserver RSS: idle {idle_mib:.1} MiB, peak {peak_mib:.1} MiB, 5 s after the runs {after_mib:.1} MiB"
    );

    let _ = server.kill();
    let _ = server.wait();
    drop(fakes.stdin.take());
    let _ = fakes.wait();
}

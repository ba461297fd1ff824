//! Push throughput and latency of the release server measured from outside:
//!
//! ```text
//! cargo xtask bench            # builds the three release binaries below, then runs this
//! cargo build --release -p gatebell-server --bin gatebell --example throughput \
//!     -p gatebell-testkit --bin gatebell-fakes && target/release/examples/throughput
//! ```
//!
//! Processes: this driver, `gatebell serve` (release; one instance on SQLite, then one and two
//! on a throwaway PostgreSQL cluster), `gatebell-fakes` (Google's OAuth and FCM, and a Web Push
//! service that checks VAPID and decrypts payloads: one in 50 in the throughput rounds, every
//! one in the latency phase), and the peers (`bench/peers/`).
//!
//! Per database the driver seeds one user with `MESSAGES` Android devices and one with
//! `MESSAGES` browsers straight into the database (the API caps devices per user), starts the
//! server(s), and per round sends one `POST /api/v1/internal/notify`, then waits until the fakes
//! counted every message. Printed per provider: messages/s, the servers' CPU ms per message
//! (utime + stime from `/proc/<pid>/stat`, so neither the fakes nor this driver count),
//! PostgreSQL's processes' CPU ms per message, and the new connections the fakes accepted. Then, with one instance: walk-ins at `RATE` a second for
//! `SECONDS` through `POST /api/v1/internal/walkins` (each to a host with one phone and one
//! browser), latency from sending the request to the fakes receiving each push (p50 / p99); and
//! a burst of both users' pushes at once (2 × `MESSAGES`) for the RSS after it; and the
//! visitor at the gate behind a backlog: a bulk notice to `BACKLOG` phones, then `TRIES`
//! walk-ins 100 ms apart while it drains, each walk-in's push latency and the drain rate. Last, the peers
//! (pywebpush, Node `web-push`, firebase-admin) against the same fakes.
//!
//! With valgrind installed, instructions per message come from callgrind: a server under
//! `valgrind --tool=callgrind`, counters zeroed before and dumped after one notification to
//! `CALLGRIND_MESSAGES` devices per provider.
//!
//! Knobs: `MESSAGES` (4000), `ROUNDS` (3), `RATE` (200), `SECONDS` (10), `BACKLOG` (40000),
//! `TRIES` (20), `SEEDED` (0: communities seeded by `gatebell seed` for the at-size phase, in
//! a fresh SQLite file, or with `SEEDED_ON=postgres` a fresh PostgreSQL database on the bench's
//! cluster or `DATABASE_URL`'s server), `SEEDED_RETENTION_DAYS` (364: the server on the
//! seeded database keeps that many days, so a day's rows are purged while the walk-ins run;
//! 90 for the first start's catch-up of nine months, 0 for no purge), `DATABASE_URL` (only
//! this database instead of SQLite + PostgreSQL), `PEERS=0` (skip the peers), `POSTGRES=0`
//! (skip PostgreSQL), `CALLGRIND=0` (skip callgrind), `CALLGRIND_MESSAGES` (500).

mod peers;
#[path = "../../tests/common/pg.rs"]
mod pg;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gatebell_server::db::{Backend, Db, new_id, now_ms};
use serde_json::{Value, json};

const SERVICE_KEY: &str = "throughput-service-key-0123456789";
/// In throughput runs the fake push service decrypts one payload in this many (and checks
/// every header, and each VAPID header's signature once): decrypting all of them would make
/// the fake, on the same two cores, the bottleneck rather than the server. The latency phase
/// decrypts every one.
const DECRYPT_EVERY: u64 = 50;

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
    macro_rules! insert_user {
        ($c:ident) => {{
            sqlx::query("INSERT INTO users (id, name, email, password_hash, role, created_at) VALUES ($1, 'Bench', $2, 'x', 'admin', $3)")
                .bind(&user).bind(format!("{user}@bench")).bind(now).execute(&mut *$c).await.expect("user");
        }};
    }
    match tx.conn() {
        Backend::Sqlite(c) => insert_user!(c),
        Backend::Postgres(c) => insert_user!(c),
    }
    tx.commit().await.expect("commit");
    add_devices(db, &user, devices).await;
    user
}

/// Devices for an existing user, in one transaction.
async fn add_devices(db: &Db, user: &str, devices: &[SeedDevice]) {
    let now = now_ms();
    let mut tx = db.begin().await.expect("begin");
    macro_rules! insert_rows {
        ($c:ident) => {{
            for (token, platform, keys) in devices {
                let endpoint = keys.as_ref().map(|_| token.clone());
                let (p256dh, auth) = keys.clone().unzip();
                sqlx::query("INSERT INTO devices (id, token, platform, endpoint, p256dh, auth, user_id, created_at, updated_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)")
                    .bind(new_id()).bind(token).bind(*platform).bind(endpoint).bind(p256dh).bind(auth).bind(user).bind(now)
                    .execute(&mut *$c).await.expect("device");
            }
        }};
    }
    match tx.conn() {
        Backend::Sqlite(c) => insert_rows!(c),
        Backend::Postgres(c) => insert_rows!(c),
    }
    tx.commit().await.expect("commit");
}

/// One provider's rounds against one database: medians.
struct Row {
    sender: String,
    database: String,
    per_second: f64,
    cpu_ms_per_message: f64,
    /// PostgreSQL's processes' CPU per message (0 on SQLite, which runs inside the server).
    db_cpu_ms_per_message: f64,
    connections: f64,
}

/// What the driver shares with every phase.
struct Bench {
    http: reqwest::Client,
    control: String,
    fcm_endpoint: String,
    credentials: std::path::PathBuf,
    messages: u64,
    rounds: u64,
}

impl Bench {
    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.control))
            .send()
            .await
            .expect("fakes")
            .json()
            .await
            .expect("fakes: JSON")
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.http
            .post(format!("{}{path}", self.control))
            .json(&body)
            .send()
            .await
            .expect("fakes")
            .json()
            .await
            .expect("fakes: JSON")
    }

    /// `n` browser subscriptions of the fake push service, as seed rows.
    async fn browsers(&self, n: u64) -> Vec<SeedDevice> {
        let made = self
            .post("/webpush/subscriptions", json!({ "count": n }))
            .await;
        made.as_array()
            .expect("subscriptions")
            .iter()
            .map(|s| {
                let key = |k: &str| s["keys"][k].as_str().unwrap_or_default().to_owned();
                (
                    s["endpoint"].as_str().unwrap_or_default().to_owned(),
                    "web",
                    Some((key("p256dh"), key("auth"))),
                )
            })
            .collect()
    }

    /// Waits until the fakes' `counter` reached `target`.
    async fn until_counted(&self, counter: &str, target: u64, what: &str) -> Value {
        let started = Instant::now();
        loop {
            let now = self.get("/stats").await;
            if now[counter].as_u64().unwrap_or(0) >= target {
                return now;
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "{what}: not every message arrived in 300 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A `gatebell serve` process.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(bench: &Bench, database_url: &str) -> Server {
        Server::start_under(bench, database_url, &[])
    }

    /// With `GATEBELL_RETENTION_DAYS` set to `days`.
    fn start_keeping(bench: &Bench, database_url: &str, days: u64) -> Server {
        Server::start_with(
            bench,
            database_url,
            &[],
            &[("GATEBELL_RETENTION_DAYS", days)],
        )
    }

    /// `wrapper` runs the server (`valgrind --tool=callgrind …`); empty for none.
    fn start_under(bench: &Bench, database_url: &str, wrapper: &[String]) -> Server {
        Server::start_with(bench, database_url, wrapper, &[])
    }

    fn start_with(
        bench: &Bench,
        database_url: &str,
        wrapper: &[String],
        env: &[(&str, u64)],
    ) -> Server {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(sibling("gatebell"));
                c
            }
            None => Command::new(sibling("gatebell")),
        };
        let mut child = command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args([
                "--service-key",
                SERVICE_KEY,
                "--fcm-endpoint",
                &bench.fcm_endpoint,
            ])
            .arg("--fcm-credentials")
            .arg(&bench.credentials)
            .args(["--push-allow-hosts", "127.0.0.1", "--push-allow-http"])
            .env("RUST_LOG", "error")
            .envs(env.iter().map(|(k, v)| (k, v.to_string())))
            .stdout(Stdio::piped())
            .spawn()
            .expect("target/release/gatebell (cargo xtask bench builds it)");
        let url = first_line(&mut child, |l| {
            l.strip_prefix("Gatebell listening on ")
                .map(|u| u.trim_end_matches('/').to_owned())
        });
        Server { child, url }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The machine's busy and total jiffies so far (`/proc/stat`, every core).
fn machine_jiffies() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = fields.iter().sum();
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    let idle = fields.get(3).copied().unwrap_or(0.0) + fields.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

fn cpu_of(servers: &[Server]) -> f64 {
    servers.iter().map(|s| cpu_ms(s.pid())).sum()
}

/// CPU of every PostgreSQL process on the machine (the postmaster and its backends, named
/// `postgres`, with the children they reaped), in milliseconds; 0 without PostgreSQL. The
/// bench's throwaway cluster is the only one running.
fn postgres_cpu_ms() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| cpu_ms(pid) + children_cpu_ms(pid))
        .sum()
}

/// cutime + cstime of `pid`: its children that ended, in milliseconds (the postmaster's count
/// a backend that closed during a round).
fn children_cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .skip(13)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    fields.iter().sum::<f64>() * 10.0
}

/// Rounds of one `POST /internal/notify` to `user` per provider; the medians.
async fn rounds(
    bench: &Bench,
    servers: &[Server],
    database: &str,
    users: &[(&str, &str)],
) -> Vec<Row> {
    let mut rows = Vec::new();
    for (provider, user) in users {
        let (delivered, connections) = match *provider {
            "FCM" => ("fcmDelivered", "fcmConnections"),
            _ => ("webPushDelivered", "webPushConnections"),
        };
        let (mut rates, mut cpu, mut db_cpu, mut conns) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 1..=bench.rounds {
            let before = bench.get("/stats").await;
            let (sent0, conns0) = (
                before[delivered].as_u64().unwrap_or(0),
                before[connections].as_u64().unwrap_or(0),
            );
            let cpu0 = cpu_of(servers);
            let db_cpu0 = postgres_cpu_ms();
            let machine0 = machine_jiffies();
            let started = Instant::now();
            notify(bench, &servers[0].url, user, provider).await;
            let after = bench
                .until_counted(delivered, sent0 + bench.messages, provider)
                .await;
            let seconds = started.elapsed().as_secs_f64();
            let (rate, per_msg, db_per_msg, new_conns) = (
                bench.messages as f64 / seconds,
                (cpu_of(servers) - cpu0) / bench.messages as f64,
                (postgres_cpu_ms() - db_cpu0) / bench.messages as f64,
                after[connections].as_u64().unwrap_or(0) - conns0,
            );
            let machine1 = machine_jiffies();
            let busy = (machine1.0 - machine0.0) / (machine1.1 - machine0.1).max(1.0) * 100.0;
            println!(
                "  {database}, {provider} round {round}: {rate:.0} messages/s, {per_msg:.3} CPU ms/message (PostgreSQL {db_per_msg:.3}), {new_conns} new connections; machine {busy:.0} % busy (every process, all cores)"
            );
            rates.push(rate);
            cpu.push(per_msg);
            db_cpu.push(db_per_msg);
            conns.push(new_conns as f64);
        }
        rows.push(Row {
            sender: format!("Gatebell, {provider} through the outbox"),
            database: database.to_owned(),
            per_second: median(&mut rates),
            cpu_ms_per_message: median(&mut cpu),
            db_cpu_ms_per_message: median(&mut db_cpu),
            connections: median(&mut conns),
        });
    }
    rows
}

async fn notify(bench: &Bench, url: &str, user: &str, provider: &str) {
    let answer = bench
        .http
        .post(format!("{url}/api/v1/internal/notify"))
        .bearer_auth(SERVICE_KEY)
        .json(&json!({ "userId": user, "type": "visitor_arrived", "title": "Bench", "body": provider }))
        .send()
        .await
        .expect("notify");
    assert!(answer.status().is_success(), "notify: {}", answer.status());
}

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Walk-ins at `rate` a second for `seconds` through the internal API, each to a host with one
/// phone and one browser; latency from sending the request to each push reaching the fakes.
/// Returns one line per provider.
async fn walkin_latency(
    bench: &Bench,
    db: &Db,
    server: &Server,
    database: &str,
    rate: u64,
    seconds: u64,
) -> Vec<String> {
    const HOSTS: u64 = 50;
    let browsers = bench.browsers(HOSTS).await;
    for (i, browser) in browsers.into_iter().enumerate() {
        let answer = bench
            .http
            .put(format!("{}/api/v1/internal/users/bench-host-{i}", server.url))
            .bearer_auth(SERVICE_KEY)
            .json(&json!({ "name": format!("Host {i}"), "role": "resident", "unit": format!("B-{i}") }))
            .send()
            .await
            .expect("internal user");
        assert!(
            answer.status().is_success(),
            "internal user: {}",
            answer.status()
        );
        let user: Value = answer.json().await.expect("user JSON");
        let id = user["id"].as_str().expect("user id");
        add_devices(
            db,
            id,
            &[(format!("bench-walkin-{i}"), "android", None), browser],
        )
        .await;
    }
    bench.post("/fcm/record", json!({ "on": true })).await;
    // Every payload decrypted: the arrival times need each one's visit id.
    bench
        .post("/webpush/load", json!({ "decryptEvery": 1 }))
        .await;
    let before = bench.get("/stats").await;
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let t0 = tokio::time::Instant::now();
    let mut sent = tokio::task::JoinSet::new();
    let run = unix_us();
    for i in 0..total {
        tokio::time::sleep_until(t0 + interval * i as u32).await;
        let (http, url) = (bench.http.clone(), server.url.clone());
        sent.spawn(async move {
            let at = unix_us();
            let answer = http
                .post(format!("{url}/api/v1/internal/walkins"))
                .bearer_auth(SERVICE_KEY)
                .json(&json!({
                    "externalVisitId": format!("bench-{run}-{i}"),
                    "hostExternalId": format!("bench-host-{}", i % HOSTS),
                    "visitorName": "Ravi Kumar",
                    "purpose": "Delivery",
                }))
                .send()
                .await
                .expect("walk-in");
            assert!(answer.status().is_success(), "walk-in: {}", answer.status());
            let visit: Value = answer.json().await.expect("visit JSON");
            let took_ms = (unix_us() - at) as f64 / 1000.0;
            (
                visit["id"].as_str().expect("visit id").to_owned(),
                at,
                took_ms,
            )
        });
    }
    let mut sent_at = HashMap::new();
    let mut request_ms = Vec::new();
    while let Some(done) = sent.join_next().await {
        let (visit, at, took_ms) = done.expect("walk-in task");
        sent_at.insert(visit, at);
        request_ms.push(took_ms);
    }
    request_ms.sort_by(f64::total_cmp);
    // Every walk-in's two pushes, by the fakes' counters (cheap); only then the arrival times,
    // once: building them holds the fakes' one thread, which would delay pushes still coming.
    for counter in ["fcmDelivered", "webPushDelivered"] {
        let target = before[counter].as_u64().unwrap_or(0) + total;
        bench.until_counted(counter, target, "walk-ins").await;
    }
    let arrivals: Vec<(String, f64)> = bench
        .get("/arrivals")
        .await
        .as_array()
        .expect("arrivals")
        .iter()
        .filter_map(|a| {
            let sent = sent_at.get(a["visitId"].as_str()?)?;
            let ms = (a["atUs"].as_u64()? as f64 - *sent as f64) / 1000.0;
            Some((a["provider"].as_str()?.to_owned(), ms))
        })
        .collect();
    bench.post("/fcm/record", json!({ "on": false })).await;
    bench
        .post("/webpush/load", json!({ "decryptEvery": DECRYPT_EVERY }))
        .await;
    let mut lines = vec![format!(
        "| {database} | the walk-in request itself | {total} | – | {:.1} | {:.1} | {:.1} |",
        percentile(&request_ms, 0.50),
        percentile(&request_ms, 0.99),
        request_ms[request_ms.len() - 1]
    )];
    for provider in ["fcm", "webpush"] {
        let mut ms: Vec<f64> = arrivals
            .iter()
            .filter(|(p, _)| p == provider)
            .map(|(_, ms)| *ms)
            .collect();
        ms.sort_by(f64::total_cmp);
        let name = if provider == "fcm" { "FCM" } else { "Web Push" };
        if ms.is_empty() {
            lines.push(format!("| {database} | {name} | {total} | 0 | – | – | – |"));
            continue;
        }
        lines.push(format!(
            "| {database} | {name} | {total} | {} | {:.1} | {:.1} | {:.1} |",
            ms.len(),
            percentile(&ms, 0.50),
            percentile(&ms, 0.99),
            ms[ms.len() - 1]
        ));
    }
    lines
}

/// The server at the size of a deployment: `communities` seeded into `database_url` by
/// `gatebell seed`, then a server started on it (its start-up time and idle RSS), the first
/// page of 50 seeded residents' inboxes (each about 100 entries) read 400 times, and the
/// walk-in latency phase again. Returns table lines.
async fn at_size(
    bench: &Bench,
    database_url: &str,
    database: &str,
    communities: u64,
    rate: u64,
    seconds: u64,
) -> Vec<String> {
    let seeding = Instant::now();
    let status = Command::new(sibling("gatebell"))
        .args(["seed", "--communities", &communities.to_string()])
        .args(["--database-url", database_url])
        .stderr(Stdio::null())
        .status()
        .expect("gatebell seed");
    assert!(status.success(), "gatebell seed failed");
    let seeded_secs = seeding.elapsed().as_secs_f64();
    let db = Db::connect(database_url).await.expect("database");
    // A day's rows are past retention, as on any day of a deployment that keeps a year; the
    // server's first housekeeping purges them while the walk-ins run. SEEDED_RETENTION_DAYS=90
    // (the default retention) makes it the first start's catch-up of nine months instead.
    let keep_days = env_num("SEEDED_RETENTION_DAYS", 364);
    // SEEDED_RETENTION_DAYS=0: kept forever, nothing purged (the size alone).
    let cutoff = (keep_days > 0).then(|| now_ms() - keep_days as i64 * 24 * 3600 * 1000);
    let due = match cutoff {
        Some(cutoff) => old_rows(&db, cutoff).await,
        None => 0,
    };
    let started = Instant::now();
    let server = Server::start_keeping(bench, database_url, keep_days);
    let start_ms = started.elapsed().as_secs_f64() * 1000.0;
    let purged = tokio::spawn({
        let db = db.clone();
        async move {
            while let Some(cutoff) = cutoff
                && old_rows_left(&db, cutoff).await
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            started.elapsed().as_secs_f64()
        }
    });
    let idle_mib = status_mib(server.pid(), "VmRSS");
    // Sessions for seeded residents, written as the server writes them (the hash of a token).
    let mut tokens = Vec::new();
    let now = now_ms();
    let mut tx = db.begin().await.expect("begin");
    for i in 0..50u64 {
        use sha2::Digest;
        let token = format!("at-size-{i}-{}", new_id());
        let hash: String = sha2::Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let user = format!("000000-us-{}", 100_000_000_000u64 + i * 20_011 % 1_000);
        macro_rules! insert_session {
            ($c:ident) => {{
                sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at, id, last_used_at) VALUES ($1, $2, $3, $4, $5, $3)")
                    .bind(&hash).bind(&user).bind(now).bind(now + 3_600_000).bind(new_id())
                    .execute(&mut *$c).await.expect("session");
            }};
        }
        match tx.conn() {
            Backend::Sqlite(c) => insert_session!(c),
            Backend::Postgres(c) => insert_session!(c),
        }
        tokens.push(token);
    }
    tx.commit().await.expect("commit");
    let mut page_ms = Vec::new();
    for i in 0..400 {
        let at = Instant::now();
        let answer = bench
            .http
            .get(format!("{}/api/v1/notifications", server.url))
            .bearer_auth(&tokens[i % tokens.len()])
            .send()
            .await
            .expect("inbox");
        assert!(answer.status().is_success(), "inbox: {}", answer.status());
        let page: Value = answer.json().await.expect("inbox JSON");
        assert!(!page["items"].as_array().expect("items").is_empty());
        page_ms.push(at.elapsed().as_secs_f64() * 1000.0);
    }
    page_ms.sort_by(f64::total_cmp);
    let mut lines = vec![
        format!(
            "| {database}, {communities} communities seeded in {seeded_secs:.0} s | start-up to listening | {start_ms:.0} ms, RSS then {idle_mib:.1} MiB |"
        ),
        format!(
            "| {database}, {communities} communities | inbox first page, 400 reads | p50 {:.1} ms, p99 {:.1} ms |",
            percentile(&page_ms, 0.50),
            percentile(&page_ms, 0.99)
        ),
    ];
    lines.extend(walkin_latency(bench, &db, &server, database, rate, seconds).await);
    let walkins_ended = started.elapsed().as_secs_f64();
    // Then the purge alone: how long a day's rows take once the writer is idle.
    let purge = if cutoff.is_none() {
        purged.abort();
        "off".to_owned()
    } else {
        match tokio::time::timeout(Duration::from_secs(300), purged).await {
            Ok(done) => format!("done {:.1} s after start", done.expect("purge watch")),
            Err(_) => "not done 300 s after the walk-ins".to_owned(),
        }
    };
    lines.push(format!(
        "| {database}, {communities} communities | retention {keep_days} days: {due} rows past it at start | purge {purge}; walk-ins ended {walkins_ended:.1} s after start |"
    ));
    lines
}

/// One value of type `$t` from `$sql` with `$1` bound to `$cutoff`, on the read side of
/// either backend.
macro_rules! read_scalar {
    ($db:expr, $t:ty, $sql:expr, $cutoff:expr) => {
        match $db.reader() {
            Backend::Sqlite(p) => {
                sqlx::query_scalar::<_, $t>($sql)
                    .bind($cutoff)
                    .fetch_one(p)
                    .await
            }
            Backend::Postgres(p) => {
                sqlx::query_scalar::<_, $t>($sql)
                    .bind($cutoff)
                    .fetch_one(p)
                    .await
            }
        }
    };
}

/// Visits, inbox entries and push rows created before `cutoff`.
async fn old_rows(db: &Db, cutoff: i64) -> i64 {
    let sql = "SELECT (SELECT COUNT(*) FROM visits WHERE created_at < $1)
                    + (SELECT COUNT(*) FROM notifications WHERE created_at < $1)
                    + (SELECT COUNT(*) FROM push_jobs WHERE created_at < $1)";
    read_scalar!(db, i64, sql, cutoff).expect("count old rows")
}

/// Whether retention has inbox entries before `cutoff` left to delete (a visit a kept entry
/// is about stays).
async fn old_rows_left(db: &Db, cutoff: i64) -> bool {
    let sql = "SELECT EXISTS (SELECT 1 FROM notifications WHERE created_at < $1)";
    read_scalar!(db, bool, sql, cutoff).unwrap_or(true)
}

/// A walk-in while a bulk notice waits: one notification of the `Other` class to a user with
/// `backlog` phones, then `tries` walk-ins (one every 100 ms) to a host with one phone;
/// latency from each walk-in request to its push at the fake FCM, with the bulk pushes still
/// queued when it was sent; then the rate at which the backlog drained.
async fn gate_behind_backlog(
    bench: &Bench,
    db: &Db,
    server: &Server,
    database: &str,
    backlog: u64,
    tries: u64,
) -> Vec<String> {
    let phones: Vec<SeedDevice> = (0..backlog)
        .map(|i| (format!("bench-bulk-{i}"), "android", None))
        .collect();
    let bulk_user = seed_user(db, &phones).await;
    let answer = bench
        .http
        .put(format!(
            "{}/api/v1/internal/users/bench-gate-host",
            server.url
        ))
        .bearer_auth(SERVICE_KEY)
        .json(&json!({ "name": "Gate Host", "role": "resident", "unit": "G-1" }))
        .send()
        .await
        .expect("internal user");
    let host: Value = answer.json().await.expect("user JSON");
    add_devices(
        db,
        host["id"].as_str().expect("host id"),
        &[("bench-gate-phone".to_owned(), "android", None)],
    )
    .await;
    bench.post("/fcm/record", json!({ "on": true })).await;
    let delivered = |stats: &Value| stats["fcmDelivered"].as_u64().unwrap_or(0);
    let before = delivered(&bench.get("/stats").await);
    let notice = Instant::now();
    let answer = bench
        .http
        .post(format!("{}/api/v1/internal/notify", server.url))
        .bearer_auth(SERVICE_KEY)
        .json(&json!({ "userId": bulk_user, "type": "community_notice", "title": "Water", "body": "No water 2-4 pm" }))
        .send()
        .await
        .expect("notify");
    assert!(answer.status().is_success(), "notify: {}", answer.status());
    let run = unix_us();
    let mut sent = Vec::new();
    let mut queued_at_send = Vec::new();
    for i in 0..tries {
        tokio::time::sleep_until((notice + Duration::from_millis(100 * i)).into()).await;
        let done = delivered(&bench.get("/stats").await) - before;
        queued_at_send.push(backlog.saturating_sub(done));
        let at = unix_us();
        let answer = bench
            .http
            .post(format!("{}/api/v1/internal/walkins", server.url))
            .bearer_auth(SERVICE_KEY)
            .json(&json!({
                "externalVisitId": format!("gate-{run}-{i}"),
                "hostExternalId": "bench-gate-host",
                "visitorName": "Ravi Kumar",
            }))
            .send()
            .await
            .expect("walk-in");
        assert!(answer.status().is_success(), "walk-in: {}", answer.status());
        let visit: Value = answer.json().await.expect("visit JSON");
        sent.push((visit["id"].as_str().expect("visit id").to_owned(), at));
    }
    bench
        .until_counted("fcmDelivered", before + backlog + tries, "backlog")
        .await;
    let drained = notice.elapsed().as_secs_f64();
    let arrivals = bench.get("/arrivals").await;
    bench.post("/fcm/record", json!({ "on": false })).await;
    let mut ms: Vec<f64> = sent
        .iter()
        .filter_map(|(visit, at)| {
            let arrival = arrivals.as_array()?.iter().find(|a| {
                a["provider"] == "fcm" && a["visitId"].as_str() == Some(visit.as_str())
            })?;
            Some((arrival["atUs"].as_u64()? as f64 - *at as f64) / 1000.0)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    assert_eq!(ms.len() as u64, tries, "every walk-in's push arrived");
    let (least, most) = (
        queued_at_send.iter().min().copied().unwrap_or(0),
        queued_at_send.iter().max().copied().unwrap_or(0),
    );
    vec![format!(
        "| {database} | {tries} walk-ins behind {least}–{most} queued bulk pushes | {:.1} | {:.1} | {:.1} | {:.0} bulk pushes/s |",
        percentile(&ms, 0.50),
        percentile(&ms, 0.99),
        ms[ms.len() - 1],
        backlog as f64 / drained
    )]
}

/// Instructions per message under callgrind (repeatable where seconds are not): the server
/// runs under `valgrind --tool=callgrind` on a fresh SQLite file; per provider, the counters
/// are zeroed, one notification to `n` devices is delivered, and the counts are dumped.
async fn instructions_per_message(bench: &Bench, dir: &Path, n: u64) -> Vec<String> {
    let _ = std::fs::remove_dir_all(sibling("callgrind"));
    let url = format!("sqlite://{}/callgrind.db?mode=rwc", dir.display());
    let db = Db::connect(&url).await.expect("database");
    let android: Vec<SeedDevice> = (0..n)
        .map(|i| (format!("callgrind-fcm-{i}"), "android", None))
        .collect();
    let fcm_user = seed_user(&db, &android).await;
    let web_user = seed_user(&db, &bench.browsers(n).await).await;
    // Kept beside the binaries for `callgrind_annotate` (the profile in docs/PERFORMANCE.md).
    let kept = sibling("callgrind");
    std::fs::create_dir_all(&kept).expect("target/release/callgrind");
    let out = kept.join("gatebell.out");
    let server = Server::start_under(
        bench,
        &url,
        &[
            "valgrind".into(),
            "--tool=callgrind".into(),
            format!("--callgrind-out-file={}", out.display()),
        ],
    );
    let pid = server.pid().to_string();
    let control = |arg: &str| {
        let status = Command::new("callgrind_control")
            .args([arg, &pid])
            .stdout(Stdio::null())
            .status()
            .expect("callgrind_control");
        assert!(status.success(), "callgrind_control {arg} failed");
    };
    let mut lines = Vec::new();
    for (dump, provider, user, counter) in [
        (1, "FCM", &fcm_user, "fcmDelivered"),
        (2, "Web Push", &web_user, "webPushDelivered"),
    ] {
        let before = bench.get("/stats").await[counter].as_u64().unwrap_or(0);
        control("-z");
        notify(bench, &server.url, user, provider).await;
        bench.until_counted(counter, before + n, provider).await;
        control("-d");
        let dumped =
            std::fs::read_to_string(format!("{}.{dump}", out.display())).unwrap_or_default();
        let total: f64 = dumped
            .lines()
            .find_map(|l| {
                l.strip_prefix("totals:")
                    .or_else(|| l.strip_prefix("summary:"))
            })
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let line = format!(
            "{provider}: {:.0} thousand instructions per message ({n} messages, the notify request and the idle ticks included; profile: callgrind_annotate {}.{dump})",
            total / n as f64 / 1000.0,
            out.display()
        );
        println!("  callgrind, {line}");
        lines.push(line);
    }
    lines
}

/// What one database's run printed for the summary.
struct Outcome {
    rows: Vec<Row>,
    latency: Vec<String>,
    backlog: Vec<String>,
    memory: Option<String>,
}

/// Seeds a fresh database, runs the rounds on `instances` servers, and with one instance the
/// walk-in latency and the burst.
async fn run_database(
    bench: &Bench,
    database_url: &str,
    database: &str,
    instances: usize,
    rate: u64,
    seconds: u64,
) -> Outcome {
    let db = Db::connect(database_url).await.expect("database");
    let android: Vec<SeedDevice> = (0..bench.messages)
        .map(|i| (format!("bench-fcm-{i}"), "android", None))
        .collect();
    let fcm_user = seed_user(&db, &android).await;
    let web_user = seed_user(&db, &bench.browsers(bench.messages).await).await;
    let servers: Vec<Server> = (0..instances)
        .map(|_| Server::start(bench, database_url))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_mib = status_mib(servers[0].pid(), "VmRSS");
    let rows = rounds(
        bench,
        &servers,
        database,
        &[("FCM", fcm_user.as_str()), ("Web Push", web_user.as_str())],
    )
    .await;
    if instances > 1 {
        return Outcome {
            rows,
            latency: Vec::new(),
            backlog: Vec::new(),
            memory: None,
        };
    }
    let latency = walkin_latency(bench, &db, &servers[0], database, rate, seconds).await;
    let backlog = gate_behind_backlog(
        bench,
        &db,
        &servers[0],
        database,
        env_num("BACKLOG", 40_000),
        env_num("TRIES", 20).max(1),
    )
    .await;
    // The burst: both users at once, 2 × MESSAGES pushes.
    let before = bench.get("/stats").await;
    let target = |k: &str| before[k].as_u64().unwrap_or(0) + bench.messages;
    let (fcm_target, web_target) = (target("fcmDelivered"), target("webPushDelivered"));
    tokio::join!(
        notify(bench, &servers[0].url, &fcm_user, "FCM"),
        notify(bench, &servers[0].url, &web_user, "Web Push")
    );
    bench
        .until_counted("fcmDelivered", fcm_target, "burst")
        .await;
    bench
        .until_counted("webPushDelivered", web_target, "burst")
        .await;
    let peak_mib = status_mib(servers[0].pid(), "VmHWM");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after_mib = status_mib(servers[0].pid(), "VmRSS");
    let memory = format!(
        "{database}: idle {idle_mib:.1} MiB, peak {peak_mib:.1} MiB, 5 s after a burst of {} pushes {after_mib:.1} MiB",
        2 * bench.messages
    );
    println!("  {memory}");
    Outcome {
        rows,
        latency,
        backlog,
        memory: Some(memory),
    }
}

#[tokio::main]
async fn main() {
    let messages = env_num("MESSAGES", 4000);
    let rounds = env_num("ROUNDS", 3).max(1);
    let (rate, seconds) = (env_num("RATE", 200).max(1), env_num("SECONDS", 10).max(1));
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
    let bench = Bench {
        http: reqwest::Client::new(),
        control: fakes_info["control"].as_str().expect("control").to_owned(),
        fcm_endpoint: fakes_info["fcmEndpoint"].as_str().expect("fcm").to_owned(),
        credentials: credentials.clone(),
        messages,
        rounds,
    };
    bench.post("/fcm/record", json!({ "on": false })).await;
    bench
        .post("/webpush/load", json!({ "decryptEvery": DECRYPT_EVERY }))
        .await;
    println!(
        "Gatebell push throughput, release server(s) as their own processes, {messages} messages × {rounds} rounds per provider"
    );

    let mut outcomes = Vec::new();
    match std::env::var("DATABASE_URL") {
        Ok(url) => {
            let name = if url.starts_with("sqlite") {
                "SQLite"
            } else {
                "PostgreSQL"
            };
            outcomes.push(run_database(&bench, &url, name, 1, rate, seconds).await);
        }
        Err(_) => {
            let sqlite = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
            outcomes.push(run_database(&bench, &sqlite, "SQLite", 1, rate, seconds).await);
            if env_num("POSTGRES", 1) == 1
                && Path::new("/usr/lib/postgresql/15/bin/initdb").exists()
            {
                let one = pg::fresh_database().await;
                outcomes.push(run_database(&bench, &one, "PostgreSQL", 1, rate, seconds).await);
                let two = pg::fresh_database().await;
                outcomes.push(
                    run_database(&bench, &two, "PostgreSQL, 2 instances", 2, rate, seconds).await,
                );
            } else {
                println!(
                    "  PostgreSQL skipped (POSTGRES=0, or no /usr/lib/postgresql/15/bin/initdb)"
                );
            }
        }
    }
    let seeded = env_num("SEEDED", 0);
    let size = if seeded > 0 {
        // A database of its own: the phases above filled theirs with the bench's users.
        let url = if std::env::var("SEEDED_ON").is_ok_and(|v| v == "postgres") {
            pg::fresh_database().await
        } else {
            format!("sqlite://{}/seeded.db?mode=rwc", dir.path().display())
        };
        let name = if url.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        };
        at_size(&bench, &url, name, seeded, rate, seconds).await
    } else {
        Vec::new()
    };
    let callgrind = if env_num("CALLGRIND", 1) == 1
        && Command::new("valgrind").arg("--version").output().is_ok()
    {
        instructions_per_message(&bench, dir.path(), env_num("CALLGRIND_MESSAGES", 500)).await
    } else {
        println!("  callgrind skipped (CALLGRIND=0, or no valgrind)");
        Vec::new()
    };
    let peers = if env_num("PEERS", 1) == 1 {
        peers::run_peers(
            &bench.control,
            &bench.fcm_endpoint,
            &credentials,
            messages,
            rounds,
        )
        .await
    } else {
        Vec::new()
    };

    println!(
        "\n| sender | database | messages/s | CPU ms per message | PostgreSQL CPU ms per message | new connections per round |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for row in outcomes.iter().flat_map(|o| &o.rows) {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.0} |",
            row.sender,
            row.database,
            row.per_second,
            row.cpu_ms_per_message,
            row.db_cpu_ms_per_message,
            row.connections
        );
    }
    for peer in &peers {
        println!(
            "| {} ({}) | – | {:.0} | {:.2} | – | – |",
            peer.sender, peer.provider, peer.per_second, peer.cpu_ms_per_message
        );
    }
    let rate_of = |database: &str, sender: &str| {
        outcomes
            .iter()
            .flat_map(|o| &o.rows)
            .find(|r| r.database == database && r.sender.contains(sender))
            .map(|r| r.per_second)
    };
    for provider in ["FCM", "Web Push"] {
        if let (Some(one), Some(two)) = (
            rate_of("PostgreSQL", provider),
            rate_of("PostgreSQL, 2 instances", provider),
        ) {
            println!(
                "\n{provider} on PostgreSQL, two instances vs one: {:.2}×",
                two / one
            );
        }
    }
    println!("\nwalk-in → push at the fakes, {rate} walk-ins/s for {seconds} s, one instance:\n");
    println!("| database | provider | walk-ins | pushes seen | p50 ms | p99 ms | max ms |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for line in outcomes.iter().flat_map(|o| &o.latency) {
        println!("{line}");
    }
    if !size.is_empty() {
        println!("\nat the size of a deployment (SEEDED={seeded}), one instance:\n");
        for line in &size {
            println!("{line}");
        }
    }
    println!("\nthe visitor at the gate behind a bulk notice, one instance:\n");
    println!("| database | what | p50 ms | p99 ms | max ms | backlog drained at |");
    println!("|---|---|---:|---:|---:|---:|");
    for line in outcomes.iter().flat_map(|o| &o.backlog) {
        println!("{line}");
    }
    println!();
    for line in &callgrind {
        println!("callgrind (SQLite), {line}");
    }
    for memory in outcomes.iter().filter_map(|o| o.memory.as_ref()) {
        println!("server RSS, {memory}");
    }
    drop(fakes.stdin.take());
    let _ = fakes.wait();
}

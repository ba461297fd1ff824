//! The senders a user would pick instead of Gatebell (issue 15), run against the same fakes in
//! the same run: pywebpush and Node's `web-push` on the fake Web Push service, firebase-admin
//! (Python) on the fake FCM. The scripts are in `bench/peers/` (see its README.md); their
//! Python venv and `node_modules` live in `~/.cache/gatebell/bench-peers/`, made on first use
//! and remade when `requirements.txt` or `package-lock.json` change. A peer that cannot run
//! (no python3 or node, no registry) is skipped with the reason printed.
//!
//! Each peer is a child process given a JSON job on stdin; it prints `{"library", "version",
//! "mode"}` and then `{"messages", "seconds", "cpuMs"}` per round, cpuMs being its own user +
//! system CPU in that round (so, as for Gatebell, neither the fakes nor this driver count).
//! After each peer the fakes' `/stats` must have counted exactly `messages × rounds` more
//! deliveries, else the peer's row is dropped with the reason printed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// One peer's medians over the rounds.
pub struct PeerRow {
    pub sender: String,
    pub provider: &'static str, /* "Web Push" | "FCM" */
    pub per_second: f64,
    pub cpu_ms_per_message: f64,
}

const SUBJECT: &str = "mailto:bench@gatebell.example";
/// Concurrent requests of the Node peer (the issue's reference figure used 64).
const NODE_IN_FLIGHT: u64 = 64;

/// `bench/peers/` in the checkout this example was built from.
fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/peers")
}

/// `~/.cache/gatebell/bench-peers`.
fn cache_dir() -> Result<PathBuf, String> {
    let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
    Ok(PathBuf::from(home).join(".cache/gatebell/bench-peers"))
}

/// Runs a setup command to its end; its output goes to this process's stderr.
async fn setup(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: {status}"))
    }
}

/// The venv's python, with `requirements.txt` installed (once; again when the file changes).
async fn python_env(cache: &Path) -> Result<PathBuf, String> {
    let requirements = peers_dir().join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("{}: {e}", requirements.display()))?;
    let venv = cache.join("venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("gatebell-requirements.txt");
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&*wanted) {
        return Ok(python);
    }
    if !python.exists() {
        println!("  peers: making a Python venv in {}", venv.display());
        std::fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
        setup(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv (is python3 with its venv module installed?)",
        )
        .await?;
    }
    println!("  peers: pip install -r bench/peers/requirements.txt");
    setup(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
        "pip install -r bench/peers/requirements.txt",
    )
    .await?;
    std::fs::write(&stamp, &wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(python)
}

/// A copy of `bench/peers` for Node with `npm ci` done (once; again when the lock changes);
/// the script is copied afresh every time.
async fn node_env(cache: &Path) -> Result<PathBuf, String> {
    match Command::new("node").arg("--version").output().await {
        Ok(out) if out.status.success() => {}
        Ok(out) => return Err(format!("node --version: {}", out.status)),
        Err(e) => return Err(format!("node: {e}")),
    }
    let dir = cache.join("node");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for file in ["package.json", "package-lock.json", "webpush_peer.mjs"] {
        std::fs::copy(peers_dir().join(file), dir.join(file))
            .map_err(|e| format!("copying bench/peers/{file}: {e}"))?;
    }
    let lock = std::fs::read_to_string(dir.join("package-lock.json")).unwrap_or_default();
    let stamp = dir.join("node_modules/.gatebell-package-lock.json");
    if std::fs::read_to_string(&stamp).ok() != Some(lock.clone()) {
        println!("  peers: npm ci in {}", dir.display());
        setup(
            Command::new("npm")
                .args([
                    "ci",
                    "--ignore-scripts",
                    "--no-audit",
                    "--no-fund",
                    "--no-update-notifier",
                ])
                .current_dir(&dir),
            "npm ci (is npm installed?)",
        )
        .await?;
        std::fs::write(&stamp, &lock).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    Ok(dir)
}

/// A fresh VAPID key pair, base64url: (raw 32-byte private key, uncompressed public point).
fn vapid_keys() -> (String, String) {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let secret = p256::SecretKey::random(&mut rand::thread_rng());
    let public = secret.public_key().to_encoded_point(false);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    (b64.encode(secret.to_bytes()), b64.encode(public.as_bytes()))
}

struct Fakes {
    http: reqwest::Client,
    control: String,
}

impl Fakes {
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        request
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("fakes: {e}"))?
            .json()
            .await
            .map_err(|e| format!("fakes: {e}"))
    }

    async fn stats(&self) -> Result<Value, String> {
        self.call(self.http.get(format!("{}/stats", self.control)))
            .await
    }

    async fn subscriptions(&self, n: u64) -> Result<Value, String> {
        let made = self
            .call(
                self.http
                    .post(format!("{}/webpush/subscriptions", self.control))
                    .json(&json!({ "count": n })),
            )
            .await?;
        match made.as_array() {
            Some(a) if a.len() as u64 == n => Ok(made),
            _ => {
                let got: String = made.to_string().chars().take(80).collect();
                Err(format!("fakes: asked for {n} subscriptions, got {got}"))
            }
        }
    }
}

/// One peer to run: a program, its job, and which of the fakes' counters it moves.
struct Peer {
    name: &'static str,
    program: PathBuf,
    args: Vec<OsString>,
    cwd: PathBuf,
    job: Value,
    provider: &'static str,
    /// `/stats` keys: deliveries and connections.
    counters: (&'static str, &'static str),
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn counter(stats: &Value, key: &str) -> u64 {
    stats[key].as_u64().unwrap_or(0)
}

/// Runs one peer and checks the fakes counted every message it sent.
async fn run_peer(
    fakes: &Fakes,
    peer: &Peer,
    messages: u64,
    rounds: u64,
) -> Result<PeerRow, String> {
    let before = fakes.stats().await?;
    let mut child = Command::new(&peer.program)
        .args(&peer.args)
        .current_dir(&peer.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", peer.program.display()))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    stdin
        .write_all(peer.job.to_string().as_bytes())
        .await
        .map_err(|e| format!("writing the job: {e}"))?;
    drop(stdin);
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();

    // Generous: pywebpush was measured at about 2 ms a message on an idle machine.
    let limit = Duration::from_secs(120) + Duration::from_millis(50) * (messages * rounds) as u32;
    let started = Instant::now();
    let (mut sender, mut per_second, mut cpu_per_message) = (peer.name.to_owned(), vec![], vec![]);
    let status = tokio::time::timeout(limit, async {
        while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                println!("  {}: {line}", peer.name);
                continue;
            };
            if let Some(library) = v["library"].as_str() {
                sender = format!(
                    "{library} {}, {}",
                    v["version"].as_str().unwrap_or("?"),
                    v["mode"].as_str().unwrap_or("")
                );
                continue;
            }
            let (n, seconds, cpu) = (
                v["messages"].as_f64().unwrap_or(0.0),
                v["seconds"].as_f64().unwrap_or(0.0),
                v["cpuMs"].as_f64().unwrap_or(0.0),
            );
            if n <= 0.0 || seconds <= 0.0 {
                return Err(format!("unexpected line {line}"));
            }
            per_second.push(n / seconds);
            cpu_per_message.push(cpu / n);
            println!(
                "  {sender} ({}): round {}: {:.0} messages/s, {:.2} CPU ms per message",
                peer.provider,
                per_second.len(),
                n / seconds,
                cpu / n
            );
        }
        child.wait().await.map_err(|e| e.to_string())
    })
    .await
    .map_err(|_| format!("not done after {} s", started.elapsed().as_secs()))??;
    if !status.success() {
        return Err(format!("exited with {status}"));
    }
    if per_second.len() as u64 != rounds {
        return Err(format!("reported {} rounds of {rounds}", per_second.len()));
    }

    // Every answer was a success, so the fakes have counted them all already; allow a moment.
    let (delivered, connections) = peer.counters;
    let expected = counter(&before, delivered) + messages * rounds;
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let now = fakes.stats().await?;
        if counter(&now, delivered) >= expected || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if counter(&after, delivered) != expected {
        return Err(format!(
            "the fakes counted {} deliveries, not {}",
            counter(&after, delivered) - counter(&before, delivered),
            messages * rounds
        ));
    }
    println!(
        "  {sender} ({}): the fakes counted all {} messages; new connections: {}",
        peer.provider,
        messages * rounds,
        counter(&after, connections) - counter(&before, connections)
    );
    Ok(PeerRow {
        sender,
        provider: peer.provider,
        per_second: median(per_second),
        cpu_ms_per_message: median(cpu_per_message),
    })
}

/// Runs every available peer against the running fakes; prints per-round lines; returns medians. Skips (with a printed reason) what cannot run.
pub async fn run_peers(
    control: &str,
    fcm_endpoint: &str,
    credentials: &std::path::Path,
    messages: u64,
    rounds: u64,
) -> Vec<PeerRow> {
    println!("\npeers against the same fakes, {messages} messages × {rounds} rounds each:");
    let fakes = Fakes {
        http: reqwest::Client::new(),
        control: control.to_owned(),
    };
    let cache = match cache_dir() {
        Ok(c) => c,
        Err(e) => {
            println!("  peers skipped: {e}");
            return Vec::new();
        }
    };
    let scripts = peers_dir();
    let mut peers = Vec::new();

    let python = python_env(&cache).await;
    let node = node_env(&cache).await;
    let web_push_job = match (&python, &node) {
        (Err(_), Err(_)) => None,
        _ => match fakes.subscriptions(messages).await {
            Ok(subscriptions) => {
                let (private, public) = vapid_keys();
                Some(json!({
                    "subscriptions": subscriptions,
                    "vapidPrivateKey": private,
                    "vapidPublicKey": public,
                    "subject": SUBJECT,
                    "rounds": rounds,
                    "inFlight": NODE_IN_FLIGHT,
                }))
            }
            Err(e) => {
                println!("  Web Push peers skipped: {e}");
                None
            }
        },
    };
    match &python {
        Err(e) => println!("  pywebpush and firebase-admin skipped: {e}"),
        Ok(python) => {
            if let Some(job) = &web_push_job {
                peers.push(Peer {
                    name: "pywebpush",
                    program: python.clone(),
                    args: vec![scripts.join("pywebpush_peer.py").into()],
                    cwd: scripts.clone(),
                    job: job.clone(),
                    provider: "Web Push",
                    counters: ("webPushDelivered", "webPushConnections"),
                });
            }
        }
    }
    match (&node, &web_push_job) {
        (Err(e), _) => println!("  Node web-push skipped: {e}"),
        (Ok(dir), Some(job)) => peers.push(Peer {
            name: "web-push (Node)",
            program: "node".into(),
            args: vec![dir.join("webpush_peer.mjs").into()],
            cwd: dir.clone(),
            job: job.clone(),
            provider: "Web Push",
            counters: ("webPushDelivered", "webPushConnections"),
        }),
        (Ok(_), None) => {}
    }
    if let Ok(python) = &python {
        for mode in ["send", "send_each_async"] {
            peers.push(Peer {
                name: "firebase-admin",
                program: python.clone(),
                args: vec![scripts.join("firebase_peer.py").into()],
                cwd: scripts.clone(),
                job: json!({
                    "credentials": credentials.to_string_lossy(),
                    "fcmEndpoint": fcm_endpoint,
                    "messages": messages,
                    "rounds": rounds,
                    "mode": mode,
                }),
                provider: "FCM",
                counters: ("fcmDelivered", "fcmConnections"),
            });
        }
    }

    let mut rows = Vec::new();
    for peer in &peers {
        match run_peer(&fakes, peer, messages, rounds).await {
            Ok(row) => rows.push(row),
            Err(e) => println!("  {} ({}) dropped: {e}", peer.name, peer.provider),
        }
    }
    rows
}

//! A throwaway PostgreSQL for the tests: `DATABASE_URL` from outside wins; otherwise one
//! cluster per test process, started with the machine's PostgreSQL 15 and stopped by a watcher
//! process when the tests exit. Each test gets its own database in it.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;
use tokio::sync::OnceCell;

static ADMIN_URL: OnceCell<String> = OnceCell::const_new();
static NEXT: AtomicU32 = AtomicU32::new(0);

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A new empty database; its URL.
pub async fn fresh_database() -> String {
    let admin = ADMIN_URL.get_or_init(|| async { admin_url() }).await;
    let name = format!(
        "gb_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    format!("{base}/{name}")
}

fn admin_url() -> String {
    if let Ok(url) = std::env::var("DATABASE_URL")
        && url.starts_with("postgres")
    {
        return url;
    }
    start_cluster()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_cluster() -> String {
    let dir = std::env::temp_dir().join(format!("gatebell-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display().to_string();
    run(Command::new("chown").args(["postgres", &d]));
    run(Command::new("runuser").args([
        "-u",
        "postgres",
        "--",
        &format!("{PG_BIN}/initdb"),
        "-D",
        &format!("{d}/data"),
        "-A",
        "trust",
        "-U",
        "postgres",
    ]));
    // PostgreSQL binds its own port and cannot take a bound socket: a port seen free may be
    // taken by the time it binds, so a start that could not bind tries the next free one.
    let mut tries = 0;
    let port = loop {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {d} -c fsync=off -c max_connections=300"
        );
        let out = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &format!("{PG_BIN}/pg_ctl"),
                "-D",
                &format!("{d}/data"),
                "-l",
                &format!("{d}/log"),
                "-w",
                "-o",
                &opts,
                "start",
            ])
            .output()
            .expect("run pg_ctl");
        if out.status.success() {
            break port;
        }
        let log = std::fs::read_to_string(format!("{d}/log")).unwrap_or_default();
        tries += 1;
        assert!(
            tries < 5 && log.contains("could not bind"),
            "pg_ctl start failed: {}{}\n{log}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // The test harness has no global teardown: a watcher stops the cluster when we exit.
    let watcher = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; runuser -u postgres -- {PG_BIN}/pg_ctl -D {d}/data -m immediate stop >/dev/null 2>&1; rm -rf {d}",
        pid = std::process::id()
    );
    // The watcher outlives this process on purpose; nobody waits for it.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", &watcher])
        .spawn()
        .expect("spawn watcher");
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}

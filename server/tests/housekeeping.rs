//! The database's upkeep: several processes started at once on one fresh SQLite file (a
//! `serve` beside `user add`s, or two instances) take turns at the migrations, and retention
//! purges old webhook and message rows with their attempts (SQLite and PostgreSQL).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Backend, TestApp, scalar};

#[test]
fn processes_started_at_once_on_a_fresh_file_all_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/fresh.db?mode=rwc", dir.path().display());
    let children: Vec<_> = (0..6)
        .map(|i| {
            let mut child = Command::new(env!("CARGO_BIN_EXE_gatebell"))
                .args(["user", "add", "--role", "guard"])
                .args(["--email", &format!("guard{i}@first.start")])
                .args(["--name", &format!("Guard {i}"), "--database-url", &url])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            writeln!(child.stdin.take().unwrap(), "a-long-enough-password-{i}").unwrap();
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // One more, after them: the schema is complete.
    let out = Command::new(env!("CARGO_BIN_EXE_gatebell"))
        .args([
            "user",
            "add",
            "--role",
            "guard",
            "--email",
            "last@first.start",
        ])
        .args(["--name", "Last", "--database-url", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            writeln!(c.stdin.take().unwrap(), "a-long-enough-password-5").unwrap();
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Rows of the webhook and message outboxes (with an attempt each) made `age_days` ago, in one
/// transaction: the server's own housekeeping, which runs at start, must not purge the job
/// between its insert and its attempt's.
async fn outbox_rows(app: &TestApp, tag: &str, age_days: i64) {
    use gatebell_server::db::Backend as B;
    let at = gatebell_server::db::now_ms() - age_days * 24 * 3600 * 1000;
    let statements = [
        format!(
            "INSERT INTO webhook_jobs (id, event, payload, state, attempts, due_at, expires_at,
             created_at, updated_at) VALUES ('w-{tag}', 'visit.approved', '', 'delivered', 1,
             {at}, {at}, {at}, {at})"
        ),
        format!(
            "INSERT INTO message_jobs (id, channel, event, payload, state, attempts, due_at,
             expires_at, created_at, updated_at) VALUES ('m-{tag}', 'sms', 'walkin_pending', '',
             'delivered', 1, {at}, {at}, {at}, {at})"
        ),
        format!(
            "INSERT INTO message_attempts (id, job_id, at, channel, status, latency_ms)
             VALUES ('ma-{tag}', 'm-{tag}', {at}, 'sms', 201, 5)"
        ),
    ];
    let mut tx = app.state().db.begin().await.unwrap();
    for sql in statements {
        match tx.conn() {
            B::Sqlite(c) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(c)
                .await
                .map(|_| ()),
            B::Postgres(c) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(c)
                .await
                .map(|_| ()),
        }
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn retention_purges_old_webhooks_and_messages_only(b: Backend) {
    let app = TestApp::start_with(b, &["--retention-days", "90"]).await;
    outbox_rows(&app, "old", 100).await;
    outbox_rows(&app, "new", 1).await;
    gatebell_server::jobs::housekeeping::run_once(app.state())
        .await
        .unwrap();
    let db = &app.state().db;
    for (table, id) in [
        ("webhook_jobs", "w"),
        ("message_jobs", "m"),
        ("message_attempts", "ma"),
    ] {
        let count = |tag: &str| format!("SELECT COUNT(*) FROM {table} WHERE id = '{id}-{tag}'");
        assert_eq!(scalar(db, &count("old")).await, 0, "{table}: the old row");
        assert_eq!(scalar(db, &count("new")).await, 1, "{table}: the new row");
    }
    app.stop().await;
}

on_both_backends!(retention_purges_old_webhooks_and_messages_only);

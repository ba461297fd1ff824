//! The database's upkeep: several processes started at once on one fresh SQLite file (a
//! `serve` beside `user add`s, or two instances) take turns at opening it and migrating, retention
//! purges old webhook and message rows with their attempts, and the outbox claims the visitor
//! at the gate before any backlog without starving it (SQLite and PostgreSQL).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Backend, TestApp, scalar};
use gatebell_server::db::queue::{self, Order};

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

/// Opening a fresh file switches it to WAL, which takes a lock SQLite's busy timeout cannot wait
/// for: two connections switching at once can fail with "database is locked" at once (about
/// one switch in a hundred when six race). Eight connects at once, twenty times over, each
/// open; without the start-up lock each of ten runs of this test failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connects_at_once_on_a_fresh_file_all_open() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..20 {
        let url = format!(
            "sqlite://{}/fresh-{round}.db?mode=rwc",
            dir.path().display()
        );
        let connects: Vec<_> = (0..8)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { gatebell_server::db::Db::connect(&url).await })
            })
            .collect();
        for connect in connects {
            let db = connect
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e:#}"));
            db.close().await;
        }
    }
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

/// Queues, in one transaction, `bulk` pushes of urgency 2 due a minute ago, one check-in (1)
/// and two walk-ins (0) due now, the second with the earlier deadline, in a lane no dispatcher
/// runs (`test-lane`), so only the test claims them.
async fn backlog_and_gate(app: &TestApp, bulk: usize) {
    use gatebell_server::db::Backend as B;
    let now = gatebell_server::db::now_ms();
    let user: Vec<String> =
        common::texts(&app.state().db, "SELECT id FROM users ORDER BY id LIMIT 1").await;
    let mut statements = vec![format!(
        "INSERT INTO notifications (id, user_id, type, title, body, created_at)
         VALUES ('n-1', '{}', 'parcel_arrived', 't', 'b', {now})",
        user[0]
    )];
    let row = |id: &str, urgency: i64, due: i64, expires: i64| {
        format!(
            "INSERT INTO push_jobs (id, notification_id, device_id, provider, payload, state,
             attempts, due_at, expires_at, created_at, updated_at, urgency)
             VALUES ('{id}', 'n-1', 'd', 'test-lane', '{{}}', 'pending', 0, {due}, {expires},
             {due}, {due}, {urgency})"
        )
    };
    for i in 0..bulk {
        statements.push(row(
            &format!("bulk-{i:05}"),
            2,
            now - 60_000 + i as i64,
            now + 3_600_000,
        ));
    }
    statements.push(row("checkin", 1, now, now + 3_600_000));
    statements.push(row("walkin-late", 0, now, now + 180_000));
    statements.push(row("walkin-soon", 0, now, now + 90_000));
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

/// One claim of `limit` rows of the test lane, in `order`; the ids claimed, in claim order.
async fn claim_ids(app: &TestApp, order: Order, limit: i64) -> Vec<String> {
    #[derive(sqlx::FromRow)]
    struct Claimed {
        id: String,
    }
    let hold = queue::Hold::new(&app.state().db, &queue::PUSHES, "test-lane", 60_000);
    let rows: Vec<Claimed> = hold.claim(order, limit).await.unwrap();
    rows.into_iter().map(|r| r.id).collect()
}

async fn the_visitor_at_the_gate_is_claimed_before_any_backlog(b: Backend) {
    let app = TestApp::start(b).await;
    backlog_and_gate(&app, 500).await;
    // The first claim of a lane is by urgency: both walk-ins (the earlier deadline first), then
    // the check-in, then the oldest of the backlog.
    assert_eq!(Order::for_claim(0), Order::Urgent);
    let mut first = claim_ids(&app, Order::Urgent, 4).await;
    first.sort();
    assert_eq!(
        first,
        ["bulk-00000", "checkin", "walkin-late", "walkin-soon"]
    );
    app.stop().await;
}

async fn every_fourth_claim_serves_the_backlog_in_due_order(b: Backend) {
    let app = TestApp::start(b).await;
    backlog_and_gate(&app, 20).await;
    let orders: Vec<Order> = (0..8).map(Order::for_claim).collect();
    assert_eq!(
        orders.iter().filter(|o| **o == Order::Due).count(),
        2,
        "{orders:?}"
    );
    // A due-order claim takes the oldest rows whatever their class: the backlog moves even
    // while urgent rows keep coming.
    let due = claim_ids(&app, Order::Due, 3).await;
    let mut due_sorted = due.clone();
    due_sorted.sort();
    assert_eq!(
        due_sorted,
        ["bulk-00000", "bulk-00001", "bulk-00002"],
        "{due:?}"
    );
    // The urgent ones are still first for the next urgent claim.
    let mut urgent = claim_ids(&app, Order::Urgent, 2).await;
    urgent.sort();
    assert_eq!(urgent, ["walkin-late", "walkin-soon"]);
    app.stop().await;
}

/// The claim of a lane by urgency reads the partial index on (lane, urgency, deadline), not
/// the whole table (PostgreSQL's plan of the claim's inner select).
async fn the_urgent_claim_is_an_index_scan(b: Backend) {
    let app = TestApp::start(b).await;
    backlog_and_gate(&app, 2_000).await;
    let db = &app.state().db;
    // The claim itself, explained with its parameters bound (nothing is executed).
    let sql = queue::PUSHES.claim_sql(Order::Urgent, b == Backend::Postgres);
    let now = gatebell_server::db::now_ms();
    let plan: Vec<String> = match db.reader() {
        gatebell_server::db::Backend::Postgres(pool) => {
            common::execute(db, "ANALYZE push_jobs").await;
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
                .bind("c")
                .bind(now + 60_000)
                .bind(now)
                .bind(64i64)
                .bind("test-lane")
                .fetch_all(pool)
                .await
                .unwrap()
        }
        gatebell_server::db::Backend::Sqlite(pool) => {
            use sqlx::Row;
            sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .bind("c")
                .bind(now + 60_000)
                .bind(now)
                .bind(64i64)
                .bind("test-lane")
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("detail"))
                .collect()
        }
    };
    let plan = plan.join("\n");
    assert!(plan.contains("push_jobs_urgent"), "{plan}");
    assert!(
        !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
        "{plan}"
    );
    app.stop().await;
}

/// A year of rows (more than one batch past retention) is purged to the last old row, a batch
/// per transaction, and nothing newer goes.
async fn retention_purges_a_year_of_rows_in_batches(b: Backend) {
    let small = gatebell_server::db::seed::Community {
        units: 10,
        residents_per_unit: 2,
        guards: 2,
        devices_per_10: 10,
        visits: 3_000,
        notifications: 6_000,
    };
    // Seeded before the server starts: its own housekeeping would purge old rows between
    // the seed's transactions.
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(b, dir.path()).await;
    let cutoff = gatebell_server::db::now_ms() - 90 * 24 * 3600 * 1000;
    let old = |table: &str| format!("SELECT COUNT(*) FROM {table} WHERE created_at < {cutoff}");
    let new = |table: &str| format!("SELECT COUNT(*) FROM {table} WHERE created_at >= {cutoff}");
    let seeded = gatebell_server::db::Db::connect(&url).await.unwrap();
    gatebell_server::db::seed::seed(&seeded, 0, 1, &small, |_| {})
        .await
        .unwrap();
    let kept_before = scalar(&seeded, &new("notifications")).await;
    assert!(
        scalar(&seeded, &old("notifications")).await > 4 * 500,
        "more than four batches"
    );
    seeded.close().await;
    let app = TestApp::start_on(dir, url, &["--retention-days", "90"]).await;
    let db = &app.state().db;
    // An old visit stays only while a kept notification is about it.
    let unreferenced = format!(
        "SELECT COUNT(*) FROM visits v WHERE created_at < {cutoff}
         AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.visit_id = v.id)"
    );
    // The server's own start-up round purges too, beside this one: on PostgreSQL a round
    // whose batch met the other's deletes ends early, so rounds run until one finds nothing
    // left of any table (a bounded number: each round removes at least a batch).
    for _ in 0..10 {
        gatebell_server::jobs::housekeeping::run_once(app.state())
            .await
            .unwrap();
        if scalar(db, &old("notifications")).await == 0
            && scalar(db, &old("push_jobs")).await == 0
            && scalar(db, &unreferenced).await == 0
        {
            break;
        }
    }
    for table in ["notifications", "push_jobs"] {
        assert_eq!(scalar(db, &old(table)).await, 0, "{table}: old rows left");
    }
    assert_eq!(scalar(db, &unreferenced).await, 0, "old visits left");
    assert!(
        scalar(db, &old("visits")).await < 10,
        "visits at the cutoff only"
    );
    assert_eq!(scalar(db, &new("notifications")).await, kept_before);
    app.stop().await;
}

on_both_backends!(
    retention_purges_old_webhooks_and_messages_only,
    retention_purges_a_year_of_rows_in_batches,
    the_visitor_at_the_gate_is_claimed_before_any_backlog,
    every_fourth_claim_serves_the_backlog_in_due_order,
    the_urgent_claim_is_an_index_scan,
);

/// Every foreign key leads some index: a walk-in finds its host's household by `unit_id`, and
/// each row the retention purge (or erasing a user) deletes makes the database look up the
/// rows referring to it. Without the index each of those is a scan of a table that holds
/// millions of rows at the size of a deployment. The schema is the same SQL on both backends,
/// so SQLite's catalogue answers for both. `visits`' keys to the users who created, checked in
/// or decided a visit are the exception: a users row is never deleted (erasure blanks it), so
/// nothing looks visits up by them.
#[test]
fn every_foreign_key_leads_an_index() {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Row;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/schema.db?mode=rwc", dir.path().display());
        let db = gatebell_server::db::Db::connect(&url).await.unwrap();
        let gatebell_server::db::Backend::Sqlite(pool) = db.reader() else {
            unreachable!("a sqlite:// URL")
        };
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let mut unindexed = Vec::new();
        for table in &tables {
            let keys = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT \"from\" AS col, \"table\" AS parent FROM pragma_foreign_key_list('{table}')"
            )))
            .fetch_all(pool)
            .await
            .unwrap();
            // The first column of each index, the primary key's included.
            let leading: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT (SELECT name FROM pragma_index_info(l.name) WHERE seqno = 0)
                 FROM pragma_index_list('{table}') l"
            )))
            .fetch_all(pool)
            .await
            .unwrap();
            let pk: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info('{table}') WHERE pk = 1"
            )))
            .fetch_optional(pool)
            .await
            .unwrap();
            for key in keys {
                let col: String = key.get("col");
                let never_deleted = table == "visits"
                    && ["created_by", "checked_in_by", "decided_by"].contains(&col.as_str());
                if !leading.contains(&col) && pk.as_deref() != Some(col.as_str()) && !never_deleted
                {
                    unindexed.push(format!("{table}.{col} → {}", key.get::<String, _>("parent")));
                }
            }
        }
        assert!(unindexed.is_empty(), "foreign keys with no index: {unindexed:#?}");
    });
}

/// The retention purge yields SQLite's writer to traffic: a write through `begin` counts as
/// traffic for the purge's pace, the purge's own (`begin_background`) does not, and
/// PostgreSQL, whose writers of other rows do not wait for each other, never counts as busy.
#[test]
fn only_foreground_writes_slow_the_purge() {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/busy.db?mode=rwc", dir.path().display());
        let db = gatebell_server::db::Db::connect(&url).await.unwrap();
        assert!(!db.written_within(60_000), "nothing written yet");
        db.begin_background().await.unwrap().commit().await.unwrap();
        assert!(
            !db.written_within(60_000),
            "a background write is not traffic"
        );
        db.begin().await.unwrap().commit().await.unwrap();
        assert!(db.written_within(60_000), "a request's write is");
        db.close().await;
        let pg = gatebell_server::db::Db::connect(&common::pg::fresh_database().await)
            .await
            .unwrap();
        pg.begin().await.unwrap().commit().await.unwrap();
        assert!(!pg.written_within(60_000));
        pg.close().await;
    });
}

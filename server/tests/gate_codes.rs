//! Gate codes, on SQLite and on PostgreSQL: wrong-code limits per guard and per gate (stored in
//! the database, audited), the cap on a resident's open invitations, expired invitations freeing
//! their code, and codes stored as HMAC-SHA256 under the server's secret.

mod common;

use std::time::Duration;

use common::{Backend, TestApp, assert_error};
use gatebell_core::protocol::Role;
use gatebell_server::db::Backend as Db;
use gatebell_server::db::visits::{NewInvitation, insert_invitation};
use gatebell_server::http::accounts::{DEMO_PASSWORD, NewUser, create_user};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ASHA: &str = "asha@demo.gatebell";
const ARJUN: &str = "arjun@demo.gatebell";
const GUARD: &str = "guard@demo.gatebell";
const NIGHT_GUARD: &str = "night@demo.gatebell";

/// An invitation's OTP, QR and visit id.
struct Invitation {
    otp: String,
    qr: String,
    id: String,
}

async fn invite(app: &TestApp, resident: &str) -> Invitation {
    let (s, v) = app
        .post("/api/v1/visits", resident, json!({"visitorName": "Guest"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    Invitation {
        otp: v["otp"].as_str().unwrap().to_owned(),
        qr: v["qr"].as_str().unwrap().to_owned(),
        id: v["visit"]["id"].as_str().unwrap().to_owned(),
    }
}

/// A six-digit code that is not `otp`.
fn wrong(otp: &str) -> String {
    format!("{:06}", (otp.parse::<u32>().unwrap() + 1) % 1_000_000)
}

async fn checkin(app: &TestApp, guard: &str, otp: &str) -> (StatusCode, Value) {
    app.post("/api/v1/visits/checkin", guard, json!({"otp": otp}))
        .await
}

/// A second guard at the same gate; returns their token.
async fn second_guard(app: &TestApp) -> String {
    create_user(
        &app.state().db,
        NewUser {
            name: "Nina Night".into(),
            email: NIGHT_GUARD.into(),
            password: DEMO_PASSWORD.into(),
            role: Role::Guard,
            unit: None,
        },
    )
    .await
    .unwrap();
    app.login(NIGHT_GUARD).await
}

async fn user_id(app: &TestApp, token: &str) -> String {
    let (_, me) = app.get("/api/v1/me", token).await;
    me["id"].as_str().unwrap().to_owned()
}

/// Every audit row: guard id, outcome, code kind, visit id.
async fn audit(app: &TestApp) -> Vec<(String, String, String, Option<String>)> {
    let sql = "SELECT guard_id, outcome, code_kind, visit_id FROM checkin_attempts ORDER BY at, id";
    match app.state().db.reader() {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    }
}

fn outcomes_of(rows: &[(String, String, String, Option<String>)], guard: &str) -> Vec<String> {
    rows.iter()
        .filter(|r| r.0 == guard)
        .map(|r| r.1.clone())
        .collect()
}

/// Runs one statement binding `arg`, committed.
async fn exec(app: &TestApp, sql: &str, arg: &str) {
    let mut tx = app.state().db.begin().await.unwrap();
    match tx.conn() {
        Db::Sqlite(c) => sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(arg)
            .execute(c)
            .await
            .map(|r| r.rows_affected()),
        Db::Postgres(c) => sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(arg)
            .execute(c)
            .await
            .map(|r| r.rows_affected()),
    }
    .unwrap();
    tx.commit().await.unwrap();
}

/// Moves an invitation's validity into the past, leaving it `INVITED` as lazy expiry does.
async fn run_out(app: &TestApp, visit_id: &str) {
    exec(
        app,
        "UPDATE visits SET valid_until = 1 WHERE id = $1",
        visit_id,
    )
    .await;
}

fn retry_after(got: &reqwest::Response) -> u64 {
    got.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn wrong_codes_past_the_guard_limit_lock_that_guard_out_even_with_the_right_code(b: Backend) {
    let app = TestApp::start_with(
        b,
        &[
            "--otp-failures-per-guard",
            "3",
            "--otp-failures-per-gate",
            "100",
            "--otp-failure-window",
            "6",
        ],
    )
    .await;
    let asha = app.login(ASHA).await;
    let guard = app.login(GUARD).await;
    let night = second_guard(&app).await;
    let inv = invite(&app, &asha).await;
    for _ in 0..3 {
        assert_error(
            &checkin(&app, &guard, &wrong(&inv.otp)).await,
            404,
            "not_found",
        );
    }
    // The right code is refused now too, with a Retry-After within the window.
    let refused = app
        .http
        .post(format!("{}/api/v1/visits/checkin", app.url))
        .bearer_auth(&guard)
        .json(&json!({"otp": inv.otp}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&refused);
    assert!((1..=6).contains(&wait), "Retry-After {wait}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_wrong_codes", "{body}");
    // A QR is refused the same way.
    assert_error(
        &app.post("/api/v1/visits/checkin", &guard, json!({"qr": inv.qr}))
            .await,
        429,
        "too_many_wrong_codes",
    );
    // Another guard is not held back, and the refusal did not use the code up.
    let (s, v) = checkin(&app, &night, &inv.otp).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rows = audit(&app).await;
    let guard_id = user_id(&app, &guard).await;
    let night_id = user_id(&app, &night).await;
    assert_eq!(
        outcomes_of(&rows, &guard_id),
        [
            "wrong_code",
            "wrong_code",
            "wrong_code",
            "locked_guard",
            "locked_guard"
        ]
    );
    assert_eq!(outcomes_of(&rows, &night_id), ["checked_in"]);
    // The audit never holds the code or its hash.
    for r in &rows {
        let text = format!("{r:?}");
        assert!(
            !text.contains(&inv.otp) && !text.contains(&wrong(&inv.otp)),
            "{text}"
        );
    }
    // Once the window has passed, the guard checks visitors in again.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let next = invite(&app, &asha).await;
    let (s, v) = checkin(&app, &guard, &next.otp).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.stop().await;
}

async fn wrong_codes_past_the_gate_limit_lock_every_guard_out(b: Backend) {
    let app = TestApp::start_with(
        b,
        &[
            "--otp-failures-per-guard",
            "100",
            "--otp-failures-per-gate",
            "3",
        ],
    )
    .await;
    let asha = app.login(ASHA).await;
    let guard = app.login(GUARD).await;
    let night = second_guard(&app).await;
    let inv = invite(&app, &asha).await;
    for g in [&guard, &guard, &night] {
        assert_error(&checkin(&app, g, &wrong(&inv.otp)).await, 404, "not_found");
    }
    for g in [&guard, &night] {
        assert_error(
            &checkin(&app, g, &inv.otp).await,
            429,
            "too_many_wrong_codes",
        );
    }
    let rows = audit(&app).await;
    let locked = rows.iter().filter(|r| r.1 == "locked_gate").count();
    assert_eq!(locked, 2, "{rows:?}");
    app.stop().await;
}

/// The counter is in the database: wrong codes entered through two instances add up.
async fn wrong_code_limit_holds_across_instances(b: Backend) {
    let a = TestApp::start_with(b, &["--otp-failures-per-guard", "3"]).await;
    let other = TestApp::start_on(
        tempfile::tempdir().unwrap(),
        a.database_url.clone(),
        &["--otp-failures-per-guard", "3"],
    )
    .await;
    let asha = a.login(ASHA).await;
    let guard = a.login(GUARD).await;
    let inv = invite(&a, &asha).await;
    assert_error(
        &checkin(&a, &guard, &wrong(&inv.otp)).await,
        404,
        "not_found",
    );
    assert_error(
        &checkin(&other, &guard, &wrong(&inv.otp)).await,
        404,
        "not_found",
    );
    assert_error(
        &checkin(&a, &guard, &wrong(&inv.otp)).await,
        404,
        "not_found",
    );
    assert_error(
        &checkin(&other, &guard, &inv.otp).await,
        429,
        "too_many_wrong_codes",
    );
    other.stop().await;
    a.stop().await;
}

/// Wrong codes sent at once cannot slip past the limit together.
async fn concurrent_wrong_codes_are_counted_exactly(b: Backend) {
    let app = TestApp::start_with(b, &["--otp-failures-per-guard", "4"]).await;
    let asha = app.login(ASHA).await;
    let guard = app.login(GUARD).await;
    let inv = invite(&app, &asha).await;
    let bad = wrong(&inv.otp);
    let answers = futures::future::join_all((0..12).map(|_| checkin(&app, &guard, &bad))).await;
    let not_found = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::NOT_FOUND)
        .count();
    let refused = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((not_found, refused), (4, 8), "{answers:?}");
    app.stop().await;
}

async fn an_expired_invitations_code_fails_and_counts_as_a_wrong_code(b: Backend) {
    let app = TestApp::start_with(b, &["--otp-failures-per-guard", "2"]).await;
    let asha = app.login(ASHA).await;
    let guard = app.login(GUARD).await;
    let old = invite(&app, &asha).await;
    let fresh = invite(&app, &asha).await;
    run_out(&app, &old.id).await;
    assert_error(&checkin(&app, &guard, &old.otp).await, 410, "gone");
    assert_error(
        &app.post("/api/v1/visits/checkin", &guard, json!({"qr": old.qr}))
            .await,
        410,
        "gone",
    );
    // Two failures reach the limit: the fresh, right code is refused.
    assert_error(
        &checkin(&app, &guard, &fresh.otp).await,
        429,
        "too_many_wrong_codes",
    );
    let rows = audit(&app).await;
    let outcomes: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(outcomes, ["expired", "expired", "locked_guard"]);
    assert_eq!(rows[0].3.as_deref(), Some(old.id.as_str()));
    app.stop().await;
}

/// OTPs are unique among open invitations only: one past its validity (still `INVITED`, as
/// invitations expire lazily) gives its OTP up to a new invitation.
async fn an_expired_invitation_frees_its_otp(b: Backend) {
    let app = TestApp::start(b).await;
    let asha = app.login(ASHA).await;
    let host = user_id(&app, &asha).await;
    let db = &app.state().db;
    let otp_hash = "same-otp-hash";
    let new = |id: &'static str, qr: &'static str, valid_until: i64| NewInvitation {
        id,
        visitor_name: "Guest",
        phone: None,
        purpose: None,
        host_id: &host,
        otp_hash,
        qr_hash: qr,
        valid_until,
        now: gatebell_server::db::now_ms(),
    };
    let later = gatebell_server::db::now_ms() + 3_600_000;
    let mut tx = db.begin().await.unwrap();
    assert!(
        insert_invitation(&mut tx, new("v-old", "qr-old", 1))
            .await
            .unwrap()
    );
    assert!(
        insert_invitation(&mut tx, new("v-new", "qr-new", later))
            .await
            .unwrap(),
        "an expired invitation's OTP is free"
    );
    assert!(
        !insert_invitation(&mut tx, new("v-clash", "qr-clash", later))
            .await
            .unwrap(),
        "an open invitation's OTP is taken"
    );
    tx.commit().await.unwrap();
    let (_, old) = app.get("/api/v1/visits/v-old", &asha).await;
    assert_eq!(old["status"], "EXPIRED");
    app.stop().await;
}

async fn open_invitations_are_capped_per_resident(b: Backend) {
    let app = TestApp::start_with(b, &["--max-open-invitations", "3"]).await;
    let asha = app.login(ASHA).await;
    let arjun = app.login(ARJUN).await;
    let guard = app.login(GUARD).await;
    // Eight at once: exactly three get in.
    let tries = (0..8).map(|i| {
        app.post(
            "/api/v1/visits",
            &asha,
            json!({"visitorName": format!("Guest {i}")}),
        )
    });
    let answers = futures::future::join_all(tries).await;
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(created.len(), 3, "{answers:?}");
    for a in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_error(a, 409, "too_many_open_invitations");
    }
    // Another resident has their own allowance.
    invite(&app, &arjun).await;
    // A used invitation and an expired one are no longer open: each frees a place.
    let (s, v) = checkin(&app, &guard, created[0]["otp"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    invite(&app, &asha).await;
    assert_error(
        &app.post("/api/v1/visits", &asha, json!({"visitorName": "One more"}))
            .await,
        409,
        "too_many_open_invitations",
    );
    run_out(&app, created[1]["visit"]["id"].as_str().unwrap()).await;
    invite(&app, &asha).await;
    app.stop().await;
}

async fn codes_are_stored_as_hmac_sha256_under_the_code_secret(b: Backend) {
    let secret = "a-test-code-secret-0123456789";
    let app = TestApp::start_with(b, &["--code-secret", secret]).await;
    let asha = app.login(ASHA).await;
    let inv = invite(&app, &asha).await;
    let sql = "SELECT otp_hash, qr_hash FROM visits WHERE id = $1";
    let (otp_hash, qr_hash): (String, String) = match app.state().db.reader() {
        Db::Sqlite(p) => sqlx::query_as(sql).bind(&inv.id).fetch_one(p).await,
        Db::Postgres(p) => sqlx::query_as(sql).bind(&inv.id).fetch_one(p).await,
    }
    .unwrap();
    let hmac = |code: &str| {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        m.update(code.as_bytes());
        format!("{:x}", m.finalize().into_bytes())
    };
    assert_eq!(otp_hash, hmac(&inv.otp));
    assert_eq!(qr_hash, hmac(&inv.qr));
    assert_ne!(
        otp_hash,
        format!("{:x}", Sha256::digest(inv.otp.as_bytes()))
    );
    app.stop().await;
}

/// Without `--code-secret` the first instance makes one and stores it; instances sharing the
/// database use the same one, and another secret does not match the stored codes.
async fn a_generated_code_secret_is_shared_through_the_database(b: Backend) {
    let a = TestApp::start(b).await;
    let asha = a.login(ASHA).await;
    let first = invite(&a, &asha).await;
    let second = invite(&a, &asha).await;
    let same = TestApp::start_on(tempfile::tempdir().unwrap(), a.database_url.clone(), &[]).await;
    let guard = same.login(GUARD).await;
    let (s, v) = checkin(&same, &guard, &first.otp).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    same.stop().await;
    let other = TestApp::start_on(
        tempfile::tempdir().unwrap(),
        a.database_url.clone(),
        &["--code-secret", "not-the-stored-secret-0123"],
    )
    .await;
    assert_error(
        &checkin(&other, &guard, &second.otp).await,
        404,
        "not_found",
    );
    other.stop().await;
    a.stop().await;
}

on_both_backends!(
    wrong_codes_past_the_guard_limit_lock_that_guard_out_even_with_the_right_code,
    wrong_codes_past_the_gate_limit_lock_every_guard_out,
    wrong_code_limit_holds_across_instances,
    concurrent_wrong_codes_are_counted_exactly,
    an_expired_invitations_code_fails_and_counts_as_a_wrong_code,
    an_expired_invitation_frees_its_otp,
    open_invitations_are_capped_per_resident,
    codes_are_stored_as_hmac_sha256_under_the_code_secret,
    a_generated_code_secret_is_shared_through_the_database,
);

#[test]
fn a_short_code_secret_or_a_zero_limit_is_refused_at_start() {
    use gatebell_server::config::Config;
    let url = "sqlite://unused.db?mode=rwc";
    for bad in [
        &["--code-secret", "too-short"][..],
        &["--otp-failures-per-guard", "0"],
        &["--otp-failures-per-gate", "0"],
        &["--otp-failure-window", "0"],
        &["--max-open-invitations", "0"],
    ] {
        assert!(
            Config::from_args(common::serve_args(url, bad)).is_err(),
            "{bad:?} was accepted"
        );
    }
    assert!(
        Config::from_args(common::serve_args(
            url,
            &["--code-secret", "sixteen-chars-ok"]
        ))
        .is_ok()
    );
}

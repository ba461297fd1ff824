//! The third channel: a walk-in nobody answers is texted and emailed to the household, per each
//! resident's channels and quiet hours, with one-tap links that decide once and say how the
//! walk-in ended afterwards; a check-in is emailed to a host who chose it; a crash while texts
//! and emails wait loses none. Against the SMS API fake (Twilio's format and auth) and a real
//! SMTP server (Python's aiosmtpd, which parses every message); SQLite and PostgreSQL.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::process::Process;
use common::smtp::{SinkOptions, SinkTls, SmtpSink};
use common::{Backend, TestApp, assert_error};
use gatebell_testkit::FakeSms;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const GUARD: &str = "guard@demo.gatebell";
const ASHA: &str = "asha@demo.gatebell";
const ARJUN: &str = "arjun@demo.gatebell";
const SID: &str = "AC00000000000000000000000000000001";
const SMS_TOKEN: &str = "sms-auth-token-for-tests";
const SMS_FROM: &str = "+15005550006";
const ASHA_PHONE: &str = "+919800000001";
const ARJUN_PHONE: &str = "+919800000002";
const WAIT: Duration = Duration::from_secs(20);

/// `serve` flags for SMS through `sms` and email through `smtp_url`, plus `extra`.
fn flags(sms: &FakeSms, smtp_url: &str, extra: &[&str]) -> Vec<String> {
    let mut f: Vec<String> = [
        "--sms-api-url",
        &sms.base_url(),
        "--sms-account-sid",
        SID,
        "--sms-auth-token",
        SMS_TOKEN,
        "--sms-from",
        SMS_FROM,
        "--smtp-url",
        smtp_url,
        "--smtp-from",
        "Gatebell <gate@demo.gatebell>",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    f.extend(extra.iter().map(|s| s.to_string()));
    f
}

async fn start(b: Backend, sms: &FakeSms, smtp: &SmtpSink, extra: &[&str]) -> TestApp {
    let flags = flags(sms, &smtp.url(), extra);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    TestApp::start_with(b, &flags).await
}

async fn put_preferences(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        "/api/v1/me/preferences",
        Some(token),
        Some(body),
    )
    .await
}

/// `HH:MM` UTC, `offset_min` minutes from now.
fn utc_hhmm(offset_min: i64) -> String {
    let now_min = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 60;
    let m = (now_min + offset_min).rem_euclid(1440);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The URL after `label` in a text (up to the next space or line end).
fn link_after(text: &str, label: &str) -> String {
    let start = text
        .find(label)
        .unwrap_or_else(|| panic!("no {label} in {text}"))
        + label.len();
    text[start..].split_whitespace().next().unwrap().to_owned()
}

/// The email to `address`.
fn email_to<'a>(emails: &'a [Value], address: &str) -> &'a Value {
    emails
        .iter()
        .find(|e| {
            e["rcpt_tos"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == address)
        })
        .unwrap_or_else(|| panic!("no email to {address}: {emails:?}"))
}

/// GETs or POSTs (with the form `d=<choice>`) a link's page; returns status and HTML.
async fn page(app: &TestApp, url: &str, post: Option<&str>) -> (StatusCode, String) {
    let req = match post {
        None => app.http.get(url),
        Some(choice) => {
            let action = url.split('?').next().unwrap();
            app.http.post(action).form(&[("d", choice)])
        }
    };
    let resp = req.send().await.unwrap();
    let status = resp.status();
    assert_eq!(
        resp.headers()["content-type"],
        "text/html; charset=utf-8",
        "{url}"
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    (status, resp.text().await.unwrap())
}

async fn visit(app: &TestApp, token: &str, id: &str) -> Value {
    let (s, v) = app.get(&format!("/api/v1/visits/{id}"), token).await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn nobody_answers_so_the_household_is_texted_and_emailed_and_a_link_decides_once(b: Backend) {
    let sms = FakeSms::start(SID, SMS_TOKEN).await;
    let smtp = SmtpSink::start();
    let app = start(b, &sms, &smtp, &["--escalate-after", "1"]).await;
    let (asha, arjun, guard) = (
        app.login(ASHA).await,
        app.login(ARJUN).await,
        app.login(GUARD).await,
    );
    let (s, v) = put_preferences(&app, &asha, json!({"phone": ASHA_PHONE})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["channels"]["walkinPending"],
        json!({"push": true, "sms": true, "email": true})
    );
    // Arjun is in his quiet hours: he is emailed, not texted.
    let quiet = json!({"start": utc_hhmm(-60), "end": utc_hhmm(60), "timeZone": "UTC"});
    let (s, v) = put_preferences(
        &app,
        &arjun,
        json!({"phone": ARJUN_PHONE, "quietHours": quiet}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["quietHours"], quiet);
    let mut guard_stream = app.events(&guard).await;
    let id = app.walkin_for_asha(&guard).await;

    sms.wait_for(1, WAIT).await.unwrap();
    let emails = smtp.wait_for(2, WAIT).await;
    guard_stream.next_event("visit").await;
    all_messages_closed(&app.state().db, 3).await;
    assert_eq!(sms.received().len(), 1, "{:?}", sms.received());
    assert_eq!(smtp.received().len(), 2);

    let text = &sms.delivered()[0];
    assert_eq!(
        (text.to.as_str(), text.from.as_str()),
        (ASHA_PHONE, SMS_FROM)
    );
    assert!(
        text.body
            .contains("\"Ravi\" (\"parcel\") is at the gate for A-101, and nobody has answered yet.\nApprove:\nhttp"),
        "{}",
        text.body
    );
    let asha_mail = email_to(&emails, ASHA);
    let arjun_mail = email_to(&emails, ARJUN);
    assert_eq!(asha_mail["subject"], "Visitor at the gate: \"Ravi\"");
    assert_eq!(asha_mail["content_type"], "multipart/alternative");
    assert_eq!(asha_mail["mail_from"], "gate@demo.gatebell");
    let mail_text = asha_mail["text"].as_str().unwrap();
    let html = asha_mail["html"].as_str().unwrap();
    assert!(mail_text.starts_with("Hello Asha Rao,"), "{mail_text}");
    let approve = link_after(mail_text, "Approve:");
    assert!(approve.starts_with(&format!("{}/a/", app.url)), "{approve}");
    assert!(html.contains(&format!("href=\"{approve}\"")), "{html}");
    // Each message has a token of its own.
    let text_approve = link_after(&text.body, "Approve:");
    let arjun_approve = link_after(arjun_mail["text"].as_str().unwrap(), "Approve:");
    assert_ne!(approve, text_approve);
    assert_ne!(approve, arjun_approve);

    // The guard sees what went out.
    let v = visit(&app, &guard, &id).await;
    assert_eq!(v["status"], "PENDING");
    assert_eq!(v["escalation"]["sms"], 1, "{v}");
    assert_eq!(v["escalation"]["email"], 2, "{v}");

    // Opening a link decides nothing (mail scanners fetch links); the button does.
    let (s, html) = page(&app, &approve, None).await;
    assert_eq!(s, 200, "{html}");
    assert!(
        html.contains("Ravi (parcel) is at the gate for A-101."),
        "{html}"
    );
    assert!(html.contains("value=\"approve\""), "{html}");
    assert_eq!(visit(&app, &guard, &id).await["status"], "PENDING");
    let (s, html) = page(&app, &approve, Some("approve")).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("Ravi may come in."), "{html}");
    let v = visit(&app, &guard, &id).await;
    assert_eq!(v["status"], "APPROVED");
    assert_eq!(v["decidedBy"], "Asha Rao");
    guard_stream.next_event("visit").await;

    // A second click, and everyone else's links, say it was decided and by whom.
    let (s, html) = page(&app, &approve, Some("approve")).await;
    assert_eq!(s, 409, "{html}");
    assert!(
        html.contains("Ravi was already approved by Asha Rao."),
        "{html}"
    );
    let (s, html) = page(&app, &arjun_approve, None).await;
    assert_eq!(s, 409, "{html}");
    assert!(html.contains("already approved by Asha Rao"), "{html}");
    let (s, html) = page(&app, &text_approve, Some("reject")).await;
    assert_eq!(s, 409, "{html}");
    assert_eq!(visit(&app, &guard, &id).await["status"], "APPROVED");
    // A made-up link, and a form without a choice.
    let (s, _) = page(&app, &format!("{}/a/made-up-token", app.url), None).await;
    assert_eq!(s, 404);
    let (s, _) = page(&app, &arjun_approve, Some("maybe")).await;
    assert_eq!(s, 422);
    app.stop().await;
}

async fn an_opened_walkin_is_not_escalated_and_an_expired_ones_links_say_so(b: Backend) {
    let sms = FakeSms::start(SID, SMS_TOKEN).await;
    let smtp = SmtpSink::start();
    let app = start(
        b,
        &sms,
        &smtp,
        &["--escalate-after", "2", "--walkin-expiry", "5"],
    )
    .await;
    let (asha, guard) = (app.login(ASHA).await, app.login(GUARD).await);
    let (s, v) = put_preferences(&app, &asha, json!({"phone": ASHA_PHONE})).await;
    assert_eq!(s, 200, "{v}");

    // Asha opens the first walk-in in time: nobody is texted or emailed about it.
    let opened = app.walkin_for_asha(&guard).await;
    let (_, inbox) = app.get("/api/v1/notifications", &asha).await;
    let entry = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["visitId"] == opened.as_str())
        .unwrap_or_else(|| panic!("{inbox}"));
    let (s, v) = app
        .post(
            &format!(
                "/api/v1/notifications/{}/read",
                entry["id"].as_str().unwrap()
            ),
            &asha,
            json!({}),
        )
        .await;
    assert!(s.is_success(), "{s} {v}");
    // The second one nobody opens.
    let ignored = app.walkin_for_asha(&guard).await;
    sms.wait_for(1, WAIT).await.unwrap();
    let emails = smtp.wait_for(2, WAIT).await;
    all_messages_closed(&app.state().db, 3).await;
    assert_eq!(sms.received().len(), 1);
    assert_eq!(smtp.received().len(), 2, "{emails:?}");
    assert!(
        visit(&app, &guard, &opened)
            .await
            .get("escalation")
            .is_none(),
        "an opened walk-in is not escalated"
    );
    assert_eq!(visit(&app, &guard, &ignored).await["escalation"]["sms"], 1);

    // It expires: its links say so, and decide nothing.
    let link = link_after(&sms.delivered()[0].body, "Reject:");
    let deadline = Instant::now() + WAIT;
    while visit(&app, &guard, &ignored).await["status"] != "EXPIRED" {
        assert!(Instant::now() < deadline, "the walk-in never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (s, html) = page(&app, &link, None).await;
    assert_eq!(s, 409, "{html}");
    assert!(html.contains("expired"), "{html}");
    let (s, html) = page(&app, &link, Some("reject")).await;
    assert_eq!(s, 409, "{html}");
    assert!(html.contains("expired"), "{html}");
    assert_eq!(visit(&app, &guard, &ignored).await["status"], "EXPIRED");
    app.stop().await;
}

async fn channels_are_per_event_type_and_a_checkin_is_emailed_to_who_chose_it(b: Backend) {
    let sms = FakeSms::start(SID, SMS_TOKEN).await;
    let smtp = SmtpSink::start();
    let app = start(b, &sms, &smtp, &["--escalate-after", "1"]).await;
    let (asha, arjun, guard) = (
        app.login(ASHA).await,
        app.login(ARJUN).await,
        app.login(GUARD).await,
    );
    // Asha wants check-ins by email, and walk-ins by push alone.
    let channels = json!({
        "walkinPending": {"push": true, "sms": false, "email": false},
        "visitorArrived": {"push": true, "sms": false, "email": true},
    });
    let (s, v) = put_preferences(
        &app,
        &asha,
        json!({"channels": channels, "phone": ASHA_PHONE}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["channels"], channels);
    let (s, v) = app
        .post("/api/v1/visits", &asha, json!({"visitorName": "Meera"}))
        .await;
    assert_eq!(s, 201, "{v}");
    let otp = v["otp"].as_str().unwrap().to_owned();
    let (s, v) = app
        .post("/api/v1/visits/checkin", &guard, json!({"otp": otp}))
        .await;
    assert_eq!(s, 200, "{v}");
    let emails = smtp.wait_for(1, WAIT).await;
    assert_eq!(emails[0]["subject"], "Visitor arrived: \"Meera\"");
    assert_eq!(emails[0]["rcpt_tos"], json!([ASHA]));
    assert!(
        emails[0]["text"]
            .as_str()
            .unwrap()
            .contains("\"Meera\" has checked in at the gate for A-101."),
        "{}",
        emails[0]
    );
    assert!(!emails[0]["text"].as_str().unwrap().contains("/a/"));

    // A walk-in now reaches only Arjun by email (Asha opted out; Arjun has no phone).
    let id = app.walkin_for_asha(&guard).await;
    let emails = smtp.wait_for(2, WAIT).await;
    assert_eq!(emails[1]["rcpt_tos"], json!([ARJUN]));
    all_messages_closed(&app.state().db, 2).await;
    assert!(sms.received().is_empty(), "{:?}", sms.received());
    assert_eq!(smtp.received().len(), 2);
    let v = visit(&app, &guard, &id).await;
    assert_eq!(
        v["escalation"],
        json!({"at": v["escalation"]["at"], "sms": 0, "email": 1})
    );

    // Quiet hours are checked; null removes them.
    for bad in [
        json!({"start": "22:00", "end": "7:00", "timeZone": "UTC"}),
        json!({"start": "24:00", "end": "07:00", "timeZone": "UTC"}),
        json!({"start": "22:00", "end": "07:00", "timeZone": "Mars/Olympus"}),
    ] {
        let got = put_preferences(&app, &arjun, json!({"quietHours": bad})).await;
        assert_error(&got, 422, "validation");
    }
    let got = put_preferences(
        &app,
        &arjun,
        json!({"channels": {"walkinPending": {"push": true}}}),
    )
    .await;
    assert_eq!(got.0.as_u16(), 422, "{}", got.1);
    let quiet = json!({"start": "22:00", "end": "07:00", "timeZone": "Asia/Kolkata"});
    let (_, v) = put_preferences(&app, &arjun, json!({"quietHours": quiet})).await;
    assert_eq!(v["quietHours"], quiet);
    let (_, v) = put_preferences(&app, &arjun, json!({"quietHours": null})).await;
    assert!(v.get("quietHours").is_none(), "{v}");
    app.stop().await;
}

/// One walk-in, two residents of A-101 in two languages: Arjun chose Hindi, Asha kept English
/// (her browser's Accept-Language is only a first default, and she had none). Each inbox
/// entry, text, email and link page is in its reader's language, names as the guard typed them.
async fn each_resident_of_a_flat_reads_the_same_walkin_in_their_own_language(b: Backend) {
    let sms = FakeSms::start(SID, SMS_TOKEN).await;
    let smtp = SmtpSink::start();
    let app = start(b, &sms, &smtp, &["--escalate-after", "1"]).await;
    let (asha, arjun, guard) = (
        app.login(ASHA).await,
        app.login(ARJUN).await,
        app.login(GUARD).await,
    );
    let (s, v) = put_preferences(
        &app,
        &arjun,
        json!({"phone": ARJUN_PHONE, "language": "hi-IN"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["language"], "hi");
    let (s, v) = put_preferences(&app, &asha, json!({"phone": ASHA_PHONE})).await;
    assert_eq!((s, &v["language"]), (StatusCode::OK, &json!("en")), "{v}");
    let refused = put_preferences(&app, &asha, json!({"language": "fr"})).await;
    assert_error(&refused, 422, "validation");
    assert_eq!(
        refused.1["error"]["message"],
        "language must be one of: en, hi"
    );

    let host = app.resident_id(&guard, "asha").await;
    let (s, v) = app
        .post(
            "/api/v1/visits/walkin",
            &guard,
            json!({"visitorName": "रवि कुमार", "purpose": "parcel", "hostId": host}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();

    // The inbox: each in their own words.
    let inbox = |token: String| {
        let app = &app;
        async move {
            let (s, v) = app.get("/api/v1/notifications", &token).await;
            assert_eq!(s, 200, "{v}");
            v["items"][0].clone()
        }
    };
    let arjun_entry = inbox(arjun.clone()).await;
    assert_eq!(arjun_entry["title"], "गेट पर आगंतुक");
    assert_eq!(arjun_entry["body"], "रवि कुमार गेट पर हैं (parcel)। अनुमति दें?");
    let asha_entry = inbox(asha.clone()).await;
    assert_eq!(asha_entry["title"], "Visitor at the gate");
    assert_eq!(
        asha_entry["body"],
        "रवि कुमार is at the gate (parcel). Approve or reject?"
    );

    // Nobody answers: texts and emails, each in its reader's language.
    sms.wait_for(2, WAIT).await.unwrap();
    let emails = smtp.wait_for(2, WAIT).await;
    let texts = sms.delivered();
    let arjun_text = texts
        .iter()
        .find(|t| t.to == ARJUN_PHONE)
        .expect("Arjun's text");
    let asha_text = texts
        .iter()
        .find(|t| t.to == ASHA_PHONE)
        .expect("Asha's text");
    assert!(
        arjun_text
            .body
            .starts_with("Gatebell: \"रवि कुमार\" (\"parcel\") गेट पर हैं (A-101 के लिए)"),
        "{}",
        arjun_text.body
    );
    assert!(
        asha_text.body.contains("is at the gate for A-101"),
        "{}",
        asha_text.body
    );
    // What the texts cost: both carry Devanagari (the name), so both are UCS-2.
    all_messages_closed(&app.state().db, 4).await;
    let segments: usize = [arjun_text, asha_text]
        .iter()
        .map(|t| gatebell_server::texts::segments(&t.body).count)
        .sum();
    assert!(segments >= 4, "{segments}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(&format!(
            "gatebell_sms_segments_total{{encoding=\"ucs2\"}} {segments}"
        )),
        "{metrics}"
    );
    let arjun_mail = email_to(&emails, ARJUN);
    assert_eq!(arjun_mail["subject"], "गेट पर आगंतुक: \"रवि कुमार\"");
    assert!(
        arjun_mail["text"]
            .as_str()
            .unwrap()
            .starts_with("नमस्ते Arjun"),
        "{arjun_mail}"
    );
    assert_eq!(
        email_to(&emails, ASHA)["subject"],
        "Visitor at the gate: \"रवि कुमार\""
    );

    // Arjun's link page is Hindi, Asha's English.
    let arjun_link = link_after(&arjun_text.body, "अनुमति:");
    let (s, html) = page(&app, &arjun_link, None).await;
    assert_eq!(s, 200, "{html}");
    assert!(
        html.starts_with("<!doctype html><html lang=\"hi\">"),
        "{html}"
    );
    assert!(
        html.contains("रवि कुमार (parcel) गेट पर हैं (A-101 के लिए)।"),
        "{html}"
    );
    assert!(html.contains(">अनुमति दें</button>"), "{html}");
    let asha_link = link_after(&asha_text.body, "Approve:");
    let (s, html) = page(&app, &asha_link, Some("approve")).await;
    assert_eq!(s, 200, "{html}");
    assert!(
        html.starts_with("<!doctype html><html lang=\"en\">"),
        "{html}"
    );
    assert!(html.contains("रवि कुमार may come in."), "{html}");
    assert_eq!(visit(&app, &guard, &id).await["status"], "APPROVED");

    // The outcome, on Arjun's entry in Hindi; his link now says so in Hindi.
    let arjun_entry = inbox(arjun.clone()).await;
    assert_eq!(arjun_entry["body"], "रवि कुमार: Asha Rao ने अनुमति दी");
    let (s, html) = page(&app, &arjun_link, None).await;
    assert_eq!(s, 409, "{html}");
    assert!(
        html.contains("रवि कुमार को पहले ही अनुमति मिल चुकी है (Asha Rao द्वारा)।"),
        "{html}"
    );
    app.stop().await;
}

/// A sign-in's Accept-Language sets the language of someone who never chose one, and never
/// overrides a choice.
async fn a_sign_in_sets_the_first_language_from_accept_language(b: Backend) {
    let sms = FakeSms::start(SID, SMS_TOKEN).await;
    let smtp = SmtpSink::start();
    let app = start(b, &sms, &smtp, &[]).await;
    let login = |language: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .http
                .post(format!("{}/api/v1/auth/login", app.url))
                .header("accept-language", language)
                .json(&json!({"email": ARJUN, "password": gatebell_server::http::accounts::DEMO_PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let v: Value = resp.json().await.unwrap();
            v["token"].as_str().unwrap().to_owned()
        }
    };
    let token = login("fr-FR, hi-IN;q=0.8, en;q=0.5").await;
    let (_, v) = app.get("/api/v1/me/preferences", &token).await;
    assert_eq!(v["language"], "hi", "{v}");
    let (s, _) = put_preferences(&app, &token, json!({"language": "en"})).await;
    assert_eq!(s, 200);
    let token = login("hi").await;
    let (_, v) = app.get("/api/v1/me/preferences", &token).await;
    assert_eq!(v["language"], "en", "a choice stays: {v}");
    app.stop().await;
}

on_both_backends!(
    each_resident_of_a_flat_reads_the_same_walkin_in_their_own_language,
    a_sign_in_sets_the_first_language_from_accept_language,
    nobody_answers_so_the_household_is_texted_and_emailed_and_a_link_decides_once,
    an_opened_walkin_is_not_escalated_and_an_expired_ones_links_say_so,
    channels_are_per_event_type_and_a_checkin_is_emailed_to_who_chose_it,
);

/// Waits until `n` messages were queued and none is pending any more: nothing is left to
/// send, so the counts a test reads next are final.
async fn all_messages_closed(db: &gatebell_server::db::Db, n: i64) {
    common::wait_for_count(
        db,
        "SELECT COUNT(*) FROM message_jobs WHERE state <> 'pending'",
        n,
        WAIT,
    )
    .await;
    assert_eq!(
        common::scalar(db, "SELECT COUNT(*) FROM message_jobs").await,
        n
    );
}

/// A port that refuses connections for as long as the socket is held: bound, never listening
/// (so no other test can take it meanwhile).
fn refusing_port() -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    socket
}

/// `kill -9` while the escalation's texts and emails wait (the SMS API is down, the SMTP server
/// unreachable): after a restart each is sent once, none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_escalation_loses_no_text_or_email() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/gatebell.db?mode=rwc", dir.path().display());
    let sms = FakeSms::start(SID, SMS_TOKEN).await;
    sms.fail_next(usize::MAX);
    let extra = [
        "--escalate-after",
        "1",
        "--walkin-expiry",
        "120",
        "--claim-lease-ms",
        "1000",
    ];
    let refusing = refusing_port();
    let down = format!("smtp://127.0.0.1:{}", refusing.local_addr().unwrap().port());
    let first = Process::spawn(&url, &flags(&sms, &down, &extra));
    let app = TestApp::client_of(&first.url, &url);
    for (who, phone) in [(ASHA, ASHA_PHONE), (ARJUN, ARJUN_PHONE)] {
        let token = app.login(who).await;
        let (s, v) = put_preferences(&app, &token, json!({"phone": phone})).await;
        assert_eq!(s, 200, "{v}");
    }
    let guard = app.login(GUARD).await;
    let id = app.walkin_for_asha(&guard).await;
    // Both texts were tried (and refused): the escalation is committed, its sends under way.
    let deadline = Instant::now() + WAIT;
    while sms.received().len() < 2 {
        assert!(Instant::now() < deadline, "the texts were never tried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill();

    sms.fail_next(0);
    let smtp = SmtpSink::start();
    let second = Process::spawn(&url, &flags(&sms, &smtp.url(), &extra));
    sms.wait_for(2, Duration::from_secs(45)).await.unwrap();
    let emails = smtp.wait_for(2, Duration::from_secs(45)).await;
    all_messages_closed(&gatebell_server::db::Db::connect(&url).await.unwrap(), 4).await;
    let mut texted: Vec<String> = sms.delivered().into_iter().map(|t| t.to).collect();
    texted.sort();
    assert_eq!(texted, [ASHA_PHONE, ARJUN_PHONE]);
    let mut mailed: Vec<String> = smtp
        .received()
        .iter()
        .map(|e| e["rcpt_tos"][0].as_str().unwrap().to_owned())
        .collect();
    mailed.sort();
    assert_eq!(mailed, [ARJUN, ASHA], "{emails:?}");
    let app = TestApp::client_of(&second.url, &url);
    let guard = app.login(GUARD).await;
    let v = visit(&app, &guard, &id).await;
    assert_eq!(v["escalation"]["sms"], 2, "{v}");
    assert_eq!(v["escalation"]["email"], 2, "{v}");
}

/// Asha's (and Arjun's, with `arjun_too`) check-ins go by `sms` and/or `email` alone; each
/// invites a visitor and the guard checks them in: one message each.
async fn check_ins_announced(app: &TestApp, sms: bool, email: bool, arjun_too: bool) {
    let guard = app.login(GUARD).await;
    let hosts: &[(&str, &str)] = if arjun_too {
        &[(ASHA, ASHA_PHONE), (ARJUN, ARJUN_PHONE)]
    } else {
        &[(ASHA, ASHA_PHONE)]
    };
    for (who, phone) in hosts {
        let token = app.login(who).await;
        let channels = json!({
            "walkinPending": {"push": true, "sms": false, "email": false},
            "visitorArrived": {"push": true, "sms": sms, "email": email},
        });
        let (s, v) =
            put_preferences(app, &token, json!({"channels": channels, "phone": phone})).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = app
            .post("/api/v1/visits", &token, json!({"visitorName": "Meera"}))
            .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = app
            .post("/api/v1/visits/checkin", &guard, json!({"otp": v["otp"]}))
            .await;
        assert_eq!(s, 200, "{v}");
    }
}

/// Waits until `channel`'s messages are all closed (no longer pending), then returns each one's
/// `state attempts last_status last_error`, by recipient's email.
async fn closed_messages(app: &TestApp, channel: &str, n: i64) -> Vec<String> {
    let db = &app.state().db;
    common::wait_for_count(
        db,
        &format!(
            "SELECT COUNT(*) FROM message_jobs WHERE channel = '{channel}' AND state <> 'pending'"
        ),
        n,
        WAIT,
    )
    .await;
    common::texts(
        db,
        &format!(
            "SELECT j.state || ' ' || CAST(j.attempts AS TEXT) || ' ' || \
             COALESCE(CAST(j.last_status AS TEXT), '-') || ' ' || COALESCE(j.last_error, '-') \
             FROM message_jobs j JOIN users u ON u.id = j.user_id \
             WHERE j.channel = '{channel}' ORDER BY u.email"
        ),
    )
    .await
}

/// Twilio answers a number that is no phone's 400 (code 21211): that will not change on a
/// retry, so the text fails at once, recorded with the provider's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_refused_with_a_4xx_is_failed_not_retried() {
    let sms = FakeSms::start(SID, SMS_TOKEN).await;
    sms.mark_invalid(ASHA_PHONE);
    let smtp = SmtpSink::start();
    let app = start(Backend::Sqlite, &sms, &smtp, &[]).await;
    check_ins_announced(&app, true, false, false).await;
    let closed = closed_messages(&app, "sms", 1).await;
    assert_eq!(closed.len(), 1);
    assert!(
        closed[0].starts_with("failed 1 400 ") && closed[0].contains("(code 21211)"),
        "{closed:?}"
    );
    let tries: Vec<_> = sms.received().iter().map(|r| r.status).collect();
    assert_eq!(tries, [400], "one try, refused");
    let attempts = common::scalar(&app.state().db, "SELECT COUNT(*) FROM message_attempts").await;
    assert_eq!(attempts, 1);
    app.stop().await;
}

/// A 429 is a "not now": the text is tried again, no sooner than the `Retry-After` asked (2 s,
/// more than the first backoff of at most 1 s), and then delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_refused_with_429_is_retried_after_its_retry_after() {
    let sms = FakeSms::start(SID, SMS_TOKEN).await;
    sms.rate_limit_next(1, Some(2));
    let smtp = SmtpSink::start();
    let app = start(Backend::Sqlite, &sms, &smtp, &[]).await;
    check_ins_announced(&app, true, false, false).await;
    let closed = closed_messages(&app, "sms", 1).await;
    assert_eq!(closed, ["delivered 2 201 -"]);
    let tries = sms.received();
    let statuses: Vec<_> = tries.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 201]);
    let waited = tries[1].at - tries[0].at;
    assert!(
        waited >= Duration::from_secs(2),
        "tried again after {waited:?}, before Retry-After: 2"
    );
    app.stop().await;
}

const SMTP_USER: &str = "gatebell";
const SMTP_PASSWORD: &str = "smtp-password-for-tests";

/// `serve` flags trusting `ca` (`--extra-ca-file`, written into `dir`).
fn trusting(ca: &gatebell_testkit::tls::TestCa, dir: &std::path::Path) -> String {
    let path = dir.join("extra-ca.pem");
    std::fs::write(&path, ca.ca_pem()).unwrap();
    path.display().to_string()
}

/// Submission as a provider offers it: TLS from the first byte (`smtps://`) or STARTTLS
/// before anything else, with a certificate of the test CA the server is told to trust, and
/// AUTH with the credentials of the URL. Each email arrives over TLS, signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtps_and_starttls_with_credentials_deliver() {
    let ca = gatebell_testkit::tls::TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = trusting(&ca, dir.path());
    let sms = FakeSms::start(SID, SMS_TOKEN).await;
    for tls in [SinkTls::Implicit(&ca), SinkTls::StartTls(&ca)] {
        let smtp = SmtpSink::start_with(SinkOptions {
            tls,
            credentials: Some((SMTP_USER, SMTP_PASSWORD)),
            ..SinkOptions::default()
        });
        let app = start(Backend::Sqlite, &sms, &smtp, &["--extra-ca-file", &ca_file]).await;
        check_ins_announced(&app, false, true, false).await;
        let emails = smtp.wait_for(1, WAIT).await;
        assert_eq!(emails[0]["rcpt_tos"], json!([ASHA]), "{}", smtp.url());
        assert!(
            emails[0]["subject"].as_str().unwrap().contains("Meera"),
            "{}",
            emails[0]
        );
        assert_eq!(emails[0]["tls"], true);
        assert_eq!(emails[0]["login"], SMTP_USER);
        assert_eq!(
            closed_messages(&app, "email", 1).await,
            ["delivered 1 250 -"]
        );
        app.stop().await;
    }
}

/// A server whose certificate the server does not trust (no `--extra-ca-file`) gets nothing:
/// the TLS handshake fails, the email is not sent, and the reason is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_server_with_an_untrusted_certificate_gets_no_email() {
    let ca = gatebell_testkit::tls::TestCa::new();
    let sms = FakeSms::start(SID, SMS_TOKEN).await;
    let smtp = SmtpSink::start_with(SinkOptions {
        tls: SinkTls::Implicit(&ca),
        credentials: Some((SMTP_USER, SMTP_PASSWORD)),
        ..SinkOptions::default()
    });
    let app = start(Backend::Sqlite, &sms, &smtp, &[]).await;
    check_ins_announced(&app, false, true, false).await;
    let db = &app.state().db;
    common::wait_for_count(db, "SELECT COUNT(*) FROM message_attempts", 1, WAIT).await;
    let errors = common::texts(db, "SELECT COALESCE(error, '-') FROM message_attempts").await;
    assert!(errors[0].contains("UnknownIssuer"), "{errors:?}");
    assert!(smtp.received().is_empty());
    assert!(
        smtp.auths().is_empty(),
        "credentials went to an untrusted server"
    );
    app.stop().await;
}

/// Wrong credentials: the server answers 535, which a retry will not change; the email fails
/// at once with the server's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_smtp_credentials_fail_the_email_clearly() {
    let ca = gatebell_testkit::tls::TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = trusting(&ca, dir.path());
    let sms = FakeSms::start(SID, SMS_TOKEN).await;
    let smtp = SmtpSink::start_with(SinkOptions {
        tls: SinkTls::StartTls(&ca),
        credentials: Some((SMTP_USER, SMTP_PASSWORD)),
        ..SinkOptions::default()
    });
    let flags = flags(
        &sms,
        &smtp.url_as(SMTP_USER, "not-the-password"),
        &["--extra-ca-file", &ca_file],
    );
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let app = TestApp::start_with(Backend::Sqlite, &flags).await;
    check_ins_announced(&app, false, true, false).await;
    let closed = closed_messages(&app, "email", 1).await;
    assert_eq!(closed.len(), 1);
    assert!(
        closed[0].starts_with("failed 1 535 ")
            && closed[0].contains("Authentication credentials invalid"),
        "{closed:?}"
    );
    assert!(smtp.received().is_empty());
    assert!(
        smtp.auths()
            .iter()
            .all(|a| a["success"] == false && a["login"] == SMTP_USER),
        "{:?}",
        smtp.auths()
    );
    app.stop().await;
}

/// A 4xx ("mailbox busy") is tried again and delivered; a 5xx ("no such mailbox") fails at
/// once, recorded with the server's reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_4xx_is_retried_and_a_5xx_is_not() {
    let ca = gatebell_testkit::tls::TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = trusting(&ca, dir.path());
    let sms = FakeSms::start(SID, SMS_TOKEN).await;
    let smtp = SmtpSink::start_with(SinkOptions {
        tls: SinkTls::StartTls(&ca),
        credentials: Some((SMTP_USER, SMTP_PASSWORD)),
        refuse: vec![(ASHA, 451, 1), (ARJUN, 550, 1)],
    });
    let app = start(Backend::Sqlite, &sms, &smtp, &["--extra-ca-file", &ca_file]).await;
    check_ins_announced(&app, false, true, true).await;
    let closed = closed_messages(&app, "email", 2).await;
    // Ordered by email: arjun@, then asha@.
    assert!(
        closed[0].starts_with("failed 1 550 ") && closed[0].contains("No such mailbox"),
        "{closed:?}"
    );
    assert_eq!(closed[1], "delivered 2 250 -", "{closed:?}");
    let emails = smtp.received();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["rcpt_tos"], json!([ASHA]));
    let refused: Vec<_> = smtp
        .refusals()
        .iter()
        .map(|r| {
            (
                r["rcpt"].as_str().unwrap().to_owned(),
                r["code"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.contains(&(ASHA.to_owned(), 451)), "{refused:?}");
    assert!(refused.contains(&(ARJUN.to_owned(), 550)), "{refused:?}");
    app.stop().await;
}

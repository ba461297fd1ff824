//! Who may call what: one table of every API operation × every kind of caller → the status it
//! gets, run on SQLite and on PostgreSQL. Each cell gets fresh resources (a visit, a
//! notification, a device) owned by Asha, so one cell's effect cannot change another's answer.
//! The table must name every operation of the served OpenAPI document.

mod common;

use std::collections::BTreeSet;

use common::{Backend, TestApp};
use gatebell_core::protocol::paths;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A kind of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// No Authorization header.
    Anonymous,
    /// Asha (resident, A-101), who owns every resource a cell makes.
    Owner,
    /// Arjun, a resident of the owner's own unit.
    UnitMate,
    /// Bina, a resident of another unit (B-202).
    OtherUnit,
    Guard,
    Admin,
    /// The internal API's service key as the bearer token.
    ServiceKey,
}

/// The order of the expected statuses in [`MATRIX`].
const CALLERS: [Caller; 7] = [
    Caller::Anonymous,
    Caller::Owner,
    Caller::UnitMate,
    Caller::OtherUnit,
    Caller::Guard,
    Caller::Admin,
    Caller::ServiceKey,
];

const SERVICE_KEY: &str = "authz-matrix-service-key-0123456789";

/// operationId → status for each of [`CALLERS`]. "Own" resources are Asha's.
#[rustfmt::skip]
const MATRIX: &[(&str, [u16; 7])] = &[
    //                              anon  owner mate other guard admin service
    ("login",                    [200,  200,  200,  200,  200,  200,  200]),
    ("logout",                   [401,  204,  204,  204,  204,  204,  401]),
    ("getMe",                    [401,  200,  200,  200,  200,  200,  401]),
    ("listResidents",            [401,  403,  403,  403,  200,  200,  401]),
    ("inviteVisitor",            [401,  201,  201,  201,  403,  403,  401]),
    ("listVisits",               [401,  200,  200,  200,  200,  200,  401]),
    ("checkInVisitor",           [401,  403,  403,  403,  200,  403,  401]),
    ("registerWalkin",           [401,  403,  403,  403,  201,  403,  401]),
    // A walk-in asks the host's household (the unit's default): Arjun of A-101 sees and decides.
    ("getVisit",                 [401,  200,  200,  403,  200,  200,  401]),
    ("approveVisit",             [401,  200,  200,  403,  403,  403,  401]),
    ("rejectVisit",              [401,  200,  200,  403,  403,  403,  401]),
    ("listMyRequests",           [401,  200,  200,  200,  403,  403,  401]),
    ("listNotifications",        [401,  200,  200,  200,  200,  200,  401]),
    ("markNotificationRead",     [401,  204,  404,  404,  404,  404,  401]),
    ("markAllNotificationsRead", [401,  200,  200,  200,  200,  200,  401]),
    ("streamEvents",             [401,  200,  200,  200,  200,  200,  401]),
    ("registerDevice",           [401,  200,  200,  200,  200,  200,  401]),
    ("unregisterDevice",         [401,  204,  404,  404,  404,  404,  401]),
    ("unregisterDeviceByPost",   [401,  204,  404,  404,  404,  404,  401]),
    ("getVapidPublicKey",        [200,  200,  200,  200,  200,  200,  200]),
    ("internalNotify",           [401,  401,  401,  401,  401,  401,  202]),
    ("listSessions",             [401,  200,  200,  200,  200,  200,  401]),
    ("setUserDisabled",          [401,  401,  401,  401,  401,  401,  204]),
    ("deleteUser",               [401,  401,  401,  401,  401,  401,  204]),
    ("putUser",                  [401,  401,  401,  401,  401,  401,  201]),
    ("handOverWalkin",           [401,  401,  401,  401,  401,  401,  201]),
    ("handOverCheckin",          [401,  401,  401,  401,  401,  401,  201]),
    // Only the push's action token decides here: no session stands in for it (a made-up one).
    ("decideWithActionToken",    [403,  403,  403,  403,  403,  403,  403]),
    ("getPreferences",           [401,  200,  200,  200,  200,  200,  401]),
    // The unit's setting is a resident's (set to what it is, so no later cell changes).
    ("putPreferences",           [401,  200,  200,  200,  403,  403,  401]),
    // Last: it ends every session of the caller, the shared ones included.
    ("logoutAll",                [401,  204,  204,  204,  204,  204,  401]),
];

/// Signed-in sessions of the demo accounts, and Asha's user id.
struct Sessions {
    asha: String,
    arjun: String,
    bina: String,
    guard: String,
    admin: String,
    asha_id: String,
}

impl Sessions {
    fn token(&self, caller: Caller) -> Option<String> {
        Some(match caller {
            Caller::Anonymous => return None,
            Caller::Owner => self.asha.clone(),
            Caller::UnitMate => self.arjun.clone(),
            Caller::OtherUnit => self.bina.clone(),
            Caller::Guard => self.guard.clone(),
            Caller::Admin => self.admin.clone(),
            Caller::ServiceKey => SERVICE_KEY.to_owned(),
        })
    }
}

fn email(caller: Caller) -> Option<&'static str> {
    match caller {
        Caller::Owner => Some("asha@demo.gatebell"),
        Caller::UnitMate => Some("arjun@demo.gatebell"),
        Caller::OtherUnit => Some("bina@demo.gatebell"),
        Caller::Guard => Some("guard@demo.gatebell"),
        Caller::Admin => Some("admin@demo.gatebell"),
        Caller::Anonymous | Caller::ServiceKey => None,
    }
}

/// A walk-in for Asha, registered by the guard: its id (Asha's newest notification is about it).
async fn walkin_for_asha(app: &TestApp, s: &Sessions) -> String {
    let (status, v) = app
        .post(
            paths::VISIT_WALKIN,
            &s.guard,
            json!({"visitorName": "Ravi", "hostId": s.asha_id, "purpose": "parcel"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

/// A device token registered to Asha.
async fn device_of_asha(app: &TestApp, s: &Sessions, cell: usize) -> String {
    let token = format!("asha-device-{cell}");
    let (status, v) = app
        .post(
            paths::REGISTER_DEVICE,
            &s.asha,
            json!({"token": token, "platform": "android"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    token
}

/// A resident of B-202 the backend made for one cell, so disabling or deleting them touches no
/// caller: their id in the backend (the internal API's `{id}`).
async fn someone(app: &TestApp, cell: usize) -> String {
    let id = format!("ext-someone-{cell}");
    let (status, v) = send(
        app,
        (
            Method::PUT,
            paths::INTERNAL_USER.replace("{id}", &id),
            Some(json!({"name": format!("Resident {cell}"), "role": "resident", "unit": "B-202"})),
        ),
        Some(SERVICE_KEY),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    id
}

/// The request of `operation` for one cell, with the resources it needs made fresh.
async fn request(
    app: &TestApp,
    s: &Sessions,
    operation: &str,
    caller: Caller,
    cell: usize,
) -> (Method, String, Option<Value>) {
    let post = |path: &str, body: Value| (Method::POST, path.to_owned(), Some(body));
    let get = |path: &str| (Method::GET, path.to_owned(), None);
    match operation {
        "login" => post(
            paths::LOGIN,
            json!({"email": "asha@demo.gatebell", "password": gatebell_server::http::accounts::DEMO_PASSWORD}),
        ),
        "logout" => (Method::POST, paths::LOGOUT.to_owned(), None),
        "getMe" => get(paths::ME),
        "listResidents" => get(paths::RESIDENTS),
        "inviteVisitor" => post(paths::VISITS, json!({"visitorName": "Ravi"})),
        "listVisits" => get(paths::VISITS),
        "checkInVisitor" => {
            let (status, v) = app
                .post(paths::VISITS, &s.asha, json!({"visitorName": "Ravi"}))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{v}");
            post(paths::VISIT_CHECKIN, json!({"otp": v["otp"]}))
        }
        "registerWalkin" => post(
            paths::VISIT_WALKIN,
            json!({"visitorName": "Ravi", "hostId": s.asha_id, "purpose": "parcel"}),
        ),
        "getVisit" => get(&paths::VISIT.replace("{id}", &walkin_for_asha(app, s).await)),
        "approveVisit" | "rejectVisit" => {
            let id = walkin_for_asha(app, s).await;
            let action = operation.trim_end_matches("Visit");
            post(&paths::visit_action(&id, action), json!({}))
        }
        "listMyRequests" => get(paths::MY_REQUESTS),
        "listNotifications" => get(paths::NOTIFICATIONS),
        "markNotificationRead" => {
            walkin_for_asha(app, s).await;
            let (_, page) = app.get(paths::NOTIFICATIONS, &s.asha).await;
            let id = page["items"][0]["id"].as_str().unwrap();
            (
                Method::POST,
                paths::NOTIFICATION_READ.replace("{id}", id),
                None,
            )
        }
        "markAllNotificationsRead" => (Method::POST, paths::NOTIFICATIONS_READ_ALL.into(), None),
        "streamEvents" => get(paths::STREAM),
        "registerDevice" => post(
            paths::REGISTER_DEVICE,
            json!({"token": format!("device-{cell}-{caller:?}"), "platform": "android"}),
        ),
        "unregisterDevice" => (
            Method::DELETE,
            paths::REGISTER_DEVICE.into(),
            Some(json!({"token": device_of_asha(app, s, cell).await})),
        ),
        "unregisterDeviceByPost" => post(
            paths::UNREGISTER_DEVICE,
            json!({"token": device_of_asha(app, s, cell).await}),
        ),
        "getVapidPublicKey" => get(paths::VAPID_PUBLIC_KEY),
        "internalNotify" => post(
            paths::INTERNAL_NOTIFY,
            json!({"userId": s.asha_id, "type": "parcel_arrived", "title": "Parcel", "body": "At the gate."}),
        ),
        "listSessions" => get(paths::SESSIONS),
        "setUserDisabled" => (
            Method::PUT,
            paths::INTERNAL_USER_DISABLED.replace("{id}", &someone(app, cell).await),
            Some(json!({"disabled": true})),
        ),
        "deleteUser" => (
            Method::DELETE,
            paths::INTERNAL_USER.replace("{id}", &someone(app, cell).await),
            None,
        ),
        "putUser" => (
            Method::PUT,
            paths::INTERNAL_USER.replace("{id}", &format!("ext-{cell}")),
            Some(json!({"name": "Backend user", "role": "guard"})),
        ),
        "handOverWalkin" | "handOverCheckin" => post(
            if operation == "handOverWalkin" {
                paths::INTERNAL_WALKINS
            } else {
                paths::INTERNAL_CHECKINS
            },
            json!({"externalVisitId": format!("matrix-{cell}"), "hostExternalId": s.asha_id, "visitorName": "Ravi"}),
        ),
        "decideWithActionToken" => post(
            &paths::visit_decision(&walkin_for_asha(app, s).await),
            json!({"decision": "approve", "actionToken": "not-a-token-anyone-was-given"}),
        ),
        "getPreferences" => get(paths::PREFERENCES),
        "putPreferences" => (
            Method::PUT,
            paths::PREFERENCES.to_owned(),
            Some(json!({"household": "household"})),
        ),
        "logoutAll" => (Method::POST, paths::LOGOUT_ALL.to_owned(), None),
        other => panic!("the matrix has no request for {other}"),
    }
}

/// Sends one request; the status, and the body when it is JSON (the event stream is not).
async fn send(
    app: &TestApp,
    (method, path, body): (Method, String, Option<Value>),
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = app.http.request(method, format!("{}{path}", app.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request reaches the server");
    let status = resp.status();
    let is_json = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    // Reading an event stream's body would wait for ever: its status is the answer.
    let body = if is_json {
        resp.json().await.unwrap()
    } else {
        Value::Null
    };
    (status, body)
}

async fn every_operation_answers_each_caller_as_the_matrix_says(b: Backend) {
    // An unexpected 500 logs its cause here.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let app = TestApp::start_with(
        b,
        &[
            "--service-key",
            SERVICE_KEY,
            // Each logout cell signs in afresh; the limits are not what this test is about.
            "--login-per-ip",
            "1000",
            "--login-per-account",
            "1000",
        ],
    )
    .await;

    // The table covers exactly the documented operations.
    let (_, doc) = app.call(Method::GET, paths::OPENAPI, None, None).await;
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
        .collect();
    let tabled: BTreeSet<String> = MATRIX.iter().map(|(op, _)| (*op).to_owned()).collect();
    assert_eq!(tabled, documented, "the matrix and the API differ");

    let s = Sessions {
        asha: app.login("asha@demo.gatebell").await,
        arjun: app.login("arjun@demo.gatebell").await,
        bina: app.login("bina@demo.gatebell").await,
        guard: app.login("guard@demo.gatebell").await,
        admin: app.login("admin@demo.gatebell").await,
        asha_id: String::new(),
    };
    let s = Sessions {
        asha_id: app.resident_id(&s.guard, "asha").await,
        ..s
    };

    // Bina has an inbox entry of her own, so an inbox that showed nobody anything would fail.
    let bina_id = me_id(&app, &s.bina).await;
    let (status, v) = send(
        &app,
        (
            Method::POST,
            paths::INTERNAL_NOTIFY.to_owned(),
            Some(json!({"userId": bina_id, "type": "parcel_arrived", "title": "Parcel", "body": "For Bina."})),
        ),
        Some(SERVICE_KEY),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");

    let mut wrong = Vec::new();
    let mut cell = 0;
    for (operation, expected) in MATRIX {
        for (caller, want) in CALLERS.iter().zip(expected) {
            cell += 1;
            let req = request(&app, &s, operation, *caller, cell).await;
            // Logging out ends the session: sign in afresh for that cell.
            let token = match (*operation, email(*caller)) {
                ("logout", Some(email)) => Some(app.login(email).await),
                _ => s.token(*caller),
            };
            let (status, body) = send(&app, req, token.as_deref()).await;
            if status == StatusCode::OK
                && let Some(token) = token.as_deref()
                && let Err(why) = rows_are_the_callers(&app, operation, *caller, token, &body).await
            {
                wrong.push(format!("{operation} as {caller:?}: {why}: {body}"));
            }
            if status.as_u16() != *want {
                wrong.push(format!(
                    "{operation} as {caller:?}: {status}, want {want}: {body}"
                ));
            } else if status.is_client_error() && body["error"]["code"].as_str().is_none() {
                wrong.push(format!(
                    "{operation} as {caller:?}: {status} without an error body"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    app.stop().await;
}

/// The caller's user id.
async fn me_id(app: &TestApp, token: &str) -> String {
    let (status, me) = app.get(paths::ME, token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me["id"].as_str().unwrap().to_owned()
}

/// The unit of a resident caller.
fn unit(caller: Caller) -> Option<&'static str> {
    match caller {
        Caller::Owner | Caller::UnitMate => Some("A-101"),
        Caller::OtherUnit => Some("B-202"),
        _ => None,
    }
}

/// A list answered 200 holds exactly the caller's rows: their own inbox entries and sessions
/// (checked against the database), a resident's visits and pending requests of their own unit
/// only. Other operations are not lists.
async fn rows_are_the_callers(
    app: &TestApp,
    operation: &str,
    caller: Caller,
    token: &str,
    body: &Value,
) -> Result<(), String> {
    let ids_in = |items: &[Value]| {
        items
            .iter()
            .map(|i| format!("'{}'", i["id"].as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(",")
    };
    // The caller's own rows of `table` among `items`, and all of the caller's rows.
    async fn owned(app: &TestApp, table: &str, me: &str, ids: &str) -> (i64, i64) {
        let db = &app.state().db;
        let mine = common::scalar(
            db,
            &format!("SELECT COUNT(*) FROM {table} WHERE user_id = '{me}' AND id IN ({ids})"),
        )
        .await;
        let all = common::scalar(
            db,
            &format!("SELECT COUNT(*) FROM {table} WHERE user_id = '{me}'"),
        )
        .await;
        (mine, all)
    }
    let visits_of_unit = |items: &[Value], status: Option<&str>| -> Result<(), String> {
        let Some(unit) = unit(caller) else {
            return Ok(());
        };
        match items.iter().find(|v| {
            v["unit"] != unit || status.is_some_and(|s| v["status"] != s || v["kind"] != "walkin")
        }) {
            Some(v) => Err(format!("a visit not for {unit}: {v}")),
            None => Ok(()),
        }
    };
    match operation {
        "listNotifications" => {
            let items = body["items"].as_array().ok_or("no items")?;
            if items.is_empty() && matches!(caller, Caller::Owner | Caller::OtherUnit) {
                return Err("an empty inbox for a caller who has entries".into());
            }
            if items.is_empty() {
                return Ok(());
            }
            let me = me_id(app, token).await;
            let (mine, all) = owned(app, "notifications", &me, &ids_in(items)).await;
            let whole = body["nextCursor"].is_null();
            if mine != items.len() as i64 || (whole && mine != all) {
                return Err(format!(
                    "{} entries, {mine} of them the caller's, who has {all}",
                    items.len()
                ));
            }
            Ok(())
        }
        "listSessions" => {
            let items = body.as_array().ok_or("not a list")?;
            let me = me_id(app, token).await;
            let (mine, all) = owned(app, "sessions", &me, &ids_in(items)).await;
            let current = items.iter().filter(|i| i["current"] == true).count();
            if mine != items.len() as i64 || mine != all || current != 1 {
                return Err(format!(
                    "{} sessions, {mine} of them the caller's (of {all}), {current} current",
                    items.len()
                ));
            }
            Ok(())
        }
        "listVisits" => {
            let items = body["items"].as_array().ok_or("no items")?;
            if items.is_empty() && matches!(caller, Caller::Owner | Caller::OtherUnit) {
                return Err("no visits for a caller who has some".into());
            }
            visits_of_unit(items, None)
        }
        "listMyRequests" => {
            let items = body["items"].as_array().ok_or("no items")?;
            if items.is_empty() && caller == Caller::Owner {
                return Err("no pending walk-in for their host".into());
            }
            visits_of_unit(items, Some("PENDING"))
        }
        _ => Ok(()),
    }
}

on_both_backends!(every_operation_answers_each_caller_as_the_matrix_says);

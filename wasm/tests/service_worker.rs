//! Runs inside a real service worker in headless Chromium, with notification permission granted
//! (`wasm/tests/runner.mjs`): a push shows its notification, the worker answers a walk-in through
//! the API (with the stored session, or with the push's action token alone), and a failed
//! decision replaces the notification with one that says why.

use gatebell_core::client::{self as core, Config, Event};
use gatebell_core::protocol::PushAnswers;
use gatebell_core::routing::Route;
use gatebell_wasm::store::{KEY_API_BASE, KEY_SESSION, KEY_STATE, SessionRecord, Store};
use gatebell_wasm::worker::{answer_walkin, handle_notification_click, handle_push};
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_service_worker);

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or_default()
}

/// Answers every request with `status` and `body`, recording the last one.
fn script_fetch(status: u16, body: &str) {
    Function::new_with_args(
        "status, body",
        "globalThis.fetch = async (req) => {
           globalThis.last = { method: req.method, url: req.url,
                               auth: req.headers.get('authorization'), body: await req.text() };
           return new Response(body, { status });
         };",
    )
    .call2(&JsValue::NULL, &status.into(), &body.into())
    .expect("install fetch");
}

async fn store_session() {
    let record = SessionRecord {
        api_base: "https://gate.example".into(),
        session_token: "resident-token".into(),
        user_id: "u-1".into(),
    };
    let store = Store::open().await.expect("open");
    store.put_value(KEY_SESSION, &record).await.expect("put");
    // Notifications on: another test may have left them off.
    store.delete(KEY_STATE).await.expect("delete");
}

fn approve(id: &str) -> Route {
    Route::Approve {
        visit_id: id.into(),
    }
}

#[wasm_bindgen_test]
async fn approve_posts_with_the_stored_session() {
    store_session().await;
    script_fetch(
        200,
        r#"{"id":"v-1","visitorName":"Ravi","hostId":"u-1","hostName":"Asha","kind":"walkin",
            "status":"APPROVED","createdAt":1}"#,
    );
    let text = answer_walkin(&approve("v-1"), None, None).await;
    assert_eq!(text.as_deref(), Ok("Approved — Ravi may enter"));
    let last = get(&js_sys::global(), "last");
    assert_eq!(get(&last, "method").as_string().as_deref(), Some("POST"));
    assert_eq!(
        get(&last, "url").as_string().as_deref(),
        Some("https://gate.example/api/v1/visits/v-1/approve")
    );
    assert_eq!(
        get(&last, "auth").as_string().as_deref(),
        Some("Bearer resident-token")
    );
}

#[wasm_bindgen_test]
async fn with_an_action_token_the_decision_goes_without_the_session() {
    store_session().await;
    script_fetch(
        200,
        r#"{"id":"v-6","visitorName":"Ravi","hostId":"u-1","hostName":"Asha","kind":"walkin",
            "status":"APPROVED","createdAt":1}"#,
    );
    let text = answer_walkin(&approve("v-6"), Some("tok-6"), None).await;
    assert_eq!(text.as_deref(), Ok("Approved — Ravi may enter"));
    let last = get(&js_sys::global(), "last");
    assert_eq!(
        get(&last, "url").as_string().as_deref(),
        Some("https://gate.example/api/v1/visits/v-6/decision")
    );
    assert_eq!(get(&last, "auth"), JsValue::NULL);
    let body = js_sys::JSON::parse(&get(&last, "body").as_string().unwrap()).unwrap();
    assert_eq!(
        get(&body, "decision").as_string().as_deref(),
        Some("approve")
    );
    assert_eq!(
        get(&body, "actionToken").as_string().as_deref(),
        Some("tok-6")
    );
}

#[wasm_bindgen_test]
async fn a_refused_action_token_sends_the_resident_to_the_app() {
    store_session().await;
    script_fetch(
        403,
        r#"{"error":{"code":"forbidden","message":"the token is used"}}"#,
    );
    let text = answer_walkin(&approve("v-7"), Some("tok-7"), None).await;
    assert_eq!(
        text,
        Err("Open Gatebell to approve: the token is used".to_owned())
    );
}

#[wasm_bindgen_test]
async fn reject_shows_rejected() {
    store_session().await;
    script_fetch(200, "{}");
    let text = answer_walkin(
        &Route::Reject {
            visit_id: "v-2".into(),
        },
        None,
        None,
    )
    .await;
    assert_eq!(text.as_deref(), Ok("Rejected"));
}

#[wasm_bindgen_test]
async fn the_outcome_is_written_in_the_words_the_push_carried() {
    store_session().await;
    script_fetch(
        200,
        r#"{"id":"v-10","visitorName":"Ravi","hostId":"u-1","hostName":"Asha","kind":"walkin",
            "status":"APPROVED","createdAt":1}"#,
    );
    let answers = PushAnswers {
        approved: "अनुमति दी — रवि अंदर आ सकते हैं".into(),
        rejected: "मना किया".into(),
    };
    let text = answer_walkin(&approve("v-10"), Some("tok-10"), Some(&answers)).await;
    assert_eq!(text.as_deref(), Ok("अनुमति दी — रवि अंदर आ सकते हैं"));
    let reject = Route::Reject {
        visit_id: "v-10".into(),
    };
    let text = answer_walkin(&reject, Some("tok-10"), Some(&answers)).await;
    assert_eq!(text.as_deref(), Ok("मना किया"));
    // A failure is still said in the app's words, not as an outcome.
    script_fetch(
        409,
        r#"{"error":{"code":"conflict","message":"already decided"}}"#,
    );
    let text = answer_walkin(&approve("v-10"), Some("tok-10"), Some(&answers)).await;
    assert_eq!(text, Err("Could not approve: already decided".to_owned()));
}

#[wasm_bindgen_test]
async fn a_refused_decision_shows_the_server_message() {
    store_session().await;
    script_fetch(
        409,
        r#"{"error":{"code":"conflict","message":"already decided"}}"#,
    );
    let text = answer_walkin(&approve("v-3"), None, None).await;
    assert_eq!(text, Err("Could not approve: already decided".to_owned()));
}

#[wasm_bindgen_test]
async fn without_a_session_the_resident_is_asked_to_sign_in() {
    let store = Store::open().await.expect("open");
    store.delete(KEY_SESSION).await.expect("delete");
    let text = answer_walkin(&approve("v-4"), None, None).await;
    assert_eq!(text, Err("Sign in to Gatebell to approve".to_owned()));
}

/// The notifications shown with `tag`, as `(title, body, tag, actions)`.
async fn shown_with_tag(tag: &str) -> Vec<(String, String, String, Vec<String>)> {
    let list =
        Function::new_with_args("tag", "return self.registration.getNotifications({ tag });")
            .call1(&JsValue::NULL, &tag.into())
            .expect("list");
    let shown = JsFuture::from(js_sys::Promise::from(list))
        .await
        .expect("notifications");
    js_sys::Array::from(&shown)
        .iter()
        .map(|n| {
            let text = |key: &str| get(&n, key).as_string().unwrap_or_default();
            let actions = js_sys::Array::from(&get(&n, "actions"))
                .iter()
                .map(|a| get(&a, "action").as_string().unwrap_or_default())
                .collect();
            (text("title"), text("body"), text("tag"), actions)
        })
        .collect()
}

fn push_event(payload: &str) -> web_sys::PushEvent {
    Function::new_with_args("data", "return new PushEvent('push', { data });")
        .call1(&JsValue::NULL, &payload.into())
        .expect("PushEvent")
        .unchecked_into()
}

const WALKIN: &str = r#"{"gatebell":1,"type":"walkin_pending","visitId":"v-5","notificationId":"n-5",
  "title":"Visitor at the gate","body":"Ravi is at the gate. Approve or reject?","tag":"visit-v-5",
  "actionToken":"tok-5",
  "actions":[{"action":"approve","title":"Approve"},{"action":"reject","title":"Reject"}]}"#;

#[wasm_bindgen_test]
async fn a_push_shows_its_notification_with_title_body_tag_and_actions() {
    JsFuture::from(handle_push(push_event(WALKIN)))
        .await
        .expect("the notification is shown");
    assert_eq!(
        shown_with_tag("visit-v-5").await,
        vec![(
            "Visitor at the gate".to_owned(),
            "Ravi is at the gate. Approve or reject?".to_owned(),
            "visit-v-5".to_owned(),
            vec!["approve".to_owned(), "reject".to_owned()],
        )]
    );
}

#[wasm_bindgen_test]
async fn a_refused_notification_rejects_with_the_notification_error() {
    // What Chromium answers a worker whose origin has no notification permission.
    Function::new_no_args(
        "self.registration.showNotification = () => Promise.reject(new TypeError(
           'No notification permission has been granted for this origin.'));",
    )
    .call0(&JsValue::NULL)
    .expect("refuse");
    let result = JsFuture::from(handle_push(push_event(
        &WALKIN.replace("visit-v-5", "visit-v-refused"),
    )))
    .await;
    Function::new_no_args("delete self.registration.showNotification;")
        .call0(&JsValue::NULL)
        .expect("restore");
    let error = result.expect_err("a refused notification is an error");
    assert_eq!(
        get(&error, "name").as_string().as_deref(),
        Some("GatebellError")
    );
    assert_eq!(
        get(&error, "code").as_string().as_deref(),
        Some("notification")
    );
    assert_eq!(
        get(&error, "message").as_string().as_deref(),
        Some("No notification permission has been granted for this origin.")
    );
    assert_eq!(shown_with_tag("visit-v-refused").await, vec![]);
}

/// A store holding only the API base (no session), with notifications on or off.
async fn store_api_base_only(notifications_disabled: bool) {
    let store = Store::open().await.expect("open");
    store.delete(KEY_SESSION).await.expect("delete");
    store
        .put_value(KEY_API_BASE, &"https://gate.example")
        .await
        .expect("put");
    let mut client = core::PushClient::new(Config::default());
    if notifications_disabled {
        client.handle(Event::NotificationsDisabled { now_ms: 1 });
    }
    store
        .put_value(KEY_STATE, client.state())
        .await
        .expect("put");
}

#[wasm_bindgen_test]
async fn an_action_token_decides_with_no_stored_session() {
    store_api_base_only(false).await;
    script_fetch(
        200,
        r#"{"id":"v-8","visitorName":"Ravi","hostId":"u-1","hostName":"Asha","kind":"walkin",
            "status":"APPROVED","createdAt":1}"#,
    );
    let text = answer_walkin(&approve("v-8"), Some("tok-8"), None).await;
    assert_eq!(text.as_deref(), Ok("Approved — Ravi may enter"));
    let last = get(&js_sys::global(), "last");
    assert_eq!(
        get(&last, "url").as_string().as_deref(),
        Some("https://gate.example/api/v1/visits/v-8/decision")
    );
    assert_eq!(get(&last, "auth"), JsValue::NULL);
}

#[wasm_bindgen_test]
async fn an_action_token_is_refused_once_notifications_are_off() {
    store_api_base_only(true).await;
    script_fetch(500, "{}");
    Function::new_no_args("delete globalThis.last;")
        .call0(&JsValue::NULL)
        .expect("forget");
    let text = answer_walkin(&approve("v-9"), Some("tok-9"), None).await;
    assert_eq!(
        text,
        Err("Notifications are off in this browser: open Gatebell to approve".to_owned())
    );
    assert_eq!(
        get(&js_sys::global(), "last"),
        JsValue::UNDEFINED,
        "no request"
    );
}

/// Shows `payload` (JSON), then taps `action` on it; resolves when the tap's handler is done.
async fn show_and_tap(payload: &str, tag: &str, action: &str) {
    JsFuture::from(handle_push(push_event(payload)))
        .await
        .expect("shown");
    let tap = Function::new_with_args(
        "tag, action",
        "return self.registration.getNotifications({ tag }).then(([notification]) =>
           new NotificationEvent('notificationclick', { notification, action }));",
    )
    .call2(&JsValue::NULL, &tag.into(), &action.into())
    .expect("tap");
    let event = JsFuture::from(js_sys::Promise::from(tap))
        .await
        .expect("the notification to tap");
    JsFuture::from(handle_notification_click(event.unchecked_into()))
        .await
        .expect("the tap is handled");
}

#[wasm_bindgen_test]
async fn a_decision_already_taken_replaces_the_notification_with_why_and_no_buttons() {
    store_session().await;
    script_fetch(
        409,
        r#"{"error":{"code":"conflict","message":"this visit was decided already: it is APPROVED by Arjun"}}"#,
    );
    let payload = WALKIN.replace("v-5", "v-10");
    show_and_tap(&payload, "visit-v-10", "approve").await;
    assert_eq!(
        shown_with_tag("visit-v-10").await,
        vec![(
            "Visitor at the gate".to_owned(),
            "Could not approve: this visit was decided already: it is APPROVED by Arjun".to_owned(),
            "visit-v-10".to_owned(),
            vec![],
        )]
    );
}

#[wasm_bindgen_test]
async fn a_decision_without_a_connection_says_so_in_place_of_the_notification() {
    store_session().await;
    Function::new_no_args(
        "globalThis.fetch = () => Promise.reject(new TypeError('Failed to fetch'));",
    )
    .call0(&JsValue::NULL)
    .expect("offline");
    let payload = WALKIN.replace("v-5", "v-11");
    show_and_tap(&payload, "visit-v-11", "reject").await;
    assert_eq!(
        shown_with_tag("visit-v-11").await,
        vec![(
            "Visitor at the gate".to_owned(),
            "No connection — open Gatebell to reject".to_owned(),
            "visit-v-11".to_owned(),
            vec![],
        )]
    );
}

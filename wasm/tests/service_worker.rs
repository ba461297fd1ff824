//! Runs inside a real service worker in headless Chromium: the worker reads the session the
//! page stored and answers a walk-in through the API, and a push never ends in a panic.

use gatebell_core::routing::Route;
use gatebell_wasm::store::{KEY_SESSION, SessionRecord, Store};
use gatebell_wasm::worker::{answer_walkin, handle_push};
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
    let text = answer_walkin(&approve("v-1"), None).await;
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
    let text = answer_walkin(&approve("v-6"), Some("tok-6")).await;
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
    let text = answer_walkin(&approve("v-7"), Some("tok-7")).await;
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
    )
    .await;
    assert_eq!(text.as_deref(), Ok("Rejected"));
}

#[wasm_bindgen_test]
async fn a_refused_decision_shows_the_server_message() {
    store_session().await;
    script_fetch(
        409,
        r#"{"error":{"code":"conflict","message":"already decided"}}"#,
    );
    let text = answer_walkin(&approve("v-3"), None).await;
    assert_eq!(text, Err("Could not approve: already decided".to_owned()));
}

#[wasm_bindgen_test]
async fn without_a_session_the_resident_is_asked_to_sign_in() {
    let store = Store::open().await.expect("open");
    store.delete(KEY_SESSION).await.expect("delete");
    let text = answer_walkin(&approve("v-4"), None).await;
    assert_eq!(text, Err("Sign in to Gatebell to approve".to_owned()));
}

#[wasm_bindgen_test]
async fn a_push_shows_a_notification_or_fails_with_a_typed_error() {
    let event = Function::new_no_args(
        "return new PushEvent('push', { data: JSON.stringify({ type: 'visitor_arrived',
           visitId: 'v-5', title: 'Ravi has checked in', body: 'At the gate', tag: 'visit-v-5' }) });",
    )
    .call0(&JsValue::NULL)
    .expect("PushEvent");
    match JsFuture::from(handle_push(event.unchecked_into())).await {
        Ok(_) => {
            let registration: web_sys::ServiceWorkerRegistration =
                get(&js_sys::global(), "registration").unchecked_into();
            let shown = JsFuture::from(registration.get_notifications().expect("list"))
                .await
                .expect("notifications");
            let titles: Vec<String> = js_sys::Array::from(&shown)
                .iter()
                .filter_map(|n| get(&n, "title").as_string())
                .collect();
            assert!(
                titles.contains(&"Ravi has checked in".to_owned()),
                "{titles:?}"
            );
        }
        // Headless Chromium may deny notifications to the test's worker.
        Err(error) => {
            assert_eq!(
                get(&error, "name").as_string().as_deref(),
                Some("GatebellError")
            );
            assert_eq!(
                get(&error, "code").as_string().as_deref(),
                Some("notification")
            );
        }
    }
}

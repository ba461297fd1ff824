//! Runs in Node (`wasm-bindgen-test-runner`): payload handling, errors, and the PushClient
//! against a scripted `fetch` (without IndexedDB the client keeps its state in memory).

use gatebell_core::protocol::{NotificationType, PushPayload};
use gatebell_wasm::worker::{fallback_payload, notification_options, parse_payload};
use gatebell_wasm::{GatebellError, PushClient, subscribe, to_js};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

const WALKIN: &str = r#"{"type":"walkin_pending","visitId":"v-1","notificationId":"n-1",
  "title":"Visitor at the gate","body":"Ravi is at the gate. Approve or reject?","tag":"visit-v-1",
  "actions":[{"action":"approve","title":"Approve"},{"action":"reject","title":"Reject"},
             {"action":"snooze","title":"Later"}]}"#;

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or_default()
}

/// Replaces the global `fetch`: records each request in `globalThis.calls` and answers
/// `globalThis.reply = { status, body }` (or fails like a network error when `reply` is
/// `"offline"`).
fn script_fetch(status: u16, body: &str) {
    let install = Function::new_with_args(
        "status, body",
        "globalThis.calls = [];
         globalThis.reply = { status, body };
         globalThis.fetch = async (req) => {
           globalThis.calls.push({ method: req.method, url: req.url,
             auth: req.headers.get('authorization'), body: await req.text() });
           if (globalThis.reply === 'offline') throw new TypeError('fetch failed');
           return new Response(globalThis.reply.body, { status: globalThis.reply.status });
         };",
    );
    install
        .call2(&JsValue::NULL, &status.into(), &body.into())
        .expect("install fetch");
}

fn calls() -> Vec<JsValue> {
    js_sys::Array::from(&get(&js_sys::global(), "calls")).to_vec()
}

fn subscription() -> JsValue {
    js_sys::JSON::parse(
        r#"{"endpoint":"https://fcm.googleapis.com/fcm/send/abc","expirationTime":null,
            "keys":{"p256dh":"BPk","auth":"c2VjcmV0"}}"#,
    )
    .expect("json")
}

async fn settle(promise: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(promise).await
}

fn client() -> PushClient {
    let options = js_sys::Object::new();
    Reflect::set(&options, &"apiBase".into(), &"http://gatebell.test/".into()).expect("set");
    PushClient::new(options.into()).expect("client")
}

#[wasm_bindgen_test]
fn walkin_payload_shows_only_approve_and_reject() {
    let payload = parse_payload(WALKIN).expect("payload");
    assert_eq!(payload.kind, NotificationType::WalkinPending);
    let options = notification_options(&payload, &payload.body);
    let actions: Vec<&str> = options.actions.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["approve", "reject"]);
    assert_eq!(options.tag, Some("visit-v-1"));

    let js = to_js(&options).expect("js");
    assert_eq!(
        get(&js, "body").as_string().as_deref(),
        Some(payload.body.as_str())
    );
    assert_eq!(
        get(&get(&js, "data"), "visitId").as_string().as_deref(),
        Some("v-1")
    );
}

#[wasm_bindgen_test]
fn arrival_payload_has_no_buttons_even_if_sent_some() {
    let mut payload = parse_payload(WALKIN).expect("payload");
    payload.kind = NotificationType::VisitorArrived;
    assert!(notification_options(&payload, "b").actions.is_empty());
}

#[wasm_bindgen_test]
fn unreadable_payloads_are_typed_errors_and_show_a_fallback() {
    for text in ["", "not json", r#"{"type":"walkin_pending"}"#] {
        let error = parse_payload(text).expect_err(text);
        assert_eq!(error.code, "invalid_payload", "{text:?}");
    }
    let fallback: PushPayload = fallback_payload();
    assert!(fallback.visit_id.is_none());
    assert!(
        notification_options(&fallback, &fallback.body)
            .actions
            .is_empty()
    );
}

#[wasm_bindgen_test]
fn errors_reach_javascript_as_gatebell_errors() {
    let mut error = GatebellError::new("conflict", "already decided");
    error.status = Some(409);
    let js: JsValue = error.into();
    assert!(js.is_instance_of::<js_sys::Error>());
    assert_eq!(
        get(&js, "name").as_string().as_deref(),
        Some("GatebellError")
    );
    assert_eq!(get(&js, "code").as_string().as_deref(), Some("conflict"));
    assert_eq!(
        get(&js, "message").as_string().as_deref(),
        Some("already decided")
    );
    assert_eq!(get(&js, "status").as_f64(), Some(409.0));
}

#[wasm_bindgen_test]
fn base64url_decodes_vapid_keys() {
    assert_eq!(
        subscribe::base64url_decode("AQID").as_deref(),
        Some(&[1u8, 2, 3][..])
    );
    assert_eq!(
        subscribe::base64url_decode("-_8").as_deref(),
        Some(&[0xfb, 0xff][..])
    );
    assert_eq!(
        subscribe::base64url_decode("AQ==").as_deref(),
        Some(&[1u8][..])
    );
    assert_eq!(subscribe::base64url_decode("A"), None);
    assert_eq!(subscribe::base64url_decode("AQ!D"), None);
}

#[wasm_bindgen_test]
fn subscription_json_without_keys_is_refused() {
    let bad = js_sys::JSON::parse(r#"{"endpoint":"https://x"}"#).expect("json");
    let error = subscribe::subscription_from_js(&bad).expect_err("no keys");
    assert_eq!(error.code, "invalid_argument");
    let good = subscribe::subscription_from_js(&subscription()).expect("subscription");
    assert_eq!(good.keys.auth, "c2VjcmV0");
}

#[wasm_bindgen_test]
fn constructor_refuses_options_without_api_base() {
    let error = PushClient::new(js_sys::Object::new().into())
        .err()
        .expect("no apiBase");
    assert_eq!(error.code, "invalid_argument");
}

#[wasm_bindgen_test]
async fn sign_in_and_subscription_register_the_device_once() {
    script_fetch(200, "{}");
    let client = client();
    let status = settle(client.sign_in("session-1".into(), "user-1".into()))
        .await
        .expect("sign in");
    assert_eq!(get(&status, "signedIn"), JsValue::TRUE);
    assert!(
        calls().is_empty(),
        "nothing to register before a subscription"
    );

    let status = settle(client.register_subscription(subscription()))
        .await
        .expect("register");
    assert_eq!(get(&status, "registered"), JsValue::TRUE);
    let sent = calls();
    assert_eq!(sent.len(), 1);
    let call = &sent[0];
    assert_eq!(get(call, "method").as_string().as_deref(), Some("POST"));
    assert_eq!(
        get(call, "url").as_string().as_deref(),
        Some("http://gatebell.test/api/v1/notifications/register-device")
    );
    assert_eq!(
        get(call, "auth").as_string().as_deref(),
        Some("Bearer session-1")
    );
    let body =
        js_sys::JSON::parse(&get(call, "body").as_string().unwrap_or_default()).expect("body");
    assert_eq!(get(&body, "platform").as_string().as_deref(), Some("web"));
    assert_eq!(
        get(&body, "token").as_string().as_deref(),
        Some("https://fcm.googleapis.com/fcm/send/abc")
    );
    assert_eq!(
        get(&get(&get(&body, "subscription"), "keys"), "p256dh")
            .as_string()
            .as_deref(),
        Some("BPk")
    );

    // The same subscription again: already registered, no request.
    settle(client.register_subscription(subscription()))
        .await
        .expect("again");
    assert_eq!(calls().len(), 1);
}

#[wasm_bindgen_test]
async fn sign_out_unregisters_with_the_old_session() {
    script_fetch(200, "{}");
    let client = client();
    settle(client.sign_in("session-2".into(), "user-2".into()))
        .await
        .expect("in");
    settle(client.register_subscription(subscription()))
        .await
        .expect("reg");
    let status = settle(client.sign_out()).await.expect("out");
    assert_eq!(get(&status, "signedIn"), JsValue::FALSE);
    assert_eq!(get(&status, "pendingUnregisters").as_f64(), Some(0.0));
    let calls = calls();
    let last = calls.last().expect("a call");
    assert_eq!(get(last, "method").as_string().as_deref(), Some("DELETE"));
    assert_eq!(
        get(last, "auth").as_string().as_deref(),
        Some("Bearer session-2")
    );
}

#[wasm_bindgen_test]
async fn network_failure_resolves_with_a_retrying_status() {
    script_fetch(200, "{}");
    Reflect::set(&js_sys::global(), &"reply".into(), &"offline".into()).expect("set");
    let client = client();
    settle(client.sign_in("session-3".into(), "user-3".into()))
        .await
        .expect("in");
    let status = settle(client.register_subscription(subscription()))
        .await
        .expect("a network error is a status, not a rejection");
    assert_eq!(get(&status, "registered"), JsValue::FALSE);
    let last_error = get(&status, "lastError");
    assert_eq!(get(&last_error, "willRetry"), JsValue::TRUE);
    assert_eq!(get(&last_error, "status"), JsValue::NULL);
}

#[wasm_bindgen_test]
async fn refused_session_ends_it_and_tells_the_page() {
    script_fetch(
        401,
        r#"{"error":{"code":"unauthorized","message":"session expired"}}"#,
    );
    let ended = Function::new_no_args("globalThis.sessionEnded = true;");
    let options = js_sys::Object::new();
    Reflect::set(&options, &"apiBase".into(), &"http://gatebell.test".into()).expect("set");
    Reflect::set(&options, &"onSessionEnded".into(), &ended).expect("set");
    let client = PushClient::new(options.into()).expect("client");
    settle(client.sign_in("session-4".into(), "user-4".into()))
        .await
        .expect("in");
    let status = settle(client.register_subscription(subscription()))
        .await
        .expect("status");
    assert_eq!(get(&status, "signedIn"), JsValue::FALSE);
    assert_eq!(get(&js_sys::global(), "sessionEnded"), JsValue::TRUE);
    assert_eq!(
        get(&get(&status, "lastError"), "code")
            .as_string()
            .as_deref(),
        Some("unauthorized")
    );
}

#[wasm_bindgen_test]
async fn invalid_subscription_rejects_with_a_gatebell_error() {
    let client = client();
    let error = settle(client.register_subscription(JsValue::from_str("nope")))
        .await
        .expect_err("rejects");
    assert_eq!(
        get(&error, "name").as_string().as_deref(),
        Some("GatebellError")
    );
    assert_eq!(
        get(&error, "code").as_string().as_deref(),
        Some("invalid_argument")
    );
}

//! Runs in headless Chromium (driven by `wasm/tests/runner.mjs`): IndexedDB storage and a
//! PushClient whose state survives a reload.

use gatebell_wasm::PushClient;
use gatebell_wasm::store::{KEY_SESSION, SessionRecord, Store};
use js_sys::{Function, Reflect};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or_default()
}

/// Every request succeeds with `{}`; `globalThis.calls` counts them.
fn script_fetch() {
    Function::new_no_args(
        "globalThis.calls = 0;
         globalThis.fetch = async () => { globalThis.calls++; return new Response('{}'); };",
    )
    .call0(&JsValue::NULL)
    .expect("install fetch");
}

fn options() -> JsValue {
    let options = js_sys::Object::new();
    Reflect::set(&options, &"apiBase".into(), &"".into()).expect("set");
    options.into()
}

#[wasm_bindgen_test]
async fn indexeddb_store_round_trips_values() {
    let store = Store::open().await.expect("open");
    assert!(store.is_indexed_db());
    let record = SessionRecord {
        api_base: "https://gate.example".into(),
        session_token: "secret".into(),
        user_id: "u-1".into(),
    };
    store.put_value("test-record", &record).await.expect("put");
    // A second connection, as the service worker would open, sees the committed value.
    let other = Store::open().await.expect("open again");
    let read: Option<SessionRecord> = other.get_value("test-record").await.expect("get");
    assert_eq!(read, Some(record));
    store.delete("test-record").await.expect("delete");
    let gone: Option<SessionRecord> = other.get_value("test-record").await.expect("get");
    assert_eq!(gone, None);
}

#[wasm_bindgen_test]
async fn client_state_survives_a_reload() {
    script_fetch();
    let subscription = js_sys::JSON::parse(
        r#"{"endpoint":"https://fcm.googleapis.com/fcm/send/reload","keys":{"p256dh":"BPk","auth":"c2VjcmV0"}}"#,
    )
    .expect("json");
    let client = PushClient::new(options()).expect("client");
    JsFuture::from(client.sign_in("session-r".into(), "user-r".into()))
        .await
        .expect("sign in");
    let status = JsFuture::from(client.register_subscription(subscription))
        .await
        .expect("register");
    assert_eq!(get(&status, "registered"), JsValue::TRUE);
    drop(client);

    // The session is stored for the service worker.
    let store = Store::open().await.expect("open");
    let session: Option<SessionRecord> = store.get_value(KEY_SESSION).await.expect("session");
    assert_eq!(
        session.map(|s| s.session_token),
        Some("session-r".to_owned())
    );

    let reloaded = PushClient::load(options()).await.expect("load");
    let status = reloaded.status().expect("status");
    assert_eq!(get(&status, "registered"), JsValue::TRUE);
    assert_eq!(
        get(&status, "userId").as_string().as_deref(),
        Some("user-r")
    );
    assert_eq!(
        get(&status, "token").as_string().as_deref(),
        Some("https://fcm.googleapis.com/fcm/send/reload")
    );
    assert_eq!(
        get(&js_sys::global(), "calls").as_f64(),
        Some(1.0),
        "no second register"
    );

    JsFuture::from(reloaded.sign_out()).await.expect("sign out");
    let session: Option<SessionRecord> = store.get_value(KEY_SESSION).await.expect("session");
    assert_eq!(session, None, "signing out removes the worker's session");
}

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

// ---------------------------------------------------------------------------------------------
// `de` and `ser` (the crate's serde bridge) against serde-wasm-bindgen, the reference they
// replace: the same values in, the same values (or the same refusals) out.

mod bridge {
    use gatebell_core::client::{
        self as core, Config, Effect, Event, HttpOutcome, PersistedState, Status,
    };
    use gatebell_core::protocol::{
        ErrorBody, Platform, PushPayload, RegisterDeviceRequest, WebPushSubscription,
    };
    use gatebell_wasm::store::{ClickRouting, SessionRecord};
    use gatebell_wasm::{de, ser};
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use std::fmt::Debug;
    use wasm_bindgen::JsValue;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn js(json: &str) -> JsValue {
        js_sys::JSON::parse(json).unwrap_or_else(|_| panic!("test JSON: {json}"))
    }

    /// Both deserialisers read `value` alike: the same `T`, or both refuse it.
    fn reads_alike<T: DeserializeOwned + PartialEq + Debug>(value: &JsValue) {
        let ours = de::from_value::<T>(value.clone());
        let reference = serde_wasm_bindgen::from_value::<T>(value.clone());
        match (&ours, &reference) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", stringify(value)),
            (Err(_), Err(_)) => {}
            _ => panic!(
                "{} as {}: ours {ours:?}, serde-wasm-bindgen {reference:?}",
                stringify(value),
                std::any::type_name::<T>()
            ),
        }
    }

    fn stringify(value: &JsValue) -> String {
        js_sys::JSON::stringify(value)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_else(|| "<not JSON>".to_owned())
    }

    /// Both serialisers write `value` alike (as `Serializer::json_compatible()`), and `to_json`
    /// is the JSON of that value.
    fn writes_alike<T: Serialize + ?Sized>(value: &T) -> JsValue {
        let ours = ser::to_value(value).expect("ours");
        let reference = value
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .expect("reference");
        assert_eq!(stringify(&ours), stringify(&reference));
        let text = ser::to_json(value).expect("json");
        assert_eq!(stringify(&js(&text)), stringify(&reference), "{text}");
        ours
    }

    /// Both ways for a value: written alike, and what is written reads back alike and equal.
    fn round_trips<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
        let written = writes_alike(value);
        reads_alike::<T>(&written);
        assert_eq!(&de::from_value::<T>(written).expect("reads back"), value);
    }

    fn subscription(endpoint: &str) -> WebPushSubscription {
        de::from_value(js(&format!(
            r#"{{"endpoint":"{endpoint}","expirationTime":null,"keys":{{"p256dh":"BPk","auth":"c2VjcmV0"}}}}"#
        )))
        .expect("subscription")
    }

    /// States and effects the core really makes: signed in, a subscription queued, a request
    /// failed and retried, signed out with an unregister pending, notifications off.
    fn core_values() -> (Vec<PersistedState>, Vec<Status>, Vec<Effect>, Vec<Event>) {
        let mut client = core::PushClient::new(Config::default());
        let mut events = vec![
            Event::SignedIn {
                now_ms: 1_000,
                session_token: "s-1 \"quoted\" \\ \n".into(),
                user_id: "u-1 ☃ 🚪".into(),
            },
            Event::TokenIssued {
                now_ms: 2_000,
                token: "https://push.example/a".into(),
                platform: Platform::Web,
                subscription: Some(subscription("https://push.example/a")),
                keys: None,
            },
        ];
        let (mut states, mut statuses, mut effects) = (Vec::new(), Vec::new(), Vec::new());
        let mut handle = |event: &Event, effects: &mut Vec<Effect>| {
            effects.extend(client.handle(event.clone()));
            states.push(client.state().clone());
            statuses.push(client.status());
        };
        for event in &events {
            handle(event, &mut effects);
        }
        // The register request fails for want of a network, and is retried later.
        let request_id = effects
            .iter()
            .find_map(|e| match e {
                Effect::Http { request } => Some(request.id),
                _ => None,
            })
            .expect("a register request");
        let later = [
            Event::HttpResponse {
                now_ms: 3_000,
                request_id,
                outcome: HttpOutcome::NetworkError {
                    message: "offline\u{1}".into(),
                },
                random: 0.3752,
            },
            Event::SigningOut { now_ms: 4_000 },
            Event::NotificationsDisabled { now_ms: 5_000 },
        ];
        for event in &later {
            handle(event, &mut effects);
        }
        events.extend(later);
        (states, statuses, effects, events)
    }

    #[wasm_bindgen_test]
    fn the_core_s_values_round_trip_as_with_serde_wasm_bindgen() {
        let (states, statuses, effects, events) = core_values();
        assert!(statuses.iter().any(|s| s.pending_unregisters > 0));
        assert!(statuses.iter().any(|s| s.last_error.is_some()));
        for state in &states {
            round_trips(state);
        }
        for status in &statuses {
            round_trips(status);
        }
        // Internally tagged enums (`Effect`, `Event`) go through `deserialize_any`; `Event`
        // holds a float.
        for effect in &effects {
            round_trips(effect);
        }
        for event in &events {
            round_trips(event);
        }
        round_trips(&ClickRouting::default());
        round_trips(&SessionRecord {
            api_base: "https://gate.example".into(),
            session_token: "t".into(),
            user_id: "u".into(),
        });
        round_trips(&RegisterDeviceRequest {
            token: "https://push.example/a".into(),
            platform: Platform::Web,
            subscription: Some(subscription("https://push.example/a")),
            keys: None,
        });
        let payload: PushPayload = de::from_value(js(super::WALKIN)).expect("payload");
        round_trips(&payload);
        // A route is only written (tagged, with `visitId`).
        writes_alike(&gatebell_core::routing::route(&payload, Some("approve")));
        writes_alike(&(
            1.5f64,
            f64::NAN,
            -0.0f64,
            9_007_199_254_740_991u64,
            'x',
            "\u{1f}",
        ));
        // Beyond a JS number's exact integers, both refuse.
        assert!(ser::to_json(&(1u64 << 53)).is_err());
        assert!(ser::to_json(&i64::MIN).is_err());
        writes_alike(&std::collections::BTreeMap::from([
            ("b", 3u8),
            ("a\"", 10u8),
        ]));
        let numbered = std::collections::BTreeMap::from([(3u8, "three")]);
        assert!(ser::to_json(&numbered).is_err());
        assert!(
            numbered
                .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
                .is_err()
        );
    }

    #[wasm_bindgen_test]
    fn odd_and_wrong_inputs_are_read_or_refused_alike() {
        for json in [
            "null",
            "true",
            "0",
            "-0",
            "1.5",
            "65535",
            "65536",
            "-1",
            "9007199254740991",
            "9007199254740993",
            "1e400",
            r#""text""#,
            "[]",
            "[1,2]",
            "{}",
            r#"{"a":1}"#,
        ] {
            let value = js(json);
            reads_alike::<u16>(&value);
            reads_alike::<i64>(&value);
            reads_alike::<u64>(&value);
            reads_alike::<f64>(&value);
            reads_alike::<bool>(&value);
            reads_alike::<String>(&value);
            reads_alike::<Option<String>>(&value);
            reads_alike::<Vec<u16>>(&value);
            reads_alike::<()>(&value);
            reads_alike::<Platform>(&value);
            reads_alike::<ErrorBody>(&value);
        }
        for json in [
            r#"{"endpoint":"https://x","keys":{"p256dh":"a","auth":"b"}}"#,
            r#"{"endpoint":"https://x","keys":{"p256dh":"a","auth":"b"},"extra":1}"#,
            r#"{"endpoint":"https://x"}"#,
            r#"{"endpoint":7,"keys":{"p256dh":"a","auth":"b"}}"#,
            r#"{"endpoint":"https://x","expirationTime":1.5,"keys":{"p256dh":"a","auth":"b"}}"#,
            r#"["https://x"]"#,
        ] {
            reads_alike::<WebPushSubscription>(&js(json));
        }
        for json in [
            r#"{"type":"persist"}"#,
            r#"{"type":"wakeAt","atMs":5}"#,
            r#"{"type":"nothing"}"#,
            r#""web""#,
            r#""android""#,
            r#""web2""#,
            r#"{"web":null}"#,
            r#"{"error":{"code":"x","message":"y"}}"#,
            r#"{"error":{"code":"x"}}"#,
        ] {
            let value = js(json);
            reads_alike::<Effect>(&value);
            reads_alike::<Platform>(&value);
            reads_alike::<ErrorBody>(&value);
        }
        // A field set to `undefined` is a missing field (an `Option` is then `None`).
        let object = js(r#"{"apiBase":"a","sessionToken":"t","userId":"u"}"#);
        js_sys::Reflect::set(&object, &"extra".into(), &JsValue::UNDEFINED).expect("set");
        reads_alike::<SessionRecord>(&object);
        js_sys::Reflect::set(&object, &"userId".into(), &JsValue::UNDEFINED).expect("set");
        reads_alike::<SessionRecord>(&object);
    }

    #[wasm_bindgen_test]
    fn a_wrong_type_is_named_without_printing_floats() {
        let error = de::from_value::<u16>(JsValue::from_f64(1.5)).expect_err("float");
        assert_eq!(
            error.to_string(),
            "invalid type: a number that is not a safe integer, expected u16"
        );
        let error = de::from_value::<u16>(JsValue::from_f64(70000.0)).expect_err("range");
        assert_eq!(
            error.to_string(),
            "invalid value: integer `70000`, expected u16"
        );
        let error = de::from_value::<bool>(JsValue::from_str("yes")).expect_err("string");
        assert_eq!(
            error.to_string(),
            "invalid type: string \"yes\", expected a boolean"
        );
    }
}

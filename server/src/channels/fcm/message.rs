//! FCM v1 messages: what Android and iOS get for each kind of notification, in clear or
//! encrypted to the device's keys.

use base64::Engine;
use gatebell_core::protocol::{
    ANDROID_CHANNEL_ID, ENCRYPTED_DATA_KEY, IOS_WALKIN_CATEGORY, NotificationType, Platform,
    PushPayload,
};
use serde_json::{Value, json};

/// What iOS shows for an encrypted payload until the app's notification service extension
/// replaces it with the decrypted text.
pub const IOS_GENERIC_TITLE: &str = "Gatebell";
pub const IOS_GENERIC_BODY: &str = "A visitor is at the gate";

/// The payload's JSON encrypted to a device's keys (RFC 8291 `aes128gcm`, the Web Push code),
/// base64url without padding: the value of `data.encrypted`.
pub fn encrypt_payload(p256dh: &str, auth: &str, payload: &PushPayload) -> Result<String, String> {
    let json = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
    let body = crate::channels::webpush::encrypt(p256dh, auth, &json)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body))
}

/// The FCM v1 message for one device, shaped for its platform so the app can draw Approve /
/// Reject (see docs/FCM.md for why each field is there):
///
/// - Android walk-in: a high-priority **data-only** message. With a `notification` block
///   Android would show it by itself, without buttons, whenever the app is in the background;
///   data-only, it wakes React Native Firebase's background handler, which shows it through
///   notifee with the actions on channel [`ANDROID_CHANNEL_ID`]. The text travels in `data`.
/// - iOS walk-in: an APNs alert (a data-only message is a silent push iOS throttles and may
///   never deliver) with `aps.category` [`IOS_WALKIN_CATEGORY`], whose Approve / Reject actions
///   the app registered; the `data` keys ride beside `aps` for the tap.
/// - Its outcome (`walkin_resolved`, same tag) follows the walk-in: data-only on Android, so
///   the app replaces its own notification; an alert with the same `apns-collapse-id` on iOS.
/// - A check-in (`visitor_arrived`) and anything else is a plain visible notification on both
///   (Android: channel [`ANDROID_CHANNEL_ID`]).
///
/// With `encrypted` (the payload encrypted to the device's keys, see [`encrypt_payload`]) no
/// text of the payload travels in clear: `data` holds only [`ENCRYPTED_DATA_KEY`]; Android gets
/// every kind data-only (the app decrypts and draws it); iOS gets a generic alert with
/// `mutable-content: 1`, which a notification service extension replaces with the decrypted
/// text (the category stays, so the buttons do too).
pub fn message(
    token: &str,
    platform: Platform,
    p: &PushPayload,
    ttl_secs: u64,
    now_ms: i64,
    encrypted: Option<&str>,
) -> Value {
    if let Some(e) = encrypted {
        return encrypted_message(token, platform, p, ttl_secs, now_ms, e);
    }
    let mut data: serde_json::Map<String, Value> = p
        .data_pairs()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect();
    let actionable = p.kind == NotificationType::WalkinPending && !p.actions.is_empty();
    // On Android the app draws a walk-in, and so must draw its outcome: only a notification the
    // app posted under the same id (the tag) replaces it.
    let app_drawn = actionable || p.kind == NotificationType::WalkinResolved;
    let mut message = json!({ "token": token });
    match platform {
        Platform::Ios => {
            let mut headers = json!({
                "apns-priority": "10",
                "apns-push-type": "alert",
                "apns-expiration": (now_ms / 1000 + ttl_secs as i64).to_string(),
            });
            if let Some(tag) = &p.tag {
                headers["apns-collapse-id"] = json!(tag);
            }
            let mut aps = json!({ "sound": "default" });
            if actionable {
                aps["category"] = json!(IOS_WALKIN_CATEGORY);
            }
            message["notification"] = json!({ "title": p.title, "body": p.body });
            message["apns"] = json!({ "headers": headers, "payload": { "aps": aps } });
        }
        Platform::Android | Platform::Web => {
            let mut android = json!({ "priority": "high", "ttl": format!("{ttl_secs}s") });
            if let Some(tag) = &p.tag {
                android["collapse_key"] = json!(tag);
            }
            if app_drawn {
                data.insert("title".into(), json!(p.title));
                data.insert("body".into(), json!(p.body));
            } else {
                let mut notification = json!({
                    "channel_id": ANDROID_CHANNEL_ID,
                    "default_sound": true,
                });
                if let Some(tag) = &p.tag {
                    notification["tag"] = json!(tag);
                }
                message["notification"] = json!({ "title": p.title, "body": p.body });
                android["notification"] = notification;
            }
            message["android"] = android;
        }
    }
    message["data"] = Value::Object(data);
    json!({ "message": message })
}

/// See [`message`]: the same headers and collapsing, without a word of the payload.
fn encrypted_message(
    token: &str,
    platform: Platform,
    p: &PushPayload,
    ttl_secs: u64,
    now_ms: i64,
    encrypted: &str,
) -> Value {
    let mut message = json!({ "token": token, "data": { ENCRYPTED_DATA_KEY: encrypted } });
    match platform {
        Platform::Ios => {
            let mut headers = json!({
                "apns-priority": "10",
                "apns-push-type": "alert",
                "apns-expiration": (now_ms / 1000 + ttl_secs as i64).to_string(),
            });
            if let Some(tag) = &p.tag {
                headers["apns-collapse-id"] = json!(tag);
            }
            let mut aps = json!({ "sound": "default", "mutable-content": 1 });
            if p.kind == NotificationType::WalkinPending && !p.actions.is_empty() {
                aps["category"] = json!(IOS_WALKIN_CATEGORY);
            }
            message["notification"] =
                json!({ "title": IOS_GENERIC_TITLE, "body": IOS_GENERIC_BODY });
            message["apns"] = json!({ "headers": headers, "payload": { "aps": aps } });
        }
        Platform::Android | Platform::Web => {
            let mut android = json!({ "priority": "high", "ttl": format!("{ttl_secs}s") });
            if let Some(tag) = &p.tag {
                android["collapse_key"] = json!(tag);
            }
            message["android"] = android;
        }
    }
    json!({ "message": message })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walkin() -> PushPayload {
        PushPayload::new(
            NotificationType::WalkinPending,
            Some("n1".into()),
            Some("v1".into()),
            "Visitor at the gate".into(),
            "Ravi is at the gate".into(),
        )
    }

    fn arrival() -> PushPayload {
        PushPayload::new(
            NotificationType::VisitorArrived,
            Some("n2".into()),
            Some("v2".into()),
            "Visitor checked in".into(),
            "Meera has checked in.".into(),
        )
    }

    fn keys(v: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn android_walkin_is_a_high_priority_data_only_message_the_app_draws() {
        let p = walkin().with_action_token(Some("t".repeat(43)));
        let m = message("tok", Platform::Android, &p, 180, 1_000_000, None);
        let msg = &m["message"];
        // No notification block anywhere: Android would show it without buttons by itself.
        assert_eq!(keys(msg), ["android", "data", "token"]);
        assert_eq!(msg["token"], "tok");
        assert_eq!(
            msg["android"],
            json!({ "priority": "high", "ttl": "180s", "collapse_key": "visit-v1" })
        );
        assert_eq!(
            msg["data"],
            json!({
                "type": "walkin_pending",
                "visitId": "v1",
                "notificationId": "n1",
                "actionToken": "t".repeat(43),
                "title": "Visitor at the gate",
                "body": "Ravi is at the gate",
            })
        );
    }

    #[test]
    fn ios_walkin_is_an_alert_with_the_walkin_category() {
        let p = walkin().with_action_token(Some("t".repeat(43)));
        let m = message("tok", Platform::Ios, &p, 180, 1_000_000, None);
        let msg = &m["message"];
        assert_eq!(keys(msg), ["apns", "data", "notification", "token"]);
        assert_eq!(
            msg["notification"],
            json!({ "title": "Visitor at the gate", "body": "Ravi is at the gate" })
        );
        assert_eq!(
            msg["apns"],
            json!({
                "headers": {
                    "apns-priority": "10",
                    "apns-push-type": "alert",
                    "apns-expiration": "1180",
                    "apns-collapse-id": "visit-v1",
                },
                "payload": { "aps": { "sound": "default", "category": "WALKIN_PENDING" } },
            })
        );
        // The tap and the buttons route with the data keys, which APNs carries beside aps.
        assert_eq!(msg["data"]["type"], "walkin_pending");
        assert_eq!(msg["data"]["visitId"], "v1");
        assert_eq!(msg["data"]["actionToken"], "t".repeat(43));
        assert!(msg["data"].get("title").is_none());
    }

    #[test]
    fn checkin_is_a_plain_visible_notification_on_both_platforms() {
        let m = message("tok", Platform::Android, &arrival(), 3600, 0, None);
        let msg = &m["message"];
        assert_eq!(keys(msg), ["android", "data", "notification", "token"]);
        assert_eq!(
            msg["notification"],
            json!({ "title": "Visitor checked in", "body": "Meera has checked in." })
        );
        assert_eq!(
            msg["android"],
            json!({
                "priority": "high",
                "ttl": "3600s",
                "collapse_key": "visit-v2",
                "notification": { "channel_id": "visitors", "default_sound": true, "tag": "visit-v2" },
            })
        );
        assert_eq!(
            msg["data"],
            json!({ "type": "visitor_arrived", "visitId": "v2", "notificationId": "n2" })
        );

        let m = message("tok", Platform::Ios, &arrival(), 3600, 0, None);
        let msg = &m["message"];
        assert_eq!(keys(msg), ["apns", "data", "notification", "token"]);
        assert_eq!(
            msg["apns"]["payload"],
            json!({ "aps": { "sound": "default" } })
        );
        assert_eq!(msg["notification"]["body"], "Meera has checked in.");
    }

    #[test]
    fn a_walkins_outcome_replaces_it_the_way_it_was_drawn() {
        let resolved = PushPayload::new(
            NotificationType::WalkinResolved,
            None,
            Some("v1".into()),
            "Visitor at the gate".into(),
            "Approved by Asha".into(),
        );
        let m = message("tok", Platform::Android, &resolved, 180, 0, None);
        assert_eq!(keys(&m["message"]), ["android", "data", "token"]);
        assert_eq!(m["message"]["data"]["body"], "Approved by Asha");
        assert_eq!(m["message"]["android"]["collapse_key"], "visit-v1");
        let m = message("tok", Platform::Ios, &resolved, 180, 0, None);
        assert_eq!(
            m["message"]["apns"]["headers"]["apns-collapse-id"],
            "visit-v1"
        );
        assert!(
            m["message"]["apns"]["payload"]["aps"]
                .get("category")
                .is_none()
        );
    }

    #[test]
    fn every_data_value_is_a_string() {
        for platform in [Platform::Android, Platform::Ios] {
            for p in [walkin().with_action_token(Some("x".into())), arrival()] {
                let m = message("tok", platform, &p, 60, 0, None);
                assert!(
                    m["message"]["data"]
                        .as_object()
                        .unwrap()
                        .values()
                        .all(Value::is_string)
                );
            }
        }
    }

    #[test]
    fn with_keys_no_text_of_the_payload_travels_in_clear() {
        let ua = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let p256dh = b64.encode(ua.public_key().to_sec1_bytes());
        let auth = b64.encode([7u8; 16]);
        let p = walkin().with_action_token(Some("t".repeat(43)));
        let e = encrypt_payload(&p256dh, &auth, &p).unwrap();
        let m = message("tok", Platform::Android, &p, 180, 0, Some(&e));
        assert_eq!(keys(&m["message"]), ["android", "data", "token"]);
        assert_eq!(m["message"]["data"], json!({ "encrypted": e }));
        let m = message("tok", Platform::Ios, &p, 180, 0, Some(&e));
        assert_eq!(
            m["message"]["notification"],
            json!({ "title": "Gatebell", "body": "A visitor is at the gate" })
        );
        assert_eq!(
            m["message"]["apns"]["payload"]["aps"],
            json!({ "sound": "default", "mutable-content": 1, "category": "WALKIN_PENDING" })
        );
        assert_eq!(m["message"]["data"], json!({ "encrypted": e }));
        for platform in [Platform::Android, Platform::Ios] {
            let text = message("tok", platform, &p, 180, 0, Some(&e)).to_string();
            assert!(!text.contains("Ravi") && !text.contains(&"t".repeat(43)));
        }
    }
}

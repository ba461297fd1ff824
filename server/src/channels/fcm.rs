//! FCM HTTP v1: `POST {endpoint}/v1/projects/{project}/messages:send` with an OAuth2 token made
//! from a service-account key (`gcp_auth`, cached per scope), over HTTP/2.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use gatebell_core::protocol::{
    ANDROID_CHANNEL_ID, ENCRYPTED_DATA_KEY, IOS_WALKIN_CATEGORY, NotificationType, Platform,
    PushPayload,
};
use gcp_auth::TokenProvider;
use serde_json::{Value, json};

use crate::channels::SendOutcome;

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// HTTP/2 allows about 100 streams a connection; several connections spread a burst.
const CONNECTIONS: usize = 4;
/// What iOS shows for an encrypted payload until the app's notification service extension
/// replaces it with the decrypted text.
pub const IOS_GENERIC_TITLE: &str = "Gatebell";
pub const IOS_GENERIC_BODY: &str = "A visitor is at the gate";
/// Longest wait for an OAuth access token.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends to Android and iOS devices through FCM.
pub struct FcmSender {
    clients: Vec<reqwest::Client>,
    next: AtomicUsize,
    url: String,
    auth: Arc<gcp_auth::CustomServiceAccount>,
    /// One token request at a time: `gcp_auth` caches the token, but sends that start together
    /// before it is cached would each fetch one (the token endpoint saw a burst at start-up).
    token_lock: tokio::sync::Mutex<()>,
}

impl FcmSender {
    /// From the service-account key JSON (its `token_uri` names the OAuth endpoint) and the
    /// FCM base URL.
    pub fn new(endpoint: &str, credentials_json: &str) -> anyhow::Result<FcmSender> {
        let key: Value = serde_json::from_str(credentials_json)
            .map_err(|e| anyhow::anyhow!("the FCM credentials are not JSON: {e}"))?;
        let project = key["project_id"]
            .as_str()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| anyhow::anyhow!("the FCM credentials have no project_id"))?;
        let auth = gcp_auth::CustomServiceAccount::from_json(credentials_json).map_err(|e| {
            anyhow::anyhow!("the FCM credentials are not a service-account key: {e}")
        })?;
        let plain_http = endpoint.starts_with("http://");
        let clients = (0..CONNECTIONS)
            .map(|_| {
                // A redirect from FCM would only ever be a misconfiguration: never follow it.
                let b = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(10))
                    .connect_timeout(Duration::from_secs(5))
                    .pool_idle_timeout(Duration::from_secs(90));
                // https negotiates HTTP/2 by ALPN; a plain-http endpoint (a local fake) is
                // spoken to as h2c.
                let b = if plain_http {
                    b.http2_prior_knowledge()
                } else {
                    b
                };
                b.build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FcmSender {
            clients,
            next: AtomicUsize::new(0),
            url: format!(
                "{}/v1/projects/{project}/messages:send",
                endpoint.trim_end_matches('/')
            ),
            auth: Arc::new(auth),
            token_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Sends one message; with the device's `keys` (`p256dh`, `auth`), encrypted to it.
    pub async fn send(
        &self,
        token: &str,
        platform: Platform,
        keys: Option<(&str, &str)>,
        payload: &PushPayload,
        ttl_secs: u64,
        now_ms: i64,
    ) -> SendOutcome {
        let encrypted = match keys.map(|(p256dh, auth)| encrypt_payload(p256dh, auth, payload)) {
            None => None,
            Some(Ok(e)) => Some(e),
            Some(Err(error)) => {
                return SendOutcome::Failed {
                    status: None,
                    error,
                };
            }
        };
        // A token endpoint that hangs must not hold a send slot: bounded, and retried later.
        let fetch = async {
            let _one_at_a_time = self.token_lock.lock().await;
            self.auth.token(&[SCOPE]).await
        };
        let access = match tokio::time::timeout(TOKEN_TIMEOUT, fetch).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                return SendOutcome::Retry {
                    status: None,
                    error: format!("OAuth token: {e}"),
                    retry_after_ms: None,
                };
            }
            Err(_) => {
                return SendOutcome::Retry {
                    status: None,
                    error: format!("OAuth token: no answer within {TOKEN_TIMEOUT:?}"),
                    retry_after_ms: None,
                };
            }
        };
        let body = message(
            token,
            platform,
            payload,
            ttl_secs,
            now_ms,
            encrypted.as_deref(),
        );
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        let resp = self.clients[i]
            .post(&self.url)
            .bearer_auth(access.as_str())
            .json(&body)
            .send()
            .await;
        match resp {
            Err(e) => SendOutcome::Retry {
                status: None,
                error: format!("FCM unreachable: {e}"),
                retry_after_ms: None,
            },
            Ok(r) => {
                let status = r.status().as_u16();
                let retry_after = crate::channels::retry_after_ms(r.headers());
                let text = r.text().await.unwrap_or_default();
                classify(status, retry_after, &text)
            }
        }
    }
}

/// The payload's JSON encrypted to a device's keys (RFC 8291 `aes128gcm`, the Web Push code),
/// base64url without padding: the value of `data.encrypted`.
pub fn encrypt_payload(p256dh: &str, auth: &str, payload: &PushPayload) -> Result<String, String> {
    let json = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
    let body = super::webpush::encrypt(p256dh, auth, &json)?;
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

/// What an FCM answer means for the device and the message.
pub fn classify(status: u16, retry_after_ms: Option<i64>, body: &str) -> SendOutcome {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let message = parsed["error"]["message"].as_str().unwrap_or("").to_owned();
    let code = parsed["error"]["details"]
        .as_array()
        .and_then(|ds| ds.iter().find_map(|d| d["errorCode"].as_str()))
        .or_else(|| parsed["error"]["status"].as_str())
        .unwrap_or("")
        .to_owned();
    let error = format!("{code}: {message}");
    match status {
        200..=299 => SendOutcome::Delivered { status },
        // Only UNREGISTERED proves the token dead: a bare 404 NOT_FOUND is also what a wrong
        // project id gets, and pruning on it would wipe every FCM device of a misconfiguration.
        404 if code == "UNREGISTERED" => SendOutcome::Prune { status, error },
        403 if code == "SENDER_ID_MISMATCH" => SendOutcome::Prune { status, error },
        // INVALID_ARGUMENT names the token when the token is the problem; any other invalid
        // argument is our message's fault and is not retried.
        400 if code == "INVALID_ARGUMENT" && message.to_ascii_lowercase().contains("token") => {
            SendOutcome::Prune { status, error }
        }
        429 | 500..=599 => SendOutcome::Retry {
            status: Some(status),
            error,
            retry_after_ms,
        },
        // An expired or revoked access token: gcp_auth fetches a new one next time.
        401 => SendOutcome::Retry {
            status: Some(status),
            error,
            retry_after_ms,
        },
        _ => SendOutcome::Failed {
            status: Some(status),
            error,
        },
    }
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

    #[test]
    fn answers_are_classified_as_google_documents_them() {
        let unreg = r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
        assert!(matches!(
            classify(404, None, unreg),
            SendOutcome::Prune { .. }
        ));
        let bad_token = r#"{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT","details":[{"errorCode":"INVALID_ARGUMENT"}]}}"#;
        assert!(matches!(
            classify(400, None, bad_token),
            SendOutcome::Prune { .. }
        ));
        let bad_msg = r#"{"error":{"code":400,"message":"Invalid value at 'message.data'","status":"INVALID_ARGUMENT"}}"#;
        assert!(matches!(
            classify(400, None, bad_msg),
            SendOutcome::Failed { .. }
        ));
        let mismatch = r#"{"error":{"code":403,"status":"PERMISSION_DENIED","details":[{"errorCode":"SENDER_ID_MISMATCH"}]}}"#;
        assert!(matches!(
            classify(403, None, mismatch),
            SendOutcome::Prune { .. }
        ));
        assert!(matches!(
            classify(429, Some(2000), "{}"),
            SendOutcome::Retry {
                retry_after_ms: Some(2000),
                ..
            }
        ));
        // A wrong project id answers a bare NOT_FOUND: the device is not to blame.
        let wrong_project = r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}"#;
        assert!(matches!(
            classify(404, None, wrong_project),
            SendOutcome::Failed { .. }
        ));
        assert!(matches!(
            classify(503, None, "oops"),
            SendOutcome::Retry { .. }
        ));
        assert!(matches!(
            classify(200, None, "{}"),
            SendOutcome::Delivered { status: 200 }
        ));
    }
}

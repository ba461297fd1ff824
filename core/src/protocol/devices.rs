//! Devices that receive pushes: registering an FCM/APNs token or a Web Push subscription.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(doc)]
use super::ENCRYPTED_DATA_KEY;
use super::{from_wire_name, wire_name};

/// Where a device token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Android,
    Ios,
    Web,
}

impl Platform {
    /// The lowercase name used in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        wire_name(&self)
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Option<Platform> {
        from_wire_name(s)
    }
}

/// The keys of a Web Push subscription, base64url as `PushSubscription.toJSON()` gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WebPushKeys {
    /// The browser's P-256 public key (65 bytes uncompressed).
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, pattern = "^[A-Za-z0-9_-]+=*$")
    )]
    pub p256dh: String,
    /// The 16-byte authentication secret.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, pattern = "^[A-Za-z0-9_-]+=*$")
    )]
    pub auth: String,
}

/// A browser's `PushSubscription.toJSON()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct WebPushSubscription {
    /// An `https` URL of an allowed push service.
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<i64>,
    pub keys: WebPushKeys,
}

/// `POST /notifications/register-device`: upsert by token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct RegisterDeviceRequest {
    /// The FCM/APNs token, or for the web a stable id of the subscription (its endpoint).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub token: String,
    pub platform: Platform,
    /// Required when `platform` is `web`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<WebPushSubscription>,
    /// `android` and `ios` only, optional: the app's P-256 public key and auth secret. With
    /// them the server encrypts every FCM payload to the device (RFC 8291 `aes128gcm`, as Web
    /// Push does) into the `data` key [`ENCRYPTED_DATA_KEY`], so FCM sees no visitor names;
    /// without them the payload travels in clear text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<WebPushKeys>,
}

/// `POST /notifications/unregister-device` (or `DELETE /notifications/register-device`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct UnregisterDeviceRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub token: String,
}

/// A registered device as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: String,
    pub token: String,
    pub platform: Platform,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_seen_at: i64,
}

/// `GET /notifications/vapid-public-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VapidPublicKey {
    /// Uncompressed P-256 point, base64url without padding: `applicationServerKey`.
    pub public_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_request_uses_wire_names_and_rejects_unknown_fields() {
        let r: RegisterDeviceRequest = serde_json::from_str(
            r#"{"token":"t","platform":"web","subscription":{"endpoint":"https://x","expirationTime":null,"keys":{"p256dh":"a","auth":"b"}}}"#,
        )
        .unwrap();
        assert_eq!(r.platform, Platform::Web);
        assert!(
            serde_json::from_str::<RegisterDeviceRequest>(
                r#"{"token":"t","platform":"ios","extra":1}"#
            )
            .is_err()
        );
    }
}

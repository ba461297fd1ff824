//! FCM HTTP v1: `POST {endpoint}/v1/projects/{project}/messages:send` with an OAuth2 token made
//! from a service-account key (`gcp_auth`, cached per scope), over HTTP/2.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gatebell_core::protocol::{Platform, PushPayload};
use gcp_auth::TokenProvider;
use serde_json::Value;

use crate::channels::SendOutcome;

mod message;

pub use message::{IOS_GENERIC_BODY, IOS_GENERIC_TITLE, encrypt_payload, message};

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// HTTP/2 allows about 100 streams a connection; several connections spread a burst.
const CONNECTIONS: usize = 4;
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

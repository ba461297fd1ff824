//! Web Push: RFC 8291 `aes128gcm` payloads ([`super::ece`], on `ring`) and RFC 8292 VAPID
//! (signed with the `web-push` crate), sent with `reqwest`, so the push service's status and
//! `Retry-After` stay visible.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use web_push::{PartialVapidSignatureBuilder, SubscriptionInfo, VapidSignatureBuilder};

use crate::channels::SendOutcome;
use crate::config::AllowList;

/// A VAPID JWT lives 12 hours; it is reused for 11, well under the 24-hour limit.
const VAPID_LIFETIME: Duration = Duration::from_secs(12 * 3600);
const VAPID_REUSE: Duration = Duration::from_secs(11 * 3600);

/// A VAPID key pair, base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VapidKeys {
    /// The raw P-256 private scalar.
    pub private_key: String,
    /// The uncompressed public point (`applicationServerKey`).
    pub public_key: String,
}

impl VapidKeys {
    /// A fresh pair.
    pub fn generate() -> VapidKeys {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        VapidKeys {
            private_key: b64.encode(secret.to_bytes()),
            public_key: b64.encode(secret.public_key().to_sec1_bytes()),
        }
    }

    /// The pair of a private key.
    pub fn from_private(private_key: &str) -> anyhow::Result<VapidKeys> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let bytes = b64
            .decode(private_key.trim().trim_end_matches('='))
            .map_err(|_| anyhow::anyhow!("the VAPID private key is not base64url"))?;
        let secret = p256::SecretKey::from_slice(&bytes)
            .map_err(|_| anyhow::anyhow!("the VAPID private key is not a P-256 scalar"))?;
        Ok(VapidKeys {
            private_key: b64.encode(secret.to_bytes()),
            public_key: b64.encode(secret.public_key().to_sec1_bytes()),
        })
    }
}

/// Encrypts `plaintext` to a P-256 public key and auth secret (base64url) as one RFC 8291
/// `aes128gcm` body: what Web Push sends, and what FCM carries for a device that registered
/// keys.
pub fn encrypt(p256dh: &str, auth: &str, plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let keys = super::ece::ReceiverKeys::from_base64(p256dh, auth)?;
    super::ece::encrypt(&keys, plaintext).map_err(|e| format!("could not encrypt: {e}"))
}

/// What a Web Push target needs.
pub struct WebTarget<'a> {
    pub endpoint: &'a str,
    pub p256dh: &'a str,
    pub auth: &'a str,
}

/// One VAPID key pair's signer, with the Authorization header per push-service origin and
/// when it was made.
struct Signer {
    builder: PartialVapidSignatureBuilder,
    cache: Mutex<HashMap<String, (String, Instant)>>,
}

impl Signer {
    fn new(private_key: &str) -> anyhow::Result<Signer> {
        Ok(Signer {
            builder: VapidSignatureBuilder::from_base64_no_sub(private_key)
                .map_err(|e| anyhow::anyhow!("bad VAPID key: {e}"))?,
            cache: Mutex::new(HashMap::new()),
        })
    }
}

/// Sends to browsers.
pub struct WebPushSender {
    client: reqwest::Client,
    signer: Signer,
    /// The key before a rotation (`--vapid-previous-private-key`), for the subscriptions made
    /// with it that have not re-subscribed yet.
    previous: Option<Signer>,
    subject: String,
    allow: AllowList,
}

impl WebPushSender {
    /// A sender signing with `keys`, identifying itself as `subject` (mailto: or https:).
    pub fn new(keys: &VapidKeys, subject: &str, allow: AllowList) -> anyhow::Result<WebPushSender> {
        Ok(WebPushSender {
            // Endpoints come from users: no redirects, public addresses only.
            client: crate::channels::egress::client_builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .build()?,
            signer: Signer::new(&keys.private_key)?,
            previous: None,
            subject: subject.to_owned(),
            allow,
        })
    }

    /// Keeps signing with the key before a rotation for subscriptions made with it: a push
    /// the service refuses (403) under the current key is sent again under this one.
    pub fn with_previous_key(mut self, keys: Option<&VapidKeys>) -> anyhow::Result<WebPushSender> {
        self.previous = keys.map(|k| Signer::new(&k.private_key)).transpose()?;
        Ok(self)
    }

    fn vapid_header(
        &self,
        signer: &Signer,
        origin: &str,
        sub: &SubscriptionInfo,
    ) -> Result<String, String> {
        let mut cache = signer.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((h, made)) = cache.get(origin)
            && made.elapsed() < VAPID_REUSE
        {
            return Ok(h.clone());
        }
        let mut b = signer.builder.clone().add_sub_info(sub);
        // The audience is the full origin, port included (RFC 8292 §2); web-push would drop it.
        b.add_claim("aud", origin);
        b.add_claim("sub", self.subject.as_str());
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            + VAPID_LIFETIME;
        b.add_claim("exp", exp.as_secs());
        let sig = b
            .build()
            .map_err(|e| format!("VAPID signing failed: {e}"))?;
        let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sig.auth_k);
        let header = format!("vapid t={}, k={k}", sig.auth_t);
        cache.insert(origin.to_owned(), (header.clone(), Instant::now()));
        Ok(header)
    }

    /// Encrypts and sends one message. `topic` replaces an undelivered older message.
    pub async fn send(
        &self,
        target: &WebTarget<'_>,
        plaintext: &[u8],
        ttl_secs: u32,
        topic: Option<&str>,
    ) -> SendOutcome {
        // Checked again at send time: the allow-list may have shrunk since registration.
        let url = match self.allow.check(target.endpoint) {
            Ok(u) => u,
            Err(e) => {
                return SendOutcome::Prune {
                    status: 0,
                    error: format!("endpoint refused: {e}"),
                };
            }
        };
        let origin = url.origin().ascii_serialization();
        let sub = SubscriptionInfo::new(target.endpoint, target.p256dh, target.auth);
        let body = match encrypt(target.p256dh, target.auth, plaintext) {
            Ok(b) => b,
            Err(error) => {
                return SendOutcome::Failed {
                    status: None,
                    error,
                };
            }
        };
        let signers = std::iter::once(&self.signer).chain(self.previous.as_ref());
        let mut outcome = SendOutcome::Failed {
            status: None,
            error: "no VAPID key".into(),
        };
        for signer in signers {
            let auth = match self.vapid_header(signer, &origin, &sub) {
                Ok(h) => h,
                Err(e) => {
                    return SendOutcome::Failed {
                        status: None,
                        error: e,
                    };
                }
            };
            let mut req = self
                .client
                .post(url.clone())
                .header("TTL", ttl_secs.to_string())
                .header("Urgency", "high")
                .header("Content-Encoding", "aes128gcm")
                .header("Content-Type", "application/octet-stream")
                .header("Authorization", auth);
            if let Some(t) = topic {
                req = req.header("Topic", t);
            }
            outcome = match req.body(body.clone()).send().await {
                Err(e) => SendOutcome::Retry {
                    status: None,
                    error: format!(
                        "push service unreachable: {}",
                        crate::channels::egress::chain(&e)
                    ),
                    retry_after_ms: None,
                },
                Ok(r) => {
                    let status = r.status().as_u16();
                    let retry_after = crate::channels::retry_after_ms(r.headers());
                    let text = r.text().await.unwrap_or_default();
                    classify(status, retry_after, &text)
                }
            };
            // Only a refused key is worth the previous one.
            if !matches!(outcome, SendOutcome::Prune { status: 403, .. }) {
                break;
            }
        }
        outcome
    }
}

/// What a push service's answer means.
pub fn classify(status: u16, retry_after_ms: Option<i64>, body: &str) -> SendOutcome {
    let error: String = body.chars().take(200).collect();
    match status {
        200..=299 => SendOutcome::Delivered { status },
        404 | 410 => SendOutcome::Prune { status, error },
        // The subscription was made with another VAPID key (a rotation it never followed): no
        // retry will pass. A key misconfigured for every device trips the prune breaker
        // instead of emptying the device table.
        403 => SendOutcome::Prune {
            status,
            error: format!("the push service refused the VAPID key for this subscription: {error}"),
        },
        300..=399 => SendOutcome::Failed {
            status: Some(status),
            error: format!("the push service answered {status}; redirects are not followed"),
        },
        429 | 500..=599 => SendOutcome::Retry {
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

/// The `Topic` of a visit's pushes: at most 32 base64url characters, so the UUID without dashes.
pub fn topic_for_visit(visit_id: &str) -> Option<String> {
    let t: String = visit_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect();
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_the_private_key() {
        let k = VapidKeys::generate();
        assert_eq!(VapidKeys::from_private(&k.private_key).unwrap(), k);
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&k.public_key)
                .unwrap()
                .len(),
            65
        );
        assert!(VapidKeys::from_private("not-a-key").is_err());
    }

    #[test]
    fn push_service_answers_are_classified() {
        assert!(matches!(
            classify(201, None, ""),
            SendOutcome::Delivered { status: 201 }
        ));
        assert!(matches!(classify(410, None, ""), SendOutcome::Prune { .. }));
        assert!(matches!(classify(404, None, ""), SendOutcome::Prune { .. }));
        assert!(matches!(
            classify(503, Some(2000), ""),
            SendOutcome::Retry {
                retry_after_ms: Some(2000),
                ..
            }
        ));
        assert!(matches!(classify(429, None, ""), SendOutcome::Retry { .. }));
        assert!(matches!(
            classify(413, None, ""),
            SendOutcome::Failed { .. }
        ));
        assert!(matches!(
            classify(403, None, ""),
            SendOutcome::Prune { status: 403, .. }
        ));
    }

    #[test]
    fn topics_fit_the_32_character_limit() {
        let t = topic_for_visit("0192f1a2-3b4c-7d5e-8f60-718293a4b5c6").unwrap();
        assert_eq!(t.len(), 32);
        assert!(topic_for_visit("---").is_none());
    }
}

//! End-to-end encrypted FCM payloads: the app makes a key pair, registers its public half with
//! its token, and the server encrypts every payload to it (RFC 8291 `aes128gcm` over RFC 8188,
//! as Web Push does), so FCM and APNs carry no visitor names. The same Rust decrypts on
//! Android, iOS (the app and its notification service extension) and in Node.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatebell_core::protocol::{ENCRYPTED_DATA_KEY, PushPayload};
use hkdf::Hkdf;
use p256::elliptic_curve::Generate;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

use crate::GatebellError;

/// Salt (16) + record size (4) + key id length (1).
const HEADER_LEN: usize = 21;
const TAG_LEN: usize = 16;
/// The sender's uncompressed P-256 point, the only key id RFC 8291 allows.
const KEY_ID_LEN: usize = 65;

/// The app's key pair for encrypted pushes, base64url without padding. Keep `private_key` in
/// secure storage; register `p256dh` and `auth` with the token (`tokenIssued`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PushKeys {
    /// The P-256 private scalar (32 bytes).
    pub private_key: String,
    /// The uncompressed public point (65 bytes).
    pub p256dh: String,
    /// The 16-byte authentication secret.
    pub auth: String,
}

/// A fresh key pair and auth secret, made once per installation.
#[uniffi::export]
pub fn generate_push_keys() -> PushKeys {
    let secret = SecretKey::generate_from_rng(&mut rand::rng());
    let auth: [u8; 16] = rand::random();
    PushKeys {
        private_key: URL_SAFE_NO_PAD.encode(secret.to_bytes()),
        p256dh: URL_SAFE_NO_PAD.encode(secret.public_key().to_sec1_bytes()),
        auth: URL_SAFE_NO_PAD.encode(auth),
    }
}

/// An FCM message's `data` in the clear: an encrypted message (`data.encrypted`) becomes the
/// keys a clear-text one carries (`type`, `visitId`, `notificationId`, `actionToken`, `title`,
/// `body`), ready for `notificationContent` and `routeFor`; any other `data` comes back as it
/// is.
#[uniffi::export]
pub fn decrypt_push_data(
    data: HashMap<String, String>,
    keys: PushKeys,
) -> Result<HashMap<String, String>, GatebellError> {
    let Some(encrypted) = data.get(ENCRYPTED_DATA_KEY) else {
        return Ok(data);
    };
    let invalid = |reason: &str| GatebellError::InvalidArgument {
        reason: format!("encrypted push: {reason}"),
    };
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s.trim_end_matches('='));
    let body = decode(encrypted).map_err(|_| invalid("not base64url"))?;
    let private_key = decode(&keys.private_key).map_err(|_| invalid("bad private key"))?;
    let auth = decode(&keys.auth).map_err(|_| invalid("bad auth secret"))?;
    let plain = decrypt_aes128gcm(&body, &private_key, &auth).map_err(invalid)?;
    let payload: PushPayload =
        serde_json::from_slice(&plain).map_err(|_| invalid("not a Gatebell payload"))?;
    let mut clear: HashMap<String, String> = payload
        .data_pairs()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    clear.insert("title".into(), payload.title);
    clear.insert("body".into(), payload.body);
    Ok(clear)
}

/// Decrypts one RFC 8291 `aes128gcm` record with the receiver's private scalar and auth
/// secret; returns the plaintext without its padding.
fn decrypt_aes128gcm(
    body: &[u8],
    private_key: &[u8],
    auth_secret: &[u8],
) -> Result<Vec<u8>, &'static str> {
    if body.len() < HEADER_LEN + KEY_ID_LEN {
        return Err("truncated");
    }
    let salt = &body[..16];
    let rs = u32::from_be_bytes([body[16], body[17], body[18], body[19]]) as usize;
    if body[20] as usize != KEY_ID_LEN {
        return Err("the key id is not a P-256 public key");
    }
    let key_id = &body[HEADER_LEN..HEADER_LEN + KEY_ID_LEN];
    let record = &body[HEADER_LEN + KEY_ID_LEN..];
    // RFC 8291 §4: exactly one record (RFC 8188: rs >= 18).
    if rs < TAG_LEN + 2 || record.len() > rs || record.len() < TAG_LEN + 1 {
        return Err("not a single aes128gcm record");
    }
    let sender = PublicKey::from_sec1_bytes(key_id).map_err(|_| "bad sender key")?;
    let receiver = SecretKey::from_slice(private_key).map_err(|_| "bad private key")?;
    if auth_secret.len() != 16 {
        return Err("the auth secret is not 16 bytes");
    }
    let shared = receiver.diffie_hellman(&sender);
    let mut info = Vec::with_capacity(14 + 2 * KEY_ID_LEN);
    info.extend_from_slice(b"WebPush: info\0");
    info.extend_from_slice(&receiver.public_key().to_sec1_bytes());
    info.extend_from_slice(key_id);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth_secret), shared.raw_secret_bytes())
        .expand(&info, &mut ikm)
        .map_err(|_| "key derivation failed")?;
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|_| "key derivation failed")?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|_| "key derivation failed")?;
    let mut plain = Aes128Gcm::new(&cek.into())
        .decrypt(&Nonce::from(nonce), record)
        .map_err(|_| "authentication failed (wrong keys or a tampered message)")?;
    // Zeros after the delimiter 0x02, which marks the last (here: only) record.
    let end = plain.iter().rposition(|&b| b != 0).ok_or("bad padding")?;
    if plain[end] != 2 {
        return Err("bad padding");
    }
    plain.truncate(end);
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    use gatebell_testkit::rfc8291_vector::{AUTH, BODY, PLAINTEXT, UA_PRIVATE};

    fn d(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    #[test]
    fn decrypts_the_rfc8291_test_vector() {
        let plain = decrypt_aes128gcm(&d(BODY), &d(UA_PRIVATE), &d(AUTH)).unwrap();
        assert_eq!(plain, PLAINTEXT.as_bytes());
        assert!(decrypt_aes128gcm(&d(BODY), &d(UA_PRIVATE), &[0u8; 16]).is_err());
    }

    #[test]
    fn generated_keys_decrypt_what_the_sender_encrypted_into_the_clear_data() {
        let keys = generate_push_keys();
        let p256dh: [u8; 65] = d(&keys.p256dh).try_into().unwrap();
        let auth: [u8; 16] = d(&keys.auth).try_into().unwrap();
        let payload = PushPayload::new(
            gatebell_core::protocol::NotificationType::WalkinPending,
            Some("n1".into()),
            Some("v1".into()),
            "Visitor at the gate".into(),
            "Ravi is at the gate".into(),
        )
        .with_action_token(Some("tok".into()));
        let body = gatebell_testkit::sender::encrypt_aes128gcm(
            &serde_json::to_vec(&payload).unwrap(),
            &p256dh,
            &auth,
        );
        let data = HashMap::from([(ENCRYPTED_DATA_KEY.to_owned(), URL_SAFE_NO_PAD.encode(body))]);
        let clear = decrypt_push_data(data, keys.clone()).unwrap();
        let expected: HashMap<String, String> = [
            ("type", "walkin_pending"),
            ("visitId", "v1"),
            ("notificationId", "n1"),
            ("actionToken", "tok"),
            ("title", "Visitor at the gate"),
            ("body", "Ravi is at the gate"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(clear, expected);
        // Clear-text data passes through; another device's keys fail.
        let plain = HashMap::from([("type".to_owned(), "visitor_arrived".to_owned())]);
        assert_eq!(decrypt_push_data(plain.clone(), keys).unwrap(), plain);
        let data = HashMap::from([(ENCRYPTED_DATA_KEY.to_owned(), URL_SAFE_NO_PAD.encode(b"x"))]);
        assert!(decrypt_push_data(data, generate_push_keys()).is_err());
    }
}

//! What an application server sends, in a few lines each: reference implementations for
//! exercising the fakes directly (their own tests, benchmarks of the fakes). The Gatebell
//! server has its own implementation; these exist so that the fakes are checked against
//! something other than themselves and the server.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate;
use p256::{PublicKey, SecretKey};
use serde_json::json;

use crate::b64;

/// Encrypts `plaintext` for a subscription (65-byte `p256dh`, 16-byte `auth`) as one RFC 8291
/// `aes128gcm` record with a fresh sender key and salt and `rs` = 4096.
pub fn encrypt_aes128gcm(
    plaintext: &[u8],
    ua_public: &[u8; 65],
    auth_secret: &[u8; 16],
) -> Vec<u8> {
    let sender = SecretKey::generate_from_rng(&mut rand::rng());
    encrypt_with(plaintext, ua_public, auth_secret, &sender, &rand::random())
}

pub(crate) fn encrypt_with(
    plaintext: &[u8],
    ua_public: &[u8; 65],
    auth_secret: &[u8; 16],
    sender: &SecretKey,
    salt: &[u8; 16],
) -> Vec<u8> {
    let ua = PublicKey::from_sec1_bytes(ua_public).expect("p256dh is a P-256 point");
    let as_public = sender.public_key();
    let (cek, nonce) = crate::ece::derive(
        &ua,
        &as_public,
        &sender.diffie_hellman(&ua),
        auth_secret,
        salt,
    );
    let mut record = plaintext.to_vec();
    record.push(2);
    let sealed = Aes128Gcm::new(&cek.into())
        .encrypt(&Nonce::from(nonce), &record[..])
        .expect("AES-GCM encryption of a small record");
    let mut body = Vec::with_capacity(86 + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&4096u32.to_be_bytes());
    body.push(65);
    body.extend_from_slice(&as_public.to_sec1_bytes());
    body.extend_from_slice(&sealed);
    body
}

/// An RFC 8292 `Authorization` value, `vapid t=<ES256 JWT>, k=<public key>`, signed with a
/// 32-byte P-256 private key for `aud` (an origin), `sub` and `exp` (Unix seconds).
pub fn vapid_authorization(private_key: &[u8; 32], aud: &str, sub: &str, exp: i64) -> String {
    let key = SigningKey::from_slice(private_key).expect("a valid P-256 private key");
    let header = b64::encode(json!({"typ": "JWT", "alg": "ES256"}).to_string());
    let claims = b64::encode(json!({"aud": aud, "exp": exp, "sub": sub}).to_string());
    let input = format!("{header}.{claims}");
    let signature: Signature = key.sign(input.as_bytes());
    let k = b64::encode(key.verifying_key().to_sec1_bytes());
    format!(
        "vapid t={input}.{}, k={k}",
        b64::encode(signature.to_bytes())
    )
}

/// A fresh P-256 private key (32 bytes) and its uncompressed public key, base64url, as a VAPID
/// key pair.
pub fn vapid_keypair() -> ([u8; 32], String) {
    let key = SecretKey::generate_from_rng(&mut rand::rng());
    let bytes: [u8; 32] = key.to_bytes().into();
    (bytes, b64::encode(key.public_key().to_sec1_bytes()))
}

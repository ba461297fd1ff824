//! RFC 8291 message encryption for Web Push over RFC 8188 `aes128gcm`, as a browser receives it.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// Salt (16) + record size (4) + key id length (1).
const HEADER_LEN: usize = 21;
const TAG_LEN: usize = 16;
/// An uncompressed P-256 point, the only key id RFC 8291 allows.
const KEY_ID_LEN: usize = 65;

/// Why a Web Push body did not decrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecryptError {
    /// The body is shorter than the `aes128gcm` header it must start with.
    Truncated,
    /// The key id is not the sender's 65-byte uncompressed P-256 public key.
    BadKeyId,
    /// The record size is below RFC 8188's minimum of 18, or the body holds more than one record.
    NotOneRecord,
    /// The receiver's private key or auth secret is malformed.
    BadReceiverKeys,
    /// AES-GCM authentication failed: wrong keys, or a tampered body.
    Authentication,
    /// The plaintext lacks the final-record padding delimiter 0x02.
    BadPadding,
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecryptError::Truncated => "body is shorter than the aes128gcm header",
            DecryptError::BadKeyId => "keyid is not a 65-byte uncompressed P-256 public key",
            DecryptError::NotOneRecord => "body is not a single aes128gcm record (check rs)",
            DecryptError::BadReceiverKeys => "receiver private key or auth secret is malformed",
            DecryptError::Authentication => "AES-GCM authentication failed",
            DecryptError::BadPadding => "plaintext does not end with the 0x02 padding delimiter",
        })
    }
}

impl std::error::Error for DecryptError {}

/// Decrypts an RFC 8291 `aes128gcm` body with the subscription's P-256 private key (32 bytes)
/// and 16-byte auth secret; returns the plaintext without padding.
pub fn decrypt_aes128gcm(
    body: &[u8],
    private_key: &[u8],
    auth_secret: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    if body.len() < HEADER_LEN {
        return Err(DecryptError::Truncated);
    }
    let salt = &body[..16];
    let rs = u32::from_be_bytes([body[16], body[17], body[18], body[19]]) as usize;
    let idlen = body[20] as usize;
    if idlen != KEY_ID_LEN {
        return Err(DecryptError::BadKeyId);
    }
    if body.len() < HEADER_LEN + idlen {
        return Err(DecryptError::Truncated);
    }
    let key_id = &body[HEADER_LEN..HEADER_LEN + idlen];
    let record = &body[HEADER_LEN + idlen..];
    // RFC 8291 §4: exactly one record, so it must fit in rs (RFC 8188: rs >= 18).
    if rs < TAG_LEN + 2 || record.len() > rs {
        return Err(DecryptError::NotOneRecord);
    }
    if record.len() < TAG_LEN + 1 {
        return Err(DecryptError::Truncated);
    }
    let sender = PublicKey::from_sec1_bytes(key_id).map_err(|_| DecryptError::BadKeyId)?;
    let receiver = SecretKey::from_slice(private_key).map_err(|_| DecryptError::BadReceiverKeys)?;
    if auth_secret.len() != 16 {
        return Err(DecryptError::BadReceiverKeys);
    }
    let (cek, nonce) = derive(
        &receiver.public_key(),
        &sender,
        &receiver.diffie_hellman(&sender),
        auth_secret,
        salt,
    );
    let mut plain = Aes128Gcm::new(&cek.into())
        .decrypt(&Nonce::from(nonce), record)
        .map_err(|_| DecryptError::Authentication)?;
    // Padding is zeros after the delimiter; 0x02 marks the last (here: only) record.
    let end = plain
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(DecryptError::BadPadding)?;
    if plain[end] != 2 {
        return Err(DecryptError::BadPadding);
    }
    plain.truncate(end);
    Ok(plain)
}

/// Derives the content-encryption key and nonce (RFC 8291 §3.4, RFC 8188 §2.2-2.3).
pub(crate) fn derive(
    ua_public: &PublicKey,
    as_public: &PublicKey,
    shared: &p256::ecdh::SharedSecret,
    auth_secret: &[u8],
    salt: &[u8],
) -> ([u8; 16], [u8; 12]) {
    let mut info = Vec::with_capacity(14 + 2 * KEY_ID_LEN);
    info.extend_from_slice(b"WebPush: info\0");
    info.extend_from_slice(&ua_public.to_sec1_bytes());
    info.extend_from_slice(&as_public.to_sec1_bytes());
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth_secret), shared.raw_secret_bytes())
        .expand(&info, &mut ikm)
        .expect("32 bytes is a valid HKDF length");
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .expect("16 bytes is a valid HKDF length");
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .expect("12 bytes is a valid HKDF length");
    (cek, nonce)
}

/// RFC 8291 Appendix A, base64url: the one published test vector, for every RFC 8291
/// implementation's tests (this fake's, the server's `push::ece`).
pub mod rfc8291_vector {
    /// The message.
    pub const PLAINTEXT: &str = "When I grow up, I want to be a watermelon";
    /// The receiver's (user agent's) private key.
    pub const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
    /// The receiver's public key (`p256dh`).
    pub const UA_PUBLIC: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    /// The sender's (application server's) private key.
    pub const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    /// The auth secret.
    pub const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    /// The salt.
    pub const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    /// The whole `aes128gcm` body.
    pub const BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";
    /// The content-encryption key.
    pub const CEK: &str = "oIhVW04MRdy2XN9CiKLxTg";
    /// The nonce.
    pub const NONCE: &str = "4h_95klXJ5E_qnoN";
}

#[cfg(test)]
mod tests {
    use super::rfc8291_vector::*;
    use super::*;
    use crate::b64;

    fn d(s: &str) -> Vec<u8> {
        b64::decode(s).unwrap()
    }

    #[test]
    fn decrypts_rfc8291_appendix_a() {
        let plain = decrypt_aes128gcm(&d(BODY), &d(UA_PRIVATE), &d(AUTH)).unwrap();
        assert_eq!(plain, PLAINTEXT.as_bytes());
    }

    #[test]
    fn derives_rfc8291_intermediate_keys() {
        let ua = SecretKey::from_slice(&d(UA_PRIVATE)).unwrap();
        assert_eq!(b64::encode(ua.public_key().to_sec1_bytes()), UA_PUBLIC);
        let sender = SecretKey::from_slice(&d(AS_PRIVATE)).unwrap();
        let (cek, nonce) = derive(
            &ua.public_key(),
            &sender.public_key(),
            &ua.diffie_hellman(&sender.public_key()),
            &d(AUTH),
            &d(SALT),
        );
        assert_eq!(b64::encode(cek), CEK);
        assert_eq!(b64::encode(nonce), NONCE);
    }

    #[test]
    fn rejects_wrong_auth_secret_and_tampering() {
        let body = d(BODY);
        assert_eq!(
            decrypt_aes128gcm(&body, &d(UA_PRIVATE), &[0u8; 16]),
            Err(DecryptError::Authentication)
        );
        let mut tampered = body.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            decrypt_aes128gcm(&tampered, &d(UA_PRIVATE), &d(AUTH)),
            Err(DecryptError::Authentication)
        );
        assert_eq!(
            decrypt_aes128gcm(&body[..50], &d(UA_PRIVATE), &d(AUTH)),
            Err(DecryptError::Truncated)
        );
        // rs = 18 is smaller than the record, so it would take several records.
        let mut small_rs = body.clone();
        small_rs[16..20].copy_from_slice(&18u32.to_be_bytes());
        assert_eq!(
            decrypt_aes128gcm(&small_rs, &d(UA_PRIVATE), &d(AUTH)),
            Err(DecryptError::NotOneRecord)
        );
    }

    #[test]
    fn sender_reproduces_rfc8291_body() {
        let ua_public: [u8; 65] = d(UA_PUBLIC).try_into().unwrap();
        let sender = SecretKey::from_slice(&d(AS_PRIVATE)).unwrap();
        let body = crate::sender::encrypt_with(
            PLAINTEXT.as_bytes(),
            &ua_public,
            &d(AUTH).try_into().unwrap(),
            &sender,
            &d(SALT).try_into().unwrap(),
        );
        assert_eq!(b64::encode(body), BODY);
    }

    #[test]
    fn round_trips_with_sender() {
        let ua = SecretKey::from_slice(&d(UA_PRIVATE)).unwrap();
        let ua_public: [u8; 65] = ua.public_key().to_sec1_bytes()[..].try_into().unwrap();
        let auth: [u8; 16] = d(AUTH).try_into().unwrap();
        let body = crate::sender::encrypt_aes128gcm(b"{\"type\":\"x\"}", &ua_public, &auth);
        assert_eq!(
            decrypt_aes128gcm(&body, &d(UA_PRIVATE), &auth).unwrap(),
            b"{\"type\":\"x\"}"
        );
    }
}

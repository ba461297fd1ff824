//! RFC 8291 message encryption (Web Push's `aes128gcm`, RFC 8188 with one record) on `ring`.
//!
//! The `web-push` crate's builder does the same through the `ece` crate and OpenSSL at 2.7
//! times the CPU (168 against 62 µs per walk-in payload, `cargo bench -p gatebell-server
//! --bench webpush_encrypt`, docs/PERFORMANCE.md), and encryption is most of a Web Push send's
//! CPU. The crate still signs VAPID (once per push-service origin,
//! cached). Checked here against RFC 8291 Appendix A's intermediate values and body, and end to
//! end by every test whose fake push service or browser decrypts what the server sends.

use ring::rand::{SecureRandom, SystemRandom};
use ring::{aead, agreement, hkdf};

/// An uncompressed P-256 point: the subscription's `p256dh` and the sender's key id.
pub const POINT_LEN: usize = 65;
/// The record size Gatebell writes (RFC 8188 §2): 4096, as browsers' own senders do.
const RECORD_SIZE: u32 = 4096;
/// `salt(16) || rs(4) || idlen(1) || keyid(65)`.
const HEADER_LEN: usize = 16 + 4 + 1 + POINT_LEN;
/// The padding delimiter (RFC 8188 §2) and the AES-GCM tag.
const RECORD_OVERHEAD: usize = 1 + 16;
/// The most plaintext one record of [`RECORD_SIZE`] holds.
pub const MAX_PLAINTEXT: usize = RECORD_SIZE as usize - RECORD_OVERHEAD;

/// A subscription's keys, decoded: `p256dh` (an uncompressed P-256 point) and `auth` (16 bytes).
pub struct ReceiverKeys {
    pub public: [u8; POINT_LEN],
    pub auth: [u8; 16],
}

impl ReceiverKeys {
    /// From the base64url strings a browser's `PushSubscription` gives (padding tolerated).
    pub fn from_base64(p256dh: &str, auth: &str) -> Result<ReceiverKeys, String> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let decode = |s: &str| b64.decode(s.trim().trim_end_matches('='));
        let public = decode(p256dh)
            .ok()
            .and_then(|v| <[u8; POINT_LEN]>::try_from(v).ok())
            .filter(|p| p[0] == 0x04)
            .ok_or("p256dh is not an uncompressed P-256 point in base64url")?;
        let auth = decode(auth)
            .ok()
            .and_then(|v| <[u8; 16]>::try_from(v).ok())
            .ok_or("auth is not 16 bytes in base64url")?;
        Ok(ReceiverKeys { public, auth })
    }
}

/// Encrypts `plaintext` to `to` with a fresh sender key and salt: the whole `aes128gcm` body.
pub fn encrypt(to: &ReceiverKeys, plaintext: &[u8]) -> Result<Vec<u8>, String> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(format!(
            "the payload is {} bytes; one Web Push record holds at most {MAX_PLAINTEXT}",
            plaintext.len()
        ));
    }
    let rng = SystemRandom::new();
    let sender = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng)
        .map_err(|_| "could not make a sender key")?;
    let sender_public = sender
        .compute_public_key()
        .map_err(|_| "could not make a sender key")?;
    let mut salt = [0u8; 16];
    rng.fill(&mut salt)
        .map_err(|_| "no randomness for the salt")?;
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &to.public[..]);
    agreement::agree_ephemeral(sender, &peer, |ecdh_secret| {
        seal(ecdh_secret, to, sender_public.as_ref(), &salt, plaintext)
    })
    .map_err(|_| "the subscription's p256dh is not a point on P-256".to_owned())
}

/// The `aes128gcm` body from the ECDH secret on: RFC 8291 §3.3-3.4 key derivation, RFC 8188
/// framing with one record. Split from [`encrypt`] so the RFC's test vector can drive it with
/// the vector's fixed sender key and salt (`ring` makes ephemeral keys only).
fn seal(
    ecdh_secret: &[u8],
    to: &ReceiverKeys,
    sender_public: &[u8],
    salt: &[u8; 16],
    plaintext: &[u8],
) -> Vec<u8> {
    let ikm: [u8; 32] = expand(
        &hkdf::Salt::new(hkdf::HKDF_SHA256, &to.auth).extract(ecdh_secret),
        &[b"WebPush: info\0", &to.public, sender_public],
    );
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(&ikm);
    let cek: [u8; 16] = expand(&prk, &[b"Content-Encoding: aes128gcm\0"]);
    let nonce: [u8; 12] = expand(&prk, &[b"Content-Encoding: nonce\0"]);
    let key = aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_128_GCM, &cek).expect("16 bytes is an AES-128 key"),
    );
    let mut body = Vec::with_capacity(HEADER_LEN + plaintext.len() + RECORD_OVERHEAD);
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(sender_public.len() as u8);
    body.extend_from_slice(sender_public);
    let mut record = Vec::with_capacity(plaintext.len() + RECORD_OVERHEAD);
    record.extend_from_slice(plaintext);
    // The last (and only) record's delimiter, no padding.
    record.push(0x02);
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::empty(),
        &mut record,
    )
    .expect("a record under 4096 bytes seals");
    body.extend_from_slice(&record);
    body
}

/// HKDF-Expand of `prk` with the concatenated `info` parts, `N` bytes.
fn expand<const N: usize>(prk: &hkdf::Prk, info: &[&[u8]]) -> [u8; N] {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let mut out = [0u8; N];
    prk.expand(info, Len(N))
        .and_then(|okm| okm.fill(&mut out))
        .expect("N is at most 32, far under HKDF-SHA256's limit");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    use gatebell_testkit::rfc8291_vector::{
        AS_PRIVATE, AUTH, BODY, PLAINTEXT, SALT, UA_PRIVATE, UA_PUBLIC,
    };

    fn d(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .unwrap()
    }

    /// The vector's sender public key and ECDH secret, computed from its fixed sender key
    /// (ring only makes ephemeral keys, so the test takes them from the `p256` crate).
    fn vector_sender() -> (Vec<u8>, Vec<u8>) {
        let sender = p256::SecretKey::from_slice(&d(AS_PRIVATE)).unwrap();
        let ua = p256::PublicKey::from_sec1_bytes(&d(UA_PUBLIC)).unwrap();
        let secret = p256::ecdh::diffie_hellman(sender.to_nonzero_scalar(), ua.as_affine());
        (
            sender.public_key().to_sec1_bytes().to_vec(),
            secret.raw_secret_bytes().to_vec(),
        )
    }

    #[test]
    fn reproduces_the_rfc8291_body_byte_for_byte() {
        let to = ReceiverKeys::from_base64(UA_PUBLIC, AUTH).unwrap();
        let (sender_public, ecdh_secret) = vector_sender();
        let body = seal(
            &ecdh_secret,
            &to,
            &sender_public,
            &d(SALT).try_into().unwrap(),
            PLAINTEXT.as_bytes(),
        );
        assert_eq!(body, d(BODY));
    }

    #[test]
    fn a_fresh_message_decrypts_with_the_receivers_key_and_differs_each_time() {
        let to = ReceiverKeys::from_base64(UA_PUBLIC, AUTH).unwrap();
        let one = encrypt(&to, b"{\"type\":\"walkin_pending\"}").unwrap();
        let two = encrypt(&to, b"{\"type\":\"walkin_pending\"}").unwrap();
        assert_ne!(one, two, "a fresh sender key and salt per message");
        for body in [one, two] {
            let plain =
                gatebell_testkit::decrypt_aes128gcm(&body, &d(UA_PRIVATE), &d(AUTH)).unwrap();
            assert_eq!(plain, b"{\"type\":\"walkin_pending\"}");
        }
    }

    #[test]
    fn refuses_bad_keys_and_oversized_payloads() {
        assert!(ReceiverKeys::from_base64("AAAA", AUTH).is_err());
        assert!(ReceiverKeys::from_base64(UA_PUBLIC, "AAAA").is_err());
        // 65 bytes that are not a point on the curve: refused when agreeing, not a panic.
        let mut off_curve = d(UA_PUBLIC);
        off_curve[64] ^= 1;
        let to = ReceiverKeys {
            public: off_curve.try_into().unwrap(),
            auth: d(AUTH).try_into().unwrap(),
        };
        assert!(encrypt(&to, b"x").unwrap_err().contains("P-256"));
        let to = ReceiverKeys::from_base64(UA_PUBLIC, AUTH).unwrap();
        assert!(encrypt(&to, &vec![b'x'; MAX_PLAINTEXT]).is_ok());
        assert!(encrypt(&to, &vec![b'x'; MAX_PLAINTEXT + 1]).is_err());
    }
}

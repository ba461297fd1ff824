//! Invitation codes at rest: HMAC-SHA256 under a server secret. A six-digit OTP has only 10^6
//! values, so an unkeyed hash of it is reversed by trying them all; with the key, a copy of the
//! database alone does not give the open codes away. QR tokens get the same treatment (they are
//! 192 random bits and would be safe either way), so that there is one way to store a code.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use crate::config::MIN_SECRET_LEN;

/// The settings key under which a generated secret is stored.
pub const SECRET_SETTING: &str = "code_secret";

/// The keyed hash codes are stored and looked up by.
#[derive(Clone)]
pub struct CodeKey(Hmac<Sha256>);

impl CodeKey {
    /// A key from the secret's text.
    pub fn new(secret: &str) -> CodeKey {
        CodeKey(
            <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes keys of any length"),
        )
    }

    /// HMAC-SHA256 of the code, lowercase hex.
    pub fn hash(&self, code: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(code.as_bytes());
        format!("{:x}", mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            CodeKey::new("Jefe").hash("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn another_secret_gives_another_hash() {
        assert_ne!(
            CodeKey::new("secret-one-0123456").hash("123456"),
            CodeKey::new("secret-two-0123456").hash("123456")
        );
    }
}

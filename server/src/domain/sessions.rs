//! Sessions and passwords: bearer tokens stored only as hashes, Argon2id password hashes, and
//! ending sessions (sign-out, a disabled or moved account).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{self, Db, DbError, now_ms};
use crate::error::ApiResult;

/// The password hash of an account with no password here (one that signs in through an
/// existing backend, or a deleted one): sign-in refuses it without hashing.
pub(crate) const NO_PASSWORD: &str = "";

// A valid hash of a throwaway password, verified when the email is unknown so that the answer
// takes as long as for a known email.
pub(crate) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0vRjXcWO6hgHUKnXg5dh0dNUXxr1OO9Rs3PdcVF8m0s";

/// SHA-256 of a bearer token, hex: tokens are 256 random bits, so a fast hash is enough.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Hashes a password with Argon2id (off the async threads: it takes tens of milliseconds).
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await?
}

/// Whether `password` matches an Argon2 `hash` (blocking: run it on the hash pool).
pub(crate) fn verify_hash(password: &str, hash: &str) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(hash).map_err(|e| anyhow::anyhow!("bad hash: {e}"))?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

#[cfg(test)]
async fn verify_password(password: String, hash: String) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || verify_hash(&password, &hash)).await?
}

/// Ends sessions with their effects in the database: the devices registered under them are
/// dropped and their queued pushes cancelled. Returns the ended sessions' token hashes, whose
/// event streams the caller closes (`AppState::end_sessions`).
///
/// On PostgreSQL it can deadlock with the push recorder closing the same outbox rows (each
/// locks them in its own order); the database aborts one of the two, and this one is tried
/// again rather than answered with a 500.
pub async fn end_sessions(
    database: &Db,
    which: db::accounts::Ending<'_>,
) -> ApiResult<Vec<String>> {
    let mut tries = 0;
    let ended = loop {
        tries += 1;
        let attempt = async {
            let mut tx = database.begin().await?;
            let ended = db::accounts::end_sessions(&mut tx, which, now_ms()).await?;
            tx.commit().await?;
            Ok::<_, DbError>(ended)
        };
        match attempt.await {
            Err(e) if tries < 5 && db::is_deadlock(&e) => {
                tracing::info!(error = %e, "ending sessions met a deadlock; trying again");
                // Apart from the other side's own retry, so the two do not meet again.
                let pause = rand::Rng::gen_range(&mut rand::thread_rng(), 20..200);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            r => break r?,
        }
    };
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dummy_hash_parses_and_rejects_everything_plausible() {
        assert!(
            !verify_password("password".into(), DUMMY_HASH.into())
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn password_hash_round_trips() {
        let h = hash_password("s3cret!".into()).await.unwrap();
        assert!(verify_password("s3cret!".into(), h.clone()).await.unwrap());
        assert!(!verify_password("s3cret".into(), h).await.unwrap());
    }

    #[test]
    fn token_hash_is_stable_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(random_token(32), random_token(32));
        assert_eq!(random_token(32).len(), 43);
    }
}

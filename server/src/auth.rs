//! Sign-in: password check, opaque bearer sessions stored only as hashes, and the extractor
//! that turns `Authorization: Bearer …` into the signed-in user.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use base64::Engine;
use gatebell_core::protocol::{LoginRequest, LoginResponse, Role, User};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::now_ms;
use crate::error::{ApiError, ApiResult, Json};
use crate::{AppState, on_pool, on_writer};

/// How long a session lasts.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
}

/// The caller, from a valid bearer session.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub unit: Option<String>,
    token_hash: String,
}

impl AuthUser {
    /// The public view.
    pub fn user(&self) -> User {
        User {
            id: self.id.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            role: self.role,
            unit: self.unit.clone(),
        }
    }

    /// Refuses unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> ApiResult<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::forbidden(format!(
                "this needs the role {}; you are a {}",
                names.join(" or "),
                self.role.as_str()
            )))
        }
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    name: String,
    email: String,
    role: String,
    unit: Option<String>,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<AuthUser> {
        let token = match parts.headers.get(axum::http::header::AUTHORIZATION) {
            Some(h) => h
                .to_str()
                .ok()
                .and_then(|h| h.strip_prefix("Bearer "))
                .map(str::to_owned),
            // EventSource cannot send headers: the event stream also takes ?access_token=.
            None if parts.uri.path().ends_with("/notifications/stream") => parts
                .uri
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("access_token=")))
                .map(str::to_owned),
            None => {
                return Err(ApiError::Unauthorized(
                    "sign in first: no Authorization header".into(),
                ));
            }
        };
        let token = token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
            })?;
        let token_hash = hash_token(token);
        let row: Option<SessionRow> = on_pool!(&state.db, p => {
            sqlx::query_as(
                "SELECT u.id, u.name, u.email, u.role, un.name AS unit
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 LEFT JOIN units un ON un.id = u.unit_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2",
            )
            .bind(&token_hash)
            .bind(now_ms())
            .fetch_optional(p)
            .await?
        });
        let row =
            row.ok_or_else(|| ApiError::Unauthorized("the session is unknown or expired".into()))?;
        Ok(AuthUser {
            role: Role::parse(&row.role)
                .ok_or_else(|| anyhow::anyhow!("bad role {:?} in the database", row.role))?,
            id: row.id,
            name: row.name,
            email: row.email,
            unit: row.unit,
            token_hash,
        })
    }
}

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

async fn verify_password(password: String, hash: String) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("bad hash: {e}"))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}

// A valid hash of a throwaway password, verified when the email is unknown so that the answer
// takes as long as for a known email.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0vRjXcWO6hgHUKnXg5dh0dNUXxr1OO9Rs3PdcVF8m0s";

#[derive(sqlx::FromRow)]
struct LoginRow {
    id: String,
    name: String,
    email: String,
    role: String,
    unit: Option<String>,
    password_hash: String,
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = gatebell_core::protocol::ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    if req.email.len() > 254 || req.password.len() > 1024 {
        return Err(ApiError::validation("email or password is too long"));
    }
    let email = req.email.trim().to_lowercase();
    let row: Option<LoginRow> = on_pool!(&state.db, p => {
        sqlx::query_as(
            "SELECT u.id, u.name, u.email, u.role, un.name AS unit, u.password_hash
             FROM users u LEFT JOIN units un ON un.id = u.unit_id WHERE u.email = $1",
        )
        .bind(&email)
        .fetch_optional(p)
        .await?
    });
    let hash = row
        .as_ref()
        .map_or(DUMMY_HASH.to_owned(), |r| r.password_hash.clone());
    let ok = verify_password(req.password, hash).await?;
    let row = match row {
        Some(r) if ok => r,
        _ => return Err(ApiError::Unauthorized("wrong email or password".into())),
    };
    let token = random_token(32);
    let now = now_ms();
    let expires_at = now + SESSION_TTL_MS;
    on_writer!(&state.db, p => {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(hash_token(&token))
            .bind(&row.id)
            .bind(now)
            .bind(expires_at)
            .execute(p)
            .await?;
    });
    let role = Role::parse(&row.role).ok_or_else(|| anyhow::anyhow!("bad role in the database"))?;
    Ok(Json(LoginResponse {
        token,
        user: User {
            id: row.id,
            name: row.name,
            email: row.email,
            role,
            unit: row.unit,
        },
        expires_at,
    }))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = gatebell_core::protocol::ErrorBody)))]
async fn logout(State(state): State<AppState>, user: AuthUser) -> ApiResult<StatusCode> {
    on_writer!(&state.db, p => {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(&user.token_hash)
            .execute(p)
            .await?;
    });
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = gatebell_core::protocol::ErrorBody)))]
async fn me(user: AuthUser) -> Json<User> {
    Json(user.user())
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

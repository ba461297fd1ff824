//! Sign-in: password check, opaque bearer sessions stored only as hashes, and the extractor
//! that turns `Authorization: Bearer …` into the signed-in user.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use gatebell_core::protocol::paths;
use gatebell_core::protocol::{LoginRequest, LoginResponse, Role, SessionInfo, User};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::jwt;
use crate::db::{self, DbError, now_ms};
use crate::domain::sessions::{DUMMY_HASH, NO_PASSWORD, hash_token, random_token, verify_hash};
use crate::error::{ApiError, ApiResult};
use crate::http::error::Json;
use crate::state::AppState;

/// How long a session lasts.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;
/// A session's `last_used_at` is written at most this often (one write per session a minute).
const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// The routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(sessions))
        .routes(routes!(me))
}

/// The caller, from a valid bearer session or, when configured, an existing backend's JWT.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub unit: Option<String>,
    /// The public id of the session the request came with.
    pub session_id: String,
    /// When that session expires (epoch milliseconds).
    pub session_expires_at: i64,
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

    /// The token hash of the caller's session (the key of its row and of its event streams).
    pub(crate) fn token_hash(&self) -> &str {
        &self.token_hash
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
            None if parts.uri.path() == paths::STREAM => parts
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
        let malformed =
            || ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into());
        let token = token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(malformed)?;
        // Session tokens have no dots, so a JWT-shaped token is never a session's.
        if let Some(verifier) = &state.jwt
            && jwt::looks_like_jwt(token)
            && token.len() <= jwt::MAX_TOKEN_LEN
        {
            let claims = verifier.verify(token).await?;
            return external_user(state, claims).await;
        }
        if token.len() > 128 {
            return Err(malformed());
        }
        let token_hash = hash_token(token);
        let now = now_ms();
        let found = db::accounts::session_user(&state.db, &token_hash, now)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("the session is unknown or expired".into()))?;
        // Best effort: a busy writer must not fail the request over a "last used" time.
        if found.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_MS)
            && let Err(e) = touch_session(state, &token_hash, now).await
        {
            tracing::warn!(error = %e, "could not note a session's last use");
        }
        let user = found.user;
        Ok(AuthUser {
            id: user.id,
            name: user.name,
            email: user.email,
            role: user.role,
            unit: user.unit,
            session_id: found.session_id,
            session_expires_at: found.expires_at,
            token_hash,
        })
    }
}

/// A refreshed external session is pushed this far ahead, and written again once it is this
/// much shorter: at most one write a day per user for it.
const EXTERNAL_SESSION_REFRESH_MS: i64 = 24 * 3600 * 1000;

/// The user a verified JWT names: their row is made on first sight and updated when the
/// token's name, role or unit changed. Each such user has one session row (key
/// [`db::accounts::external_session_hash`]), which the devices they register belong to; it is
/// extended while they keep coming, and logging out ends it (and drops those devices) like
/// any session.
async fn external_user(state: &AppState, claims: jwt::Claims) -> ApiResult<AuthUser> {
    let now = now_ms();
    let mut found = db::accounts::external_user(&state.db, &claims.sub, now).await?;
    // The backend deleted this user: a token made before that cannot bring them back (the
    // backend's PUT does).
    if found.is_none()
        && let Some(deleted_at) = db::accounts::tombstone(&state.db, &claims.sub).await?
        && claims.issued_at_ms.is_none_or(|iat| iat <= deleted_at)
    {
        return Err(ApiError::Unauthorized(
            "this account was deleted; the token was issued before that".into(),
        ));
    }
    let current = |f: &db::accounts::ExternalUser| {
        f.user.role == claims.role
            && f.user.unit == claims.unit
            && claims.name.as_ref().is_none_or(|n| *n == f.user.name)
            && claims
                .language
                .as_ref()
                .is_none_or(|l| f.language.as_ref() == Some(l))
            && f.session.as_ref().is_some_and(|(_, expires_at, _)| {
                *expires_at - now > SESSION_TTL_MS - EXTERNAL_SESSION_REFRESH_MS
            })
    };
    match &found {
        Some(f) if f.disabled => return Err(ApiError::forbidden("this account is disabled")),
        Some(f) if current(f) => {}
        _ => {
            // Two first requests at once may both insert: the loser's unique violation means
            // the row is there now, and the second try updates it.
            let mut tries = 0;
            loop {
                tries += 1;
                match save_external_user(state, &claims, now).await {
                    Err(ApiError::Internal(e)) if tries < 2 && is_unique_violation(&e) => {}
                    r => break r?,
                }
            }
            found = db::accounts::external_user(&state.db, &claims.sub, now).await?;
        }
    }
    let found =
        found.ok_or_else(|| anyhow::anyhow!("an external user vanished as it was saved"))?;
    if found.disabled {
        return Err(ApiError::forbidden("this account is disabled"));
    }
    let (session_id, session_expires_at, last_used_at) = found
        .session
        .ok_or_else(|| anyhow::anyhow!("an external session vanished as it was saved"))?;
    let user = found.user;
    let token_hash = db::accounts::external_session_hash(&user.id);
    if last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_MS)
        && let Err(e) = touch_session(state, &token_hash, now).await
    {
        tracing::warn!(error = %e, "could not note a session's last use");
    }
    Ok(AuthUser {
        id: user.id,
        name: user.name,
        email: user.email,
        role: user.role,
        unit: user.unit,
        session_id,
        // The event stream ends when the token does; the client reconnects with a fresh one.
        session_expires_at: session_expires_at.min(claims.expires_at_ms),
        token_hash,
    })
}

fn is_unique_violation(e: &anyhow::Error) -> bool {
    e.downcast_ref::<DbError>()
        .is_some_and(db::is_unique_violation)
}

/// Writes an external user as the token describes them, and extends their session.
async fn save_external_user(state: &AppState, claims: &jwt::Claims, now: i64) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let id = db::new_id();
    // The other backend's email when no account here has it; else one that cannot clash.
    let email = match &claims.email {
        Some(e) if !db::accounts::email_taken_in_tx(&mut tx, e).await? => e.clone(),
        _ => format!("{id}@external.invalid"),
    };
    let id = db::accounts::upsert_external_user(
        &mut tx,
        db::accounts::ExternalUserUpdate {
            id_if_new: &id,
            external_id: &claims.sub,
            name: claims.name.as_deref(),
            // Never the raw `sub`: a placeholder until the backend or a token names them.
            name_if_new: match claims.role {
                Role::Resident => "Resident",
                Role::Guard => "Guard",
                Role::Admin => "Admin",
            },
            email: &email,
            role: claims.role,
            unit: claims.unit.as_deref(),
            unusable_password_hash: NO_PASSWORD,
            now,
        },
    )
    .await?;
    if let Some(language) = &claims.language {
        db::accounts::set_language(&mut tx, &id, language).await?;
    }
    let hash = db::accounts::external_session_hash(&id);
    db::accounts::upsert_session(&mut tx, &hash, &id, now, now + SESSION_TTL_MS).await?;
    tx.commit().await?;
    Ok(())
}

async fn touch_session(state: &AppState, token_hash: &str, now: i64) -> Result<(), DbError> {
    let mut tx = state.db.begin().await?;
    db::accounts::touch_session(&mut tx, token_hash, now).await?;
    tx.commit().await
}

/// The client's address, from the connection (a proxy in front shows as one client).
pub struct ClientIp(pub std::net::IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(ClientIp(ip))
    }
}

#[utoipa::path(post, path = paths::LOGIN, tag = "auth", operation_id = "login", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse),
        (status = 401, description = "wrong email or password", body = gatebell_core::protocol::ErrorBody),
        (status = 429, description = "too many attempts from this address or for this account; see Retry-After", body = gatebell_core::protocol::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait before trying again"))),
        (status = 503, description = "every password-hashing slot (or the database) is busy; see Retry-After", body = gatebell_core::protocol::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait before trying again (when the hashing slots are busy)")))))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    if req.email.len() > 254 || req.password.len() > 1024 {
        return Err(ApiError::validation("email or password is too long"));
    }
    let email = req.email.trim().to_lowercase();
    // Counted before any work, unknown emails alike: guessing costs the guesser, not us.
    state.login_limits.attempt(ip, &email)?;
    let found = db::accounts::user_by_email(&state.db, &email).await?;
    if found
        .as_ref()
        .is_some_and(|c| c.password_hash == NO_PASSWORD)
    {
        return Err(ApiError::Unauthorized("wrong email or password".into()));
    }
    let hash = found
        .as_ref()
        .map_or(DUMMY_HASH.to_owned(), |c| c.password_hash.clone());
    let ok = state
        .hash_pool
        .run(move || verify_hash(&req.password, &hash))
        .await??;
    let user = match found {
        Some(c) if ok && c.disabled_at.is_some() => {
            return Err(ApiError::forbidden("this account is disabled"));
        }
        Some(c) if ok => c.user,
        _ => return Err(ApiError::Unauthorized("wrong email or password".into())),
    };
    let token = random_token(32);
    let now = now_ms();
    let expires_at = now + SESSION_TTL_MS;
    let mut tx = state.db.begin().await?;
    db::accounts::insert_session(&mut tx, &hash_token(&token), &user.id, now, expires_at).await?;
    // The browser's language is the first default of someone who never chose one.
    if let Some(language) = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::texts::Language::from_accept_language)
    {
        db::accounts::default_language(&mut tx, &user.id, &language.tag()).await?;
    }
    tx.commit().await?;
    Ok(Json(LoginResponse {
        token,
        user,
        expires_at,
    }))
}

#[utoipa::path(post, path = paths::LOGOUT, tag = "auth", operation_id = "logout", security(("bearer" = [])),
    responses((status = 204, description = "the session is ended")))]
async fn logout(State(state): State<AppState>, user: AuthUser) -> ApiResult<StatusCode> {
    state
        .end_sessions(db::accounts::Ending::One(&user.token_hash))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = paths::LOGOUT_ALL, tag = "auth", operation_id = "logoutAll", security(("bearer" = [])),
    responses((status = 204, description = "every session of the caller ended, the devices registered under them dropped"),
        (status = 401, body = gatebell_core::protocol::ErrorBody)))]
async fn logout_all(State(state): State<AppState>, user: AuthUser) -> ApiResult<StatusCode> {
    state
        .end_sessions(db::accounts::Ending::AllOf(&user.id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = paths::SESSIONS, tag = "auth", operation_id = "listSessions", security(("bearer" = [])),
    responses((status = 200, body = Vec<SessionInfo>), (status = 401, body = gatebell_core::protocol::ErrorBody)))]
async fn sessions(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<Vec<SessionInfo>>> {
    let rows = db::accounts::sessions_of(&state.db, &user.id, now_ms()).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| SessionInfo {
                current: r.token_hash == user.token_hash,
                id: r.id.unwrap_or_default(),
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                expires_at: r.expires_at,
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = paths::ME, tag = "auth", operation_id = "getMe", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = gatebell_core::protocol::ErrorBody)))]
async fn me(user: AuthUser) -> Json<User> {
    Json(user.user())
}

//! Sign-in with an existing backend's JWTs (`--jwt-*` flags): verifies a bearer token with the
//! `jsonwebtoken` crate against an HS256 secret or a JWKS (RS256 and ES256 keys, cached), and
//! reads who the caller is from its claims. The extractor in `auth` turns the result into a
//! user row and a session row.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use gatebell_core::protocol::Role;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::domain::checks::{human_text, optional_human_text};
use crate::error::{ApiError, ApiResult};

/// The longest bearer token read as a JWT.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// The largest JWKS document read.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// How long a JWKS fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetched key set is used when its answer has no `Cache-Control: max-age`.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);
/// The longest a key set is used before it is fetched again, whatever its `max-age` says: a
/// key the backend removed stops working within this.
const LONGEST_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// What a verified token says about its caller.
#[derive(Debug, Clone)]
pub struct Claims {
    /// `sub`: the user's id in the other backend.
    pub sub: String,
    /// The `name` claim when it is a usable name (the API's text checks); absent otherwise, and
    /// then a stored name is kept.
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Role,
    pub unit: Option<String>,
    /// The locale claim's language when the server has a catalog for it (`hi-IN` is `hi`);
    /// absent otherwise, and then a stored language is kept.
    pub language: Option<String>,
    /// `exp`, in epoch milliseconds.
    pub expires_at_ms: i64,
    /// `iat`, in epoch milliseconds, when the token has it.
    pub issued_at_ms: Option<i64>,
}

/// The configured verifier.
pub struct JwtAuth {
    keys: Keys,
    issuer: String,
    audience: String,
    role_claim: String,
    unit_claim: String,
    locale_claim: String,
    leeway_secs: u64,
}

enum Keys {
    Hs256(DecodingKey),
    Jwks(Jwks),
}

type KeySet = HashMap<String, (Algorithm, DecodingKey)>;

/// The JWKS and its cache: the keys by `kid`, fetched on first use and again when a token
/// names a `kid` the cache lacks, at most once per `min_refetch` (so unknown `kid`s cannot
/// make us hammer the key server).
struct Jwks {
    url: String,
    client: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    /// When the set in `keys` stops being fresh (its `max-age` after it was fetched).
    fresh_until: RwLock<Option<Instant>>,
    /// When the last fetch started; held while fetching, so one fetch runs at a time.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    min_refetch: Duration,
    /// The shortest `max-age` honoured (one minute; lower in tests).
    min_max_age: Duration,
    /// Fetches of the key set that failed (the last good set stays in use).
    refresh_failures: prometheus::IntCounter,
}

/// Whether a bearer token has a JWT's shape (three dot-separated parts); Gatebell's own
/// session tokens are base64url without dots.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

fn unauthorized(msg: impl Into<String>) -> ApiError {
    ApiError::Unauthorized(msg.into())
}

impl JwtAuth {
    /// The verifier the flags describe, if JWT sign-in is on (the flags were checked by
    /// [`Config::from_args`]).
    pub fn from_config(config: &Config) -> anyhow::Result<Option<JwtAuth>> {
        let args = &config.args;
        let keys = match (&args.jwt.jwks_url, &args.jwt.hs256_secret) {
            (Some(url), _) => {
                let builder = if args.jwt.jwks_allow_private {
                    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none())
                } else {
                    crate::channels::egress::client_builder().https_only(true)
                };
                Keys::Jwks(Jwks {
                    url: url.clone(),
                    client: config
                        .extra_ca
                        .trusted_by(builder)
                        .timeout(FETCH_TIMEOUT)
                        .build()?,
                    keys: RwLock::default(),
                    fresh_until: RwLock::default(),
                    last_fetch: tokio::sync::Mutex::new(None),
                    min_refetch: Duration::from_millis(args.jwt.jwks_min_refetch_ms),
                    min_max_age: Duration::from_millis(args.jwt.jwks_min_max_age_ms),
                    refresh_failures: prometheus::IntCounter::new(
                        "gatebell_jwks_refresh_failures_total",
                        "Fetches of the JWT key set that failed (the last good set stays in use)",
                    )?,
                })
            }
            (None, Some(secret)) => Keys::Hs256(DecodingKey::from_secret(secret.as_bytes())),
            (None, None) => return Ok(None),
        };
        Ok(Some(JwtAuth {
            keys,
            issuer: args.jwt.issuer.clone().unwrap_or_default(),
            audience: args.jwt.audience.clone().unwrap_or_default(),
            role_claim: args.jwt.role_claim.clone(),
            unit_claim: args.jwt.unit_claim.clone(),
            locale_claim: args.jwt.locale_claim.clone(),
            leeway_secs: args.jwt.leeway_secs,
        }))
    }

    /// Verifies a token (signature, algorithm, `exp`, `nbf`, `iss`, `aud`) and reads its
    /// claims. Every way a token can be wrong is a 401; a valid token whose role or unit
    /// Gatebell cannot use is a 403.
    /// The metric for `/metrics`, when keys come from a JWKS.
    pub fn refresh_failures(&self) -> Option<prometheus::IntCounter> {
        match &self.keys {
            Keys::Jwks(j) => Some(j.refresh_failures.clone()),
            Keys::Hs256(_) => None,
        }
    }

    pub async fn verify(&self, token: &str) -> ApiResult<Claims> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| unauthorized("the bearer token is not a well-formed JWT"))?;
        // An ID token or a refresh token must not pass for an access token.
        if let Some(typ) = &header.typ
            && !typ.eq_ignore_ascii_case("JWT")
            && !typ.eq_ignore_ascii_case("at+jwt")
        {
            return Err(unauthorized("the token's `typ` must be JWT or at+jwt"));
        }
        let (alg, key) = match &self.keys {
            Keys::Hs256(key) if header.alg == Algorithm::HS256 => (Algorithm::HS256, key.clone()),
            Keys::Jwks(jwks) if matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) => {
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| unauthorized("the token names no key (`kid`)"))?;
                let (alg, key) = jwks.key(kid).await?;
                if alg != header.alg {
                    return Err(unauthorized(
                        "the token's algorithm does not match its key's",
                    ));
                }
                (alg, key)
            }
            _ => {
                return Err(unauthorized(format!(
                    "tokens signed with {:?} are not accepted here",
                    header.alg
                )));
            }
        };
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway_secs;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| unauthorized(rejection(e.kind())))?;
        self.claims(&data.claims)
    }

    fn claims(&self, c: &Map<String, Value>) -> ApiResult<Claims> {
        let text = |name: &str| c.get(name).and_then(Value::as_str);
        let sub = text("sub")
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .ok_or_else(|| unauthorized("the token's `sub` must be a non-empty string"))?
            .to_owned();
        let role = text(&self.role_claim)
            .and_then(Role::parse)
            .ok_or_else(|| {
                ApiError::forbidden(format!(
                    "the token's `{}` claim must be resident, guard or admin",
                    self.role_claim
                ))
            })?;
        let unit = optional_human_text("unit", text(&self.unit_claim), 32)
            .map_err(|e| ApiError::forbidden(format!("the token's unit: {e}")))?;
        if role == Role::Resident && unit.is_none() {
            return Err(ApiError::forbidden(format!(
                "a resident's token needs a `{}` claim",
                self.unit_claim
            )));
        }
        // A name the other backend sends that Gatebell would refuse falls back to the id.
        let name = text("name").and_then(|n| human_text("name", n, 100).ok());
        let email = text("email")
            .map(|e| e.trim().to_lowercase())
            .filter(|e| e.contains('@') && e.len() <= 254 && !e.chars().any(char::is_control));
        let language = text(&self.locale_claim)
            .and_then(crate::texts::Language::parse)
            .map(|l| l.tag());
        let exp = c.get("exp").and_then(Value::as_f64).unwrap_or(0.0);
        let iat = c.get("iat").and_then(Value::as_f64);
        Ok(Claims {
            sub,
            name,
            email,
            role,
            unit,
            language,
            expires_at_ms: (exp * 1000.0) as i64,
            issued_at_ms: iat.map(|t| (t * 1000.0) as i64),
        })
    }
}

/// The caller's reason a token was refused.
fn rejection(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (`nbf`)".into(),
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted".into(),
        ErrorKind::InvalidAudience => "the token's audience is not accepted".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => "the token's algorithm is not accepted here".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("the token has no `{c}` claim"),
        _ => "the bearer token is not a valid JWT".into(),
    }
}

impl Jwks {
    fn cached(&self, kid: &str) -> Option<(Algorithm, DecodingKey)> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.get(kid).cloned()
    }

    fn fresh(&self) -> bool {
        self.fresh_until
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|t| Instant::now() < t)
    }

    /// The key `kid` names. The set is fetched again once its `max-age` has passed (so a key the
    /// backend removed stops working then) and when an unknown `kid` arrives (at most once per
    /// `min_refetch`); a failed fetch keeps the last good set, counted and logged.
    async fn key(&self, kid: &str) -> ApiResult<(Algorithm, DecodingKey)> {
        if self.fresh()
            && let Some(k) = self.cached(kid)
        {
            return Ok(k);
        }
        let mut last = self.last_fetch.lock().await;
        // Another request may have fetched it while this one waited.
        let stale = !self.fresh();
        if !stale && let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        let unknown = || unauthorized("the token's key (`kid`) is unknown");
        if !stale && last.is_some_and(|t| t.elapsed() < self.min_refetch) {
            return Err(unknown());
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok((keys, max_age)) => {
                tracing::info!(keys = keys.len(), ?max_age, "fetched the JWT key set");
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
                *self.fresh_until.write().unwrap_or_else(|e| e.into_inner()) =
                    Some(Instant::now() + max_age);
            }
            Err(e) => {
                self.refresh_failures.inc();
                tracing::warn!(error = %e, url = %self.url, "could not fetch the JWT key set");
                // The last good set answers until the next try, `min_refetch` from now.
                *self.fresh_until.write().unwrap_or_else(|e| e.into_inner()) =
                    Some(Instant::now() + self.min_refetch);
                if self
                    .keys
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_empty()
                {
                    return Err(ApiError::Unavailable(
                        "the token issuer's key set could not be fetched".into(),
                    ));
                }
            }
        }
        self.cached(kid).ok_or_else(unknown)
    }

    /// How long a fetched set stays fresh: its `Cache-Control: max-age`, bounded to
    /// `min_max_age` … a day; ten minutes without one.
    fn max_age(&self, headers: &reqwest::header::HeaderMap) -> Duration {
        let given = headers
            .get_all(reqwest::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(|d| d.trim().strip_prefix("max-age=")?.parse::<u64>().ok())
            .map(Duration::from_secs);
        given
            .unwrap_or(DEFAULT_MAX_AGE)
            .clamp(self.min_max_age, LONGEST_MAX_AGE)
    }

    async fn fetch(&self) -> anyhow::Result<(KeySet, Duration)> {
        let mut resp = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(crate::channels::egress::chain(&e)))?
            .error_for_status()?;
        let max_age = self.max_age(resp.headers());
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_JWKS_BYTES {
                anyhow::bail!("the key set is larger than {MAX_JWKS_BYTES} bytes");
            }
        }
        #[derive(serde::Deserialize)]
        struct Set {
            keys: Vec<Value>,
        }
        let set: Set = serde_json::from_slice(&body)?;
        // Keys of kinds Gatebell does not use are skipped, not an error: a set may hold them.
        let keys = set
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
            .filter_map(|jwk| usable_key(&jwk))
            .map(|(kid, alg, key)| (kid, (alg, key)))
            .collect();
        Ok((keys, max_age))
    }
}

/// A signing key of the set that Gatebell verifies with: RSA (RS256) or P-256 (ES256), with a
/// `kid`, for signatures, and no `alg` other than that one.
fn usable_key(jwk: &Jwk) -> Option<(String, Algorithm, DecodingKey)> {
    let kid = jwk.common.key_id.clone()?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    let (alg, named, key) = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => (
            Algorithm::RS256,
            KeyAlgorithm::RS256,
            DecodingKey::from_rsa_components(&p.n, &p.e).ok()?,
        ),
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => (
            Algorithm::ES256,
            KeyAlgorithm::ES256,
            DecodingKey::from_ec_components(&p.x, &p.y).ok()?,
        ),
        _ => return None,
    };
    if jwk.common.key_algorithm.is_some_and(|a| a != named) {
        return None;
    }
    Some((kid, alg, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_are_not_jwt_shaped() {
        assert!(!looks_like_jwt(&crate::domain::sessions::random_token(32)));
        assert!(looks_like_jwt("a.b.c"));
        assert!(!looks_like_jwt("a.b"));
    }

    #[test]
    fn keys_for_other_uses_or_algorithms_are_skipped() {
        let rsa: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA", "kid": "r", "n": "sXch", "e": "AQAB"
        }))
        .unwrap();
        assert!(usable_key(&rsa).is_some());
        let mut enc = rsa.clone();
        enc.common.public_key_use = Some(PublicKeyUse::Encryption);
        assert!(usable_key(&enc).is_none());
        let mut other = rsa.clone();
        other.common.key_algorithm = Some(KeyAlgorithm::RS512);
        assert!(usable_key(&other).is_none());
        let mut nameless = rsa;
        nameless.common.key_id = None;
        assert!(usable_key(&nameless).is_none());
    }
}

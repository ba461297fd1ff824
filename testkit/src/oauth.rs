//! Google's OAuth 2.0 token endpoint for service accounts (JWT bearer grant, RFC 7523).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::sha2::Sha256;
use rsa::{PrivateKey, PublicKey};
use serde_json::json;

use crate::server::{self, Server};
use crate::{jwt, lock, read, unix_now, write};

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Either scope lets a service account send FCM messages.
const FCM_SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/firebase.messaging",
    "https://www.googleapis.com/auth/cloud-platform",
];

/// A fake of `https://oauth2.googleapis.com/token` that issues access tokens to the service
/// accounts it made; cheap to clone, stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeOAuth {
    pub(crate) state: Arc<OAuthState>,
    server: Arc<Server>,
}

pub(crate) struct OAuthState {
    token_uri: String,
    accounts: RwLock<HashMap<String, Account>>,
    tokens: RwLock<HashMap<String, AccessToken>>,
    issued: AtomicUsize,
    expires_in: AtomicU64,
    rejections: Mutex<Vec<String>>,
    outage: AtomicU8,
    first_request: Mutex<Option<std::time::Instant>>,
}

/// How the token endpoint misbehaves, for tests of a provider that fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Outage {
    /// Answers normally.
    None = 0,
    /// Answers every request `400 invalid_grant`, as Google does for a revoked or deleted key.
    Refuse = 1,
    /// Accepts the request and never answers.
    Hang = 2,
}

struct Account {
    project_id: String,
    public_key: PublicKey,
}

#[derive(Clone)]
pub(crate) struct AccessToken {
    pub project_id: String,
    expires_at: i64,
}

/// One RSA key for the whole process: a 2048-bit key takes a while to generate, and every
/// fake account may share it since accounts are told apart by their `client_email`.
fn rsa_key() -> &'static (PrivateKey, String) {
    static KEY: OnceLock<(PrivateKey, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = PrivateKey::new(&mut rand::rng(), 2048).expect("testkit: RSA key generation");
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("testkit: PKCS#8 encoding")
            .to_string();
        (key, pem)
    })
}

impl FakeOAuth {
    /// Starts the token endpoint on 127.0.0.1 at a random port.
    pub async fn start() -> FakeOAuth {
        // Generate the key off the async threads before the first account needs it.
        tokio::task::spawn_blocking(rsa_key)
            .await
            .expect("testkit: RSA key task");
        let listener = Server::bind().await;
        let base = server::base_url(&listener.local_addr().expect("testkit: local_addr"));
        let state = Arc::new(OAuthState {
            token_uri: format!("{base}/token"),
            accounts: RwLock::default(),
            tokens: RwLock::default(),
            issued: AtomicUsize::new(0),
            expires_in: AtomicU64::new(3600),
            rejections: Mutex::default(),
            outage: AtomicU8::new(Outage::None as u8),
            first_request: Mutex::default(),
        });
        let router = Router::new()
            .route("/token", post(token))
            .with_state(state.clone());
        FakeOAuth {
            state,
            server: Arc::new(Server::serve(listener, router)),
        }
    }

    /// `http://127.0.0.1:PORT/token`, the `token_uri` of every key this fake makes.
    pub fn token_uri(&self) -> String {
        self.state.token_uri.clone()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// A service-account key file (JSON, PKCS#8 RSA key) for `project_id` that this fake accepts.
    pub fn service_account_json(&self, project_id: &str) -> String {
        let (key, pem) = rsa_key();
        let n = self.state.accounts_len() + 1;
        let client_email = format!("gatebell-push-{n}@{project_id}.iam.gserviceaccount.com");
        let client_id: u128 = 100_000_000_000_000_000_000 + u128::from(rand::random::<u64>());
        let private_key_id = hex(&rand::random::<[u8; 20]>());
        write(&self.state.accounts).insert(
            client_email.clone(),
            Account {
                project_id: project_id.to_owned(),
                public_key: key.to_public_key(),
            },
        );
        json!({
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": private_key_id,
            "private_key": pem,
            "client_email": client_email,
            "client_id": client_id.to_string(),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.state.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": format!(
                "https://www.googleapis.com/robot/v1/metadata/x509/{}",
                client_email.replace('@', "%40")
            ),
            "universe_domain": "googleapis.com",
        })
        .to_string()
    }

    /// How many access tokens the endpoint has issued (a caching client asks once per hour).
    pub fn tokens_issued(&self) -> usize {
        self.state.issued.load(Ordering::SeqCst)
    }

    /// Whether `token` was issued here, is unexpired and has not been revoked.
    pub fn is_valid_access_token(&self, token: &str) -> bool {
        self.state.access_token(token).is_some()
    }

    /// Why each rejected token request was rejected, oldest first (for failing tests' output).
    pub fn rejections(&self) -> Vec<String> {
        lock(&self.state.rejections).clone()
    }

    /// Sets `expires_in` of tokens issued from now on (default 3600 s), to exercise refresh.
    pub fn set_expires_in(&self, secs: u64) {
        self.state.expires_in.store(secs, Ordering::SeqCst);
    }

    /// When the first token request arrived (whatever it was answered), if one did.
    pub fn first_request_at(&self) -> Option<std::time::Instant> {
        *lock(&self.state.first_request)
    }

    /// Makes the endpoint refuse or hang from now on (or answer again, with [`Outage::None`]).
    pub fn set_outage(&self, outage: Outage) {
        self.state.outage.store(outage as u8, Ordering::SeqCst);
    }

    /// Invalidates every token issued so far, so FCM answers 401 until a new one is fetched.
    pub fn revoke_all_tokens(&self) {
        write(&self.state.tokens).clear();
    }

    /// Issues a token for `project_id` directly, for tests that bypass the JWT flow.
    pub fn mint_access_token(&self, project_id: &str) -> String {
        self.state.issue(project_id)
    }

    /// How many TCP connections the endpoint has accepted.
    pub fn connections(&self) -> usize {
        self.server.connections()
    }
}

impl OAuthState {
    fn accounts_len(&self) -> usize {
        read(&self.accounts).len()
    }

    pub(crate) fn access_token(&self, token: &str) -> Option<AccessToken> {
        let t = read(&self.tokens).get(token).cloned()?;
        (t.expires_at > unix_now()).then_some(t)
    }

    fn issue(&self, project_id: &str) -> String {
        // Real tokens start with "ya29."; keeping the prefix helps log-based debugging.
        let token = format!("ya29.fake-{}", crate::random_id(24));
        let expires_in = self.expires_in.load(Ordering::SeqCst) as i64;
        write(&self.tokens).insert(
            token.clone(),
            AccessToken {
                project_id: project_id.to_owned(),
                expires_at: unix_now() + expires_in,
            },
        );
        self.issued.fetch_add(1, Ordering::SeqCst);
        token
    }

    /// Checks the assertion as Google does and returns the account's project.
    fn verify_assertion(&self, assertion: &str) -> Result<String, String> {
        let jwt = jwt::parse(assertion)?;
        if jwt.alg() != Some("RS256") {
            return Err(format!("JWT alg must be RS256, got {:?}", jwt.alg()));
        }
        let iss = jwt.str_claim("iss").ok_or("JWT has no iss")?;
        let (project_id, public_key) = {
            let accounts = read(&self.accounts);
            let account = accounts
                .get(iss)
                .ok_or_else(|| format!("Invalid JWT: unknown service account {iss}"))?;
            (account.project_id.clone(), account.public_key.clone())
        };
        public_key
            .pkcs1v15_verify::<Sha256>(jwt.signing_input.as_bytes(), &jwt.signature)
            .map_err(|_| "Invalid JWT Signature.".to_string())?;
        let aud = jwt.str_claim("aud").ok_or("JWT has no aud")?;
        if aud != self.token_uri {
            return Err(format!(
                "Invalid JWT: aud {aud:?} is not the token URI {:?}",
                self.token_uri
            ));
        }
        let scope = jwt.str_claim("scope").unwrap_or("");
        if !scope.split(' ').any(|s| FCM_SCOPES.contains(&s)) {
            return Err(format!("Invalid JWT: scope {scope:?} does not allow FCM"));
        }
        let iat = jwt.time_claim("iat").ok_or("JWT has no iat")?;
        let exp = jwt.time_claim("exp").ok_or("JWT has no exp")?;
        let now = unix_now();
        // Google allows a little clock skew on iat; exp must be within an hour of it.
        if iat > now + 60 {
            return Err("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.".into());
        }
        if exp <= iat || exp - iat > 3600 {
            return Err("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.".into());
        }
        if exp <= now {
            return Err("Invalid JWT: Token has expired.".into());
        }
        Ok(project_id)
    }
}

async fn token(
    State(state): State<Arc<OAuthState>>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let reject = |status: StatusCode, error: &str, description: String| {
        lock(&state.rejections).push(description.clone());
        (
            status,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response()
    };
    lock(&state.first_request).get_or_insert_with(std::time::Instant::now);
    match state.outage.load(Ordering::SeqCst) {
        x if x == Outage::Hang as u8 => std::future::pending::<()>().await,
        x if x == Outage::Refuse as u8 => {
            return reject(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Invalid JWT Signature.".into(),
            );
        }
        _ => {}
    }
    let Ok(Form(form)) = form else {
        return reject(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "body must be application/x-www-form-urlencoded".into(),
        );
    };
    match form.get("grant_type").map(String::as_str) {
        Some(GRANT_TYPE) => {}
        other => {
            return reject(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("Invalid grant_type: {}", other.unwrap_or("")),
            );
        }
    }
    let Some(assertion) = form.get("assertion") else {
        return reject(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: assertion".into(),
        );
    };
    match state.verify_assertion(assertion) {
        Ok(project_id) => {
            let access_token = state.issue(&project_id);
            Json(json!({
                "access_token": access_token,
                "expires_in": state.expires_in.load(Ordering::SeqCst),
                "token_type": "Bearer",
            }))
            .into_response()
        }
        Err(description) => reject(StatusCode::BAD_REQUEST, "invalid_grant", description),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

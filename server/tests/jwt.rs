//! Sign-in with an existing backend's JWTs, over a real socket, on SQLite and on PostgreSQL:
//! tokens signed with keys of a local JWKS (RS256, ES256) or an HS256 secret sign in and use
//! the API; every kind of bad token is a 401 JSON error; the key set is fetched again for an
//! unknown `kid` at most once a minute; the flags refuse to start half-configured.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use common::{Backend, TestApp, assert_error, scalar, serve_args};
use gatebell_server::config::Config;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ISSUER: &str = "https://backend.test";
const AUDIENCE: &str = "gatebell";
const HS_SECRET: &str = "a-shared-secret-of-at-least-32-characters";
const GUARD: &str = "guard@demo.gatebell";

/// A signing key and its public JWK.
struct Key {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

impl Key {
    fn new(kid: &str, alg: Algorithm, encoding: EncodingKey) -> Key {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
        jwk.common.key_id = Some(kid.into());
        Key {
            kid: kid.into(),
            alg,
            jwk: serde_json::to_value(&jwk).unwrap(),
            encoding,
        }
    }

    /// An RSA key (one per process: 2048-bit generation takes a moment).
    fn rsa(kid: &str) -> Key {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        static DER: OnceLock<Vec<u8>> = OnceLock::new();
        let der = DER.get_or_init(|| {
            let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
            key.to_pkcs1_der().unwrap().as_bytes().to_vec()
        });
        Key::new(kid, Algorithm::RS256, EncodingKey::from_rsa_der(der))
    }

    /// A new P-256 key.
    fn ec(kid: &str) -> Key {
        use p256::pkcs8::EncodePrivateKey;
        let key = p256::SecretKey::random(&mut rand::thread_rng());
        let der = key.to_pkcs8_der().unwrap();
        Key::new(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(der.as_bytes()),
        )
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.encoding).unwrap()
    }
}

/// Claims of a valid token for `sub` with `role` (and `unit`).
fn claims(sub: &str, role: &str, unit: Option<&str>) -> Value {
    let now = get_current_timestamp();
    let mut c = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "role": role,
        "iat": now, "nbf": now - 10, "exp": now + 600, "name": format!("External {sub}"),
    });
    if let Some(u) = unit {
        c["unit"] = json!(u);
    }
    c
}

/// A local JWKS server over HTTPS, with a certificate of a test CA the server under test is
/// told to trust (`--extra-ca-file`), so the key set is fetched as in production: https only,
/// through the guarded client. Its key set a test may change; it counts its requests.
struct KeyServer {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
    https: gatebell_testkit::tls::HttpsServer,
    /// The test CA's certificate, as a file.
    ca_file: String,
    _dir: tempfile::TempDir,
}

impl KeyServer {
    async fn start(keys: &[&Key]) -> KeyServer {
        let set = Arc::new(Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect()));
        let hits = Arc::new(AtomicUsize::new(0));
        let (s, h) = (set.clone(), hits.clone());
        let app = axum::Router::new()
            .route(
                "/jwks.json",
                axum::routing::get(move || {
                    let (s, h) = (s.clone(), h.clone());
                    async move {
                        h.fetch_add(1, Ordering::SeqCst);
                        // Fresh for as short a time as the server allows (a minute, unless a
                        // test lowers it with --jwt-jwks-min-max-age-ms).
                        (
                            [(axum::http::header::CACHE_CONTROL, "max-age=0")],
                            axum::Json(json!({ "keys": *s.lock().unwrap() })),
                        )
                    }
                }),
            )
            .route(
                "/moved.json",
                axum::routing::get(|| async { axum::response::Redirect::temporary("/jwks.json") }),
            );
        let ca = gatebell_testkit::tls::TestCa::new();
        let https = ca.serve_https(app).await;
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.ca_pem()).unwrap();
        KeyServer {
            url: format!("{}/jwks.json", https.base_url()),
            keys: set,
            hits,
            https,
            ca_file: ca_file.display().to_string(),
            _dir: dir,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A server fetching its keys from `jwks` as in production (https, the guarded client), trusting
/// the key server's test CA.
async fn start_with_jwks(b: Backend, jwks: &KeyServer, extra: &[&str]) -> TestApp {
    start_with_jwks_url(b, &jwks.url, &["--extra-ca-file", &jwks.ca_file], extra).await
}

async fn start_with_jwks_url(b: Backend, url: &str, trust: &[&str], extra: &[&str]) -> TestApp {
    let mut flags = vec![
        "--jwt-jwks-url",
        url,
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
    ];
    flags.extend_from_slice(trust);
    flags.extend_from_slice(extra);
    TestApp::start_with(b, &flags).await
}

async fn jwks_tokens_sign_in_and_use_the_api(b: Backend) {
    let rsa = Key::rsa("rsa-1");
    let ec = Key::ec("ec-1");
    let jwks = KeyServer::start(&[&rsa, &ec]).await;
    let app = start_with_jwks(b, &jwks, &[]).await;

    // A resident (RS256), made on first sight with their unit.
    let resident = rsa.sign(&claims("ext-res-1", "resident", Some("C-303")));
    let (s, me) = app.get("/api/v1/me", &resident).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "resident");
    assert_eq!(me["unit"], "C-303");
    assert_eq!(me["name"], "External ext-res-1");
    let id = me["id"].as_str().unwrap().to_owned();
    // The second request finds the same user.
    let (_, again) = app.get("/api/v1/me", &resident).await;
    assert_eq!(again["id"], id.as_str());
    let sql = format!("SELECT COUNT(*) FROM users WHERE external_id = 'ext-res-1' AND id = '{id}'");
    assert_eq!(scalar(&app.state().db, &sql).await, 1);

    // They register a device, and approve a walk-in a guard (a local session) announces.
    let (s, d) = app
        .post(
            "/api/v1/notifications/register-device",
            &resident,
            json!({"token": "fcm-ext-1", "platform": "android"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let guard = app.login(GUARD).await;
    let (s, visit) = app
        .post(
            "/api/v1/visits/walkin",
            &guard,
            json!({"visitorName": "Courier", "hostId": id, "purpose": "parcel"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{visit}");
    let visit_id = visit["id"].as_str().unwrap();
    let (s, decided) = app
        .post(
            &format!("/api/v1/visits/{visit_id}/approve"),
            &resident,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "APPROVED");

    // A guard (ES256), and the resident's role changing with their next token.
    let g = ec.sign(&claims("ext-guard-1", "guard", None));
    let (s, me) = app.get("/api/v1/me", &g).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "guard");
    let promoted = rsa.sign(&claims("ext-res-1", "admin", None));
    let (_, me) = app.get("/api/v1/me", &promoted).await;
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["role"], "admin");
    assert_eq!(me["unit"], Value::Null);
    assert_eq!(jwks.hits(), 1, "the key set is cached");
}

async fn bad_tokens_are_refused_with_401(b: Backend) {
    let rsa = Key::rsa("rsa-1");
    let ec = Key::ec("ec-1");
    let jwks = KeyServer::start(&[&rsa, &ec]).await;
    let app = start_with_jwks(b, &jwks, &[]).await;
    let now = get_current_timestamp();
    let good = claims("ext-1", "resident", Some("A-101"));
    let with = |field: &str, value: Value| {
        let mut c = good.clone();
        c[field] = value;
        c
    };
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let valid = rsa.sign(&good);
    let (signed, sig) = valid.rsplit_once('.').unwrap();

    let mut cases: Vec<(&str, String)> = vec![
        ("expired", rsa.sign(&with("exp", json!(now - 600)))),
        ("not yet valid", rsa.sign(&with("nbf", json!(now + 600)))),
        (
            "wrong issuer",
            rsa.sign(&with("iss", json!("https://other.test"))),
        ),
        (
            "wrong audience",
            rsa.sign(&with("aud", json!("another-service"))),
        ),
        ("unknown kid", Key::ec("ec-unknown").sign(&good)),
        ("no sub", {
            let mut c = good.clone();
            c.as_object_mut().unwrap().remove("sub");
            rsa.sign(&c)
        }),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"})),
                b64(&good)
            ),
        ),
        (
            // Algorithm confusion: HS256 with the public key as the secret.
            "HS256 where RS256 is configured",
            {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = Some("rsa-1".into());
                let secret = rsa.jwk["n"].as_str().unwrap().as_bytes().to_vec();
                encode(&header, &good, &EncodingKey::from_secret(&secret)).unwrap()
            },
        ),
        ("bad signature", {
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(sig)
                .unwrap();
            let mut sig = sig;
            sig[10] ^= 1;
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig);
            format!("{signed}.{sig}")
        }),
        ("another key under a known kid", Key::ec("ec-1").sign(&good)),
        ("not a JWT at all", "a.b.c".into()),
    ];
    // An ES256 key's kid on an RS256 token: the key decides the algorithm.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("ec-1".into());
    cases.push((
        "RS256 under an EC key's kid",
        encode(&header, &good, &rsa.encoding).unwrap(),
    ));
    for (what, token) in &cases {
        let got = app.get("/api/v1/me", token).await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{what}: {}", got.1);
        assert_error(&got, 401, "unauthorized");
        // Each is refused for its own reason, not by accident.
        let reason = match *what {
            "expired" => "has expired",
            "not yet valid" => "not valid yet",
            "wrong issuer" => "issuer",
            "wrong audience" => "audience",
            "unknown kid" => "unknown",
            "no sub" => "`sub`",
            "alg none" | "not a JWT at all" => "well-formed",
            "HS256 where RS256 is configured" => "not accepted",
            "RS256 under an EC key's kid" => "does not match",
            _ => "signature does not verify",
        };
        let message = got.1["error"]["message"].as_str().unwrap();
        assert!(message.contains(reason), "{what}: {message}");
    }
    // The valid token works, and none of the refused ones made a user.
    assert_eq!(app.get("/api/v1/me", &valid).await.0, StatusCode::OK);
    let n = scalar(
        &app.state().db,
        "SELECT COUNT(*) FROM users WHERE external_id IS NOT NULL",
    )
    .await;
    assert_eq!(n, 1);
}

async fn a_role_gatebell_does_not_know_is_refused(b: Backend) {
    let rsa = Key::rsa("rsa-1");
    let jwks = KeyServer::start(&[&rsa]).await;
    let app = start_with_jwks(b, &jwks, &[]).await;
    let got = app
        .get("/api/v1/me", &rsa.sign(&claims("ext-1", "superuser", None)))
        .await;
    assert_error(&got, 403, "forbidden");
    let got = app
        .get("/api/v1/me", &rsa.sign(&claims("ext-1", "resident", None)))
        .await;
    assert_error(&got, 403, "forbidden");
    // A custom role claim.
    let app = start_with_jwks(b, &jwks, &["--jwt-role-claim", "gatebell_role"]).await;
    let mut c = claims("ext-2", "superuser", None);
    c["gatebell_role"] = json!("guard");
    let (s, me) = app.get("/api/v1/me", &rsa.sign(&c)).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "guard");
}

async fn an_unknown_kid_refetches_the_keys_at_most_once_a_minute(b: Backend) {
    let rsa = Key::rsa("rsa-1");
    let jwks = KeyServer::start(&[&rsa]).await;
    let app = start_with_jwks(b, &jwks, &[]).await;
    let (s, _) = app
        .get("/api/v1/me", &rsa.sign(&claims("ext-1", "guard", None)))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(jwks.hits(), 1);
    // A rotated-in key within the minute is not fetched again, however often it is shown.
    let fresh = Key::ec("ec-new");
    jwks.keys.lock().unwrap().push(fresh.jwk.clone());
    for _ in 0..3 {
        let got = app
            .get("/api/v1/me", &fresh.sign(&claims("ext-1", "guard", None)))
            .await;
        assert_error(&got, 401, "unauthorized");
    }
    assert_eq!(jwks.hits(), 1, "refetched within the minute");

    // With the interval passed (shortened here), an unknown kid is fetched, then known.
    let app = start_with_jwks(b, &jwks, &["--jwt-jwks-min-refetch-ms", "0"]).await;
    let before = jwks.hits();
    let later = Key::ec("ec-later");
    jwks.keys.lock().unwrap().push(later.jwk.clone());
    for _ in 0..2 {
        let (s, me) = app
            .get("/api/v1/me", &later.sign(&claims("ext-1", "guard", None)))
            .await;
        assert_eq!(s, StatusCode::OK, "{me}");
    }
    assert_eq!(jwks.hits(), before + 1);
}

async fn hs256_secret_tokens_sign_in_and_others_do_not(b: Backend) {
    let app = TestApp::start_with(
        b,
        &[
            "--jwt-hs256-secret",
            HS_SECRET,
            "--jwt-issuer",
            ISSUER,
            "--jwt-audience",
            AUDIENCE,
        ],
    )
    .await;
    let hs = |secret: &str, c: &Value| {
        encode(
            &Header::new(Algorithm::HS256),
            c,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let (s, me) = app
        .get(
            "/api/v1/me",
            &hs(HS_SECRET, &claims("ext-9", "admin", None)),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "admin");
    let wrong = hs(
        "another-secret-of-at-least-32-characters",
        &claims("ext-9", "admin", None),
    );
    assert_error(&app.get("/api/v1/me", &wrong).await, 401, "unauthorized");
    let rs = Key::rsa("rsa-1").sign(&claims("ext-9", "admin", None));
    assert_error(&app.get("/api/v1/me", &rs).await, 401, "unauthorized");
    // Local sessions still work beside JWTs.
    let guard = app.login(GUARD).await;
    assert_eq!(app.get("/api/v1/me", &guard).await.0, StatusCode::OK);
}

async fn a_jwt_users_session_ends_like_any_other(b: Backend) {
    const SERVICE_KEY: &str = "test-service-key-0123456789";
    let rsa = Key::rsa("rsa-1");
    let jwks = KeyServer::start(&[&rsa]).await;
    let app = start_with_jwks(b, &jwks, &["--service-key", SERVICE_KEY]).await;
    let token = rsa.sign(&claims("ext-5", "resident", Some("D-404")));

    // Several first requests at once make one user, with one session.
    let calls: Vec<_> = (0..4).map(|_| app.get("/api/v1/me", &token)).collect();
    for (s, me) in futures::future::join_all(calls).await {
        assert_eq!(s, StatusCode::OK, "{me}");
    }
    let db = &app.state().db;
    let users = "SELECT COUNT(*) FROM users WHERE external_id = 'ext-5'";
    assert_eq!(scalar(db, users).await, 1);
    let sessions = "SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id
                    WHERE u.external_id = 'ext-5'";
    assert_eq!(scalar(db, sessions).await, 1);
    let (_, list) = app.get("/api/v1/auth/sessions", &token).await;
    assert_eq!(list[0]["current"], true, "{list}");
    let first_session = list[0]["id"].clone();

    // The event stream takes the JWT too, as `?access_token=` (a browser's EventSource sends
    // no headers).
    let stream = app
        .http
        .get(format!(
            "{}/api/v1/notifications/stream?access_token={token}",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    drop(stream);

    // Logging out drops the devices registered under the session; the next token starts one.
    let (s, d) = app
        .post(
            "/api/v1/notifications/register-device",
            &token,
            json!({"token": "fcm-ext-5", "platform": "android"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let devices = "SELECT COUNT(*) FROM devices WHERE token = 'fcm-ext-5'";
    assert_eq!(scalar(db, devices).await, 1);
    let (s, _) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(scalar(db, devices).await, 0);
    let (s, list) = app.get("/api/v1/auth/sessions", &token).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_ne!(list[0]["id"], first_session, "{list}");

    // A disabled account is refused whatever its tokens say (the backend names it by `sub`).
    let (s, v) = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/internal/users/ext-5/disabled",
            Some(SERVICE_KEY),
            Some(json!({"disabled": true})),
        )
        .await;
    assert!(s.is_success(), "{s}: {v}");
    assert_error(&app.get("/api/v1/me", &token).await, 403, "forbidden");
}

/// The key set comes only over https that the server trusts, from the address the URL names,
/// through the guarded client: each way around it (an untrusted certificate, a name resolving
/// to a private address, a redirect) leaves the token unverified (503: the issuer's keys could
/// not be fetched) and the key set unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_set_is_fetched_only_over_trusted_https_through_the_guarded_client() {
    let rsa = Key::rsa("rsa-1");
    let jwks = KeyServer::start(&[&rsa]).await;
    let token = rsa.sign(&claims("ext-9", "guard", None));
    let trusted = ["--extra-ca-file", jwks.ca_file.as_str()];
    let moved = jwks.url.replace("/jwks.json", "/moved.json");
    let localhost = format!("{}/jwks.json", jwks.https.localhost_url());
    for (url, trust, why) in [
        (
            jwks.url.as_str(),
            &[][..],
            "a certificate of a CA it was not told to trust",
        ),
        (
            localhost.as_str(),
            &trusted[..],
            "a name that resolves to a private address",
        ),
        (
            moved.as_str(),
            &trusted[..],
            "a redirect, even to the right place",
        ),
    ] {
        let app = start_with_jwks_url(Backend::Sqlite, url, trust, &[]).await;
        let got = app.get("/api/v1/me", &token).await;
        assert_error(&got, 503, "unavailable");
        assert_eq!(jwks.hits(), 0, "the key set was read despite {why}");
        app.stop().await;
    }
    // Control: the same key server, trusted and named by its address, signs the token in.
    let app = start_with_jwks(Backend::Sqlite, &jwks, &[]).await;
    let (s, v) = app.get("/api/v1/me", &token).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(jwks.hits(), 1);
    app.stop().await;
}

/// The backend rotates its keys: one it removed from its set stops working once the set's
/// `max-age` has passed (lowered here to a fifth of a second), and a refresh that fails keeps the
/// last good set working.
async fn a_key_removed_from_the_set_stops_working_at_the_next_refresh(b: Backend) {
    let old = Key::rsa("rsa-old");
    let new = Key::ec("ec-new");
    let jwks = KeyServer::start(&[&old, &new]).await;
    let app = start_with_jwks(b, &jwks, &["--jwt-jwks-min-max-age-ms", "200"]).await;
    let with_old = old.sign(&claims("ext-rot", "guard", None));
    let with_new = new.sign(&claims("ext-rot", "guard", None));
    assert_eq!(app.get("/api/v1/me", &with_old).await.0, StatusCode::OK);

    // The old key leaves the set: refused once the set is fetched again.
    *jwks.keys.lock().unwrap() = vec![new.jwk.clone()];
    let start = std::time::Instant::now();
    let refused = loop {
        let got = app.get("/api/v1/me", &with_old).await;
        if got.0 != StatusCode::OK {
            break got;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "the removed key still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_error(&refused, 401, "unauthorized");
    assert_eq!(app.get("/api/v1/me", &with_new).await.0, StatusCode::OK);
    assert!(jwks.hits() >= 2, "{} fetches", jwks.hits());
}

on_both_backends!(
    a_jwt_users_session_ends_like_any_other,
    a_key_removed_from_the_set_stops_working_at_the_next_refresh,
    jwks_tokens_sign_in_and_use_the_api,
    bad_tokens_are_refused_with_401,
    a_role_gatebell_does_not_know_is_refused,
    an_unknown_kid_refetches_the_keys_at_most_once_a_minute,
    hs256_secret_tokens_sign_in_and_others_do_not,
);

#[test]
fn jwt_flags_refuse_to_start_half_configured() {
    let db = "sqlite://unused.db?mode=rwc";
    let refused = |flags: &[&str]| {
        Config::from_args(serve_args(db, flags))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let msg = refused(&["--jwt-hs256-secret", HS_SECRET]);
    assert!(msg.contains("--jwt-issuer and --jwt-audience"), "{msg}");
    let msg = refused(&[
        "--jwt-jwks-url",
        "https://backend.test/jwks.json",
        "--jwt-issuer",
        ISSUER,
    ]);
    assert!(msg.contains("--jwt-issuer and --jwt-audience"), "{msg}");
    let msg = refused(&[
        "--jwt-hs256-secret",
        "short",
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
    ]);
    assert!(msg.contains("at least 32"), "{msg}");
    let msg = refused(&[
        "--jwt-jwks-url",
        "http://backend.test/jwks.json",
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
    ]);
    assert!(msg.contains("must be an https: URL"), "{msg}");
    // Only the development flag admits plain http (a local key server in other suites).
    assert!(
        Config::from_args(serve_args(
            db,
            &[
                "--jwt-jwks-url",
                "http://127.0.0.1:9/jwks.json",
                "--jwt-jwks-allow-private",
                "--jwt-issuer",
                ISSUER,
                "--jwt-audience",
                AUDIENCE
            ]
        ))
        .is_ok()
    );
    let msg = refused(&[
        "--extra-ca-file",
        "/nonexistent/ca.pem",
        "--jwt-hs256-secret",
        HS_SECRET,
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
    ]);
    assert!(msg.contains("--extra-ca-file /nonexistent/ca.pem"), "{msg}");
    let msg = refused(&["--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE]);
    assert!(
        msg.contains("need --jwt-jwks-url or --jwt-hs256-secret"),
        "{msg}"
    );
    assert!(
        Config::from_args(serve_args(
            db,
            &[
                "--jwt-hs256-secret",
                HS_SECRET,
                "--jwt-issuer",
                ISSUER,
                "--jwt-audience",
                AUDIENCE
            ]
        ))
        .is_ok()
    );
}

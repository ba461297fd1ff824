//! Gatebell's server: accounts, visits, the in-app inbox, the device registry and push
//! delivery. `main.rs` only parses flags; tests start the very same app with [`start`].
//!
//! Layers, bottom to top; nothing imports from a layer above it:
//! `error`, `config`, `codes` → `db` (pools, transactions, and the per-area store functions that own
//! the SQL) and `events` (the event bus) and `push` (outbox dispatcher and senders) and
//! `webhooks` (the backend's signed webhooks and their sender) and `messages` (the SMS and
//! email outbox senders) → `state` ([`AppState`]) → `auth` (extractors) → the handlers per area
//! (`accounts`, `visits`, `notifications`, `devices`, `internal`, `stream`, `health`, `site`,
//! `links`: the pages of the links in texts and emails) and `housekeeping` (expired sessions,
//! retention), `expiry` (walk-ins nobody answered) and `escalation` (texting and emailing them)
//! → this file (router, start).

pub mod accounts;
pub mod auth;
pub mod codes;
pub mod config;
pub mod db;
pub mod devices;
pub mod egress;
pub mod error;
pub mod escalation;
pub mod events;
pub mod expiry;
pub mod headers;
pub mod health;
pub mod housekeeping;
pub mod internal;
pub mod jwt;
pub mod lane;
pub mod links;
pub mod listener;
pub mod messages;
pub mod notifications;
pub mod openapi;
pub mod push;
pub mod site;
pub mod state;
pub mod stream;
pub mod throttle;
pub mod visits;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::any;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Config;
use crate::db::Db;
use crate::error::ApiError;
use crate::events::Events;
use crate::push::PushHandle;
use crate::push::dispatcher::{self, DispatcherConfig, Senders};
use crate::push::fcm::FcmSender;
use crate::push::metrics::PushMetrics;
use crate::push::webpush::{VapidKeys, WebPushSender};
use crate::state::AppState;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest time a client may take to send a request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The API's routes and their OpenAPI description, from one declaration per handler.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(auth::router())
        .merge(accounts::router())
        .merge(visits::router())
        .merge(notifications::router())
        .merge(devices::router())
        .merge(internal::router())
        .routes(routes!(stream::stream))
        .split_for_parts();
    openapi::add_shared_errors(&mut doc);
    (router, doc)
}

async fn no_such_endpoint() -> ApiError {
    ApiError::not_found("no such API endpoint")
}

/// The whole HTTP app.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let mut api = api.method_not_allowed_fallback(|| async {
        ApiError::MethodNotAllowed("this endpoint does not take that method".into())
    });
    if let Some(cors) = cors(&state.config.args.cors_origins) {
        api = api.layer(cors);
    }
    Router::new()
        .merge(api)
        // Unknown paths under the API answer in JSON; everything else is the web demo.
        .route("/api/v1", any(no_such_endpoint))
        .route("/api/v1/{*rest}", any(no_such_endpoint))
        .merge(openapi::router(doc))
        .merge(health::router())
        .merge(links::router())
        .fallback(site::serve)
        .layer(axum::middleware::from_fn(headers::secure))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A body trickled in byte by byte must not hold a request open.
        .layer(RequestBodyTimeoutLayer::new(BODY_TIMEOUT))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("a handler panicked")).into_response_owned()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// CORS for the API, for browser apps on the listed origins (exact matches, checked by
/// [`Config::from_args`]); none when no origin is listed. Bearer tokens travel in
/// `Authorization`, so no credentials (cookies) are allowed.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderValue, Method, header};
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(Duration::from_secs(600)),
    )
}

/// The span of a request: its method and route template (`/a/{token}`), never the path
/// itself, which can carry a secret (a one-tap link's token) — nor the query, where the event
/// stream takes its bearer token as `?access_token=` (EventSource cannot send headers). A
/// request no route matched (the static site, an unknown path) is logged as `fallback`.
fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("fallback", |p| p.as_str());
    tracing::debug_span!("request", method = %req.method(), route = %route)
}

impl ApiError {
    fn into_response_owned(self) -> axum::response::Response {
        axum::response::IntoResponse::into_response(self)
    }
}

/// A running server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    pub state: AppState,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    dispatcher: tokio::task::JoinHandle<()>,
    /// Webhook sender, SMS and email lanes, housekeeping, expiry and escalation sweeps: each
    /// ends when `stop` turns true.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests and closes the database.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        // The listener gives requests their grace period; this bounds the rest.
        let grace = Duration::from_secs(self.state.config.args.shutdown_grace_secs + 1);
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            self.task.abort();
        }
        let _ = self.dispatcher.await;
        for task in self.background {
            let _ = task.await;
        }
        self.state.db.close().await;
    }
}

/// Connects the database (migrating it), seeds the demo when asked, binds and serves.
pub async fn start(mut config: Config) -> anyhow::Result<Server> {
    let listener = tokio::net::TcpListener::bind(config.args.listen).await?;
    let addr = listener.local_addr()?;
    // Links in texts and emails need a real address, not `--listen 127.0.0.1:0`.
    config
        .args
        .public_url
        .get_or_insert_with(|| format!("http://{addr}"));
    let db = Db::connect(&config.args.database_url).await?;
    if config.args.demo {
        let created = accounts::seed_demo(&db).await?;
        tracing::info!(created, "demo community ready");
    }
    let vapid = vapid_keys(&db, config.args.vapid_private_key.as_deref()).await?;
    let code_key = code_key(&db, config.args.code_secret.as_deref()).await?;
    let fcm = match &config.args.fcm_credentials {
        Some(path) => {
            let json = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            Some(FcmSender::new(&config.args.fcm_endpoint, &json)?)
        }
        None => None,
    };
    let senders = Arc::new(Senders {
        fcm,
        webpush: WebPushSender::new(
            &vapid,
            &config.args.vapid_subject,
            config.allow_list.clone(),
        )?
        .with_previous_key(
            config
                .args
                .vapid_previous_private_key
                .as_deref()
                .map(VapidKeys::from_private)
                .transpose()?
                .as_ref(),
        )?,
    });
    let site_dir = site::resolve_dir(config.args.static_dir.as_deref());
    let login_limits = throttle::LoginLimits::new(
        config.args.login_per_ip_per_minute,
        config.args.login_per_account_per_minute,
    );
    let jwt = jwt::JwtAuth::from_config(&config)?.map(Arc::new);
    let metrics = PushMetrics::default();
    if let Some(failures) = jwt.as_ref().and_then(|j| j.refresh_failures()) {
        metrics.register(failures)?;
    }
    let decisions_per_ip = config.args.decisions_per_ip_per_minute;
    let walkins_per_guard = config.args.walkins_per_guard_per_minute;
    let texts_per_recipient = config.args.texts_per_recipient_per_hour;
    let (stop, stopped) = watch::channel(false);
    let state = AppState {
        db: db.clone(),
        config: Arc::new(config),
        push: match db.postgres() {
            Some(pool) => PushHandle::with_postgres(pool.clone()),
            None => PushHandle::default(),
        },
        events: match db.postgres() {
            Some(pool) => Events::with_postgres(pool.clone()),
            None => Events::default(),
        },
        metrics,
        vapid_public_key: vapid.public_key.into(),
        site_dir,
        stopping: stop.subscribe(),
        hash_pool: Arc::new(throttle::HashPool::per_core()),
        login_limits,
        decision_limits: throttle::KeyedLimit::per_minute(
            decisions_per_ip,
            "decisions and link pages from this address",
        ),
        walkin_limits: throttle::KeyedLimit::per_minute(
            walkins_per_guard,
            "walk-ins from this guard",
        ),
        text_limits: throttle::KeyedLimit::per_hour(texts_per_recipient, "texts to this person"),
        code_key,
        streams: throttle::StreamSlots::default(),
        jwt,
    };
    let dispatcher = dispatcher::spawn(
        state.db.clone(),
        senders,
        state.push.clone(),
        state.metrics.clone(),
        DispatcherConfig {
            concurrency: state.config.args.push_concurrency,
            lease_ms: state.config.args.claim_lease_ms,
            grace: Duration::from_secs(state.config.args.shutdown_grace_secs),
        },
        stop.subscribe(),
    );
    let mut background = messages::spawn(
        &state.db,
        &state.config,
        &state.push,
        &state.metrics,
        &stop.subscribe(),
    )?;
    background.extend(webhooks::spawn(
        state.db.clone(),
        &state.config,
        &state.push,
        state.metrics.clone(),
        stop.subscribe(),
    )?);
    background.extend(escalation::spawn(state.clone(), stop.subscribe()));
    background.push(housekeeping::spawn(state.clone(), stop.subscribe()));
    background.push(expiry::spawn(state.clone(), stop.subscribe()));
    let app = router(state.clone());
    let limits = listener::Limits {
        max_connections: state.config.args.max_connections,
        header_timeout: Duration::from_secs(state.config.args.header_timeout_secs),
        grace: Duration::from_secs(state.config.args.shutdown_grace_secs),
    };
    let task = tokio::spawn(listener::serve(listener, app, limits, stopped));
    Ok(Server {
        addr,
        state,
        stop,
        task,
        dispatcher,
        background,
    })
}

/// The VAPID key pair: the configured one, else the one stored in the database, else a new
/// one stored there (the first instance to store it wins).
async fn vapid_keys(db: &Db, configured: Option<&str>) -> anyhow::Result<VapidKeys> {
    if let Some(k) = configured {
        return VapidKeys::from_private(k);
    }
    if let Some(k) = db::settings::get(db, "vapid_private_key").await? {
        return VapidKeys::from_private(&k);
    }
    let fresh = VapidKeys::generate();
    let mut tx = db.begin().await?;
    let won =
        db::settings::insert_if_absent(&mut tx, "vapid_private_key", &fresh.private_key).await?;
    tx.commit().await?;
    VapidKeys::from_private(&won)
}

/// The key of the codes' HMAC: the configured secret, else the one stored in the database, else
/// a new one stored there (the first instance to store it wins, so instances agree).
async fn code_key(db: &Db, configured: Option<&str>) -> anyhow::Result<codes::CodeKey> {
    if let Some(k) = configured {
        return Ok(codes::CodeKey::new(k));
    }
    if let Some(k) = db::settings::get(db, codes::SECRET_SETTING).await? {
        return Ok(codes::CodeKey::new(&k));
    }
    let fresh = auth::random_token(32);
    let mut tx = db.begin().await?;
    let won = db::settings::insert_if_absent(&mut tx, codes::SECRET_SETTING, &fresh).await?;
    tx.commit().await?;
    Ok(codes::CodeKey::new(&won))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use gatebell_core::protocol::paths;

    /// Log lines, collected.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn request_logs_carry_neither_the_path_nor_the_query() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            // No route matched this request (the router sets `MatchedPath` when one does; the
            // log scan test sees `/a/{token}` there), so it is logged as the fallback.
            let req = axum::http::Request::get("/a/s3cret-link-token?access_token=s3cret-token")
                .body(())
                .unwrap();
            let span = super::request_span(&req);
            let _entered = span.enter();
            tracing::info!("finished processing request");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("route=fallback"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(!text.contains("access_token"), "{text}");
    }

    #[test]
    fn every_client_path_is_routed_and_described() {
        let (_, doc) = super::api();
        let described: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        let client_paths = [
            paths::LOGIN,
            paths::LOGOUT,
            paths::LOGOUT_ALL,
            paths::SESSIONS,
            paths::ME,
            paths::PREFERENCES,
            paths::RESIDENTS,
            paths::VISITS,
            paths::VISIT_CHECKIN,
            paths::VISIT_WALKIN,
            paths::VISIT,
            paths::VISIT_APPROVE,
            paths::VISIT_REJECT,
            paths::VISIT_DECISION,
            paths::MY_REQUESTS,
            paths::NOTIFICATIONS,
            paths::NOTIFICATION_READ,
            paths::NOTIFICATIONS_READ_ALL,
            paths::STREAM,
            paths::REGISTER_DEVICE,
            paths::UNREGISTER_DEVICE,
            paths::VAPID_PUBLIC_KEY,
            paths::INTERNAL_NOTIFY,
            paths::INTERNAL_USER_DISABLED,
            paths::INTERNAL_USER,
            paths::INTERNAL_WALKINS,
            paths::INTERNAL_CHECKINS,
        ];
        for p in client_paths {
            assert!(described.contains(&p), "{p} is not in the API description");
        }
        assert_eq!(described.len(), client_paths.len(), "{described:?}");
    }
}

//! Gatebell's server: accounts, visits, the in-app inbox, the device registry and push
//! delivery. `main.rs` only parses flags; tests start the very same app with [`start`].
//!
//! Layers, bottom to top; nothing imports from a layer above it (`cargo xtask layers`
//! checks, and `docs/ARCHITECTURE.md` describes each): `error`, `config`, `metrics`, `texts`
//! (every word written for a person, per language) → `db` (all SQL) → `events` → `channels`
//! (FCM, Web Push, SMS, email, webhook signing) → `outbox` (the queue workers) → `access`
//! (code keys, JWT, rate limits) → `state` ([`AppState`]) → `domain` (visits, notifications,
//! escalation) → `jobs` (expiry, escalation, housekeeping) → `http` (router and handlers) →
//! this file (start).

pub mod access;
pub mod channels;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod outbox;
pub mod state;
pub mod texts;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::channels::fcm::FcmSender;

use crate::access::{codes, jwt, throttle};
use crate::channels::webpush::{VapidKeys, WebPushSender};
use crate::config::Config;
use crate::db::Db;
use crate::events::Events;
use crate::http::{accounts, listener, site};
use crate::jobs::{escalation, expiry, housekeeping};
use crate::metrics::PushMetrics;
use crate::outbox::dispatcher::{self, DispatcherConfig, Senders};
use crate::outbox::push::PushHandle;
use crate::outbox::{messages, webhooks};
use crate::state::AppState;

pub use crate::http::{MAX_BODY_BYTES, api, router};

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
        let grace = Duration::from_secs(self.state.config.args.http.shutdown_grace_secs + 1);
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
    let listener = tokio::net::TcpListener::bind(config.args.http.listen).await?;
    let addr = listener.local_addr()?;
    // Links in texts and emails need a real address, not `--listen 127.0.0.1:0`.
    config
        .args
        .http
        .public_url
        .get_or_insert_with(|| format!("http://{addr}"));
    let db = Db::connect(&config.args.store.database_url).await?;
    if config.args.store.demo {
        let created = accounts::seed_demo(&db).await?;
        tracing::info!(created, "demo community ready");
    }
    let vapid = vapid_keys(&db, config.args.push.vapid_private_key.as_deref()).await?;
    let code_key = code_key(&db, config.args.access.code_secret.as_deref()).await?;
    let fcm = match &config.args.push.fcm_credentials {
        Some(path) => {
            let json = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            Some(FcmSender::new(&config.args.push.fcm_endpoint, &json)?)
        }
        None => None,
    };
    let senders = Arc::new(Senders {
        fcm,
        webpush: WebPushSender::new(
            &vapid,
            &config.args.push.vapid_subject,
            config.allow_list.clone(),
        )?
        .with_previous_key(
            config
                .args
                .push
                .vapid_previous_private_key
                .as_deref()
                .map(VapidKeys::from_private)
                .transpose()?
                .as_ref(),
        )?,
    });
    let site_dir = site::resolve_dir(config.args.http.static_dir.as_deref());
    let login_limits = throttle::LoginLimits::new(
        config.args.limits.login_per_ip_per_minute,
        config.args.limits.login_per_account_per_minute,
    );
    let jwt = jwt::JwtAuth::from_config(&config)?.map(Arc::new);
    let metrics = PushMetrics::default();
    if let Some(failures) = jwt.as_ref().and_then(|j| j.refresh_failures()) {
        metrics.register(failures)?;
    }
    let decisions_per_ip = config.args.limits.decisions_per_ip_per_minute;
    let walkins_per_guard = config.args.limits.walkins_per_guard_per_minute;
    let texts_per_recipient = config.args.limits.texts_per_recipient_per_hour;
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
            concurrency: state.config.args.push.push_concurrency,
            lease_ms: state.config.args.push.claim_lease_ms,
            grace: Duration::from_secs(state.config.args.http.shutdown_grace_secs),
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
        max_connections: state.config.args.http.max_connections,
        header_timeout: Duration::from_secs(state.config.args.http.header_timeout_secs),
        grace: Duration::from_secs(state.config.args.http.shutdown_grace_secs),
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
    let fresh = crate::domain::sessions::random_token(32);
    let mut tx = db.begin().await?;
    let won = db::settings::insert_if_absent(&mut tx, codes::SECRET_SETTING, &fresh).await?;
    tx.commit().await?;
    Ok(codes::CodeKey::new(&won))
}

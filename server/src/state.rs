//! [`AppState`], what every handler and job shares. It sits above the domain (whose functions
//! take [`crate::domain::Rules`] from it) and below the jobs and handlers, which import it
//! from here; what follows a commit (wakes, events) is here.

use std::sync::Arc;

use gatebell_core::protocol::LiveEvent;
use tokio::sync::watch;

use crate::access::codes::CodeKey;
use crate::access::throttle::{HashPool, KeyedLimit, LoginLimits, StreamSlots};
use crate::config::Config;
use crate::db::Db;
use crate::db::accounts::Ending;
use crate::domain::Rules;
use crate::error::ApiResult;
use crate::events::Events;
use crate::metrics::PushMetrics;
use crate::outbox::push::PushHandle;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub push: PushHandle,
    pub events: Events,
    pub metrics: PushMetrics,
    /// `applicationServerKey` for browsers.
    pub vapid_public_key: Arc<str>,
    /// The built web demo, served at `/`.
    pub site_dir: Option<std::path::PathBuf>,
    /// Turns true at shutdown: long-lived responses (event streams) end then.
    pub stopping: watch::Receiver<bool>,
    /// Password hashing slots (bounded work before authentication).
    pub hash_pool: Arc<HashPool>,
    /// Sign-in attempts per client address and per account.
    pub login_limits: LoginLimits,
    /// Decisions by action token and link pages, per client address.
    pub decision_limits: KeyedLimit<std::net::IpAddr>,
    /// Walk-ins per guard.
    pub walkin_limits: KeyedLimit<String>,
    /// Texts per recipient (an hourly cap on what a run of walk-ins can cost).
    pub text_limits: KeyedLimit<String>,
    /// The keyed hash invitation codes are stored and looked up by.
    pub code_key: CodeKey,
    /// Open event streams per user.
    pub streams: StreamSlots,
    /// The verifier of an existing backend's JWTs, when `--jwt-*` turns them on.
    pub jwt: Option<Arc<crate::access::jwt::JwtAuth>>,
}

impl AppState {
    /// What the domain's rules read ([`crate::domain::Rules`]).
    pub fn rules(&self) -> Rules<'_> {
        Rules {
            config: &self.config,
            text_limits: &self.text_limits,
            metrics: &self.metrics,
        }
    }

    /// After a committed decision or expiry: the screens of everyone told, the guards' screens,
    /// and the outbox's workers (the replacing pushes, the webhook).
    pub fn after_resolution(&self, told: &[String], visit_id: String) {
        for user_id in told {
            self.events.publish(user_id, LiveEvent::Inbox);
        }
        self.events.publish_guards(LiveEvent::Visit { visit_id });
        self.push.wake();
    }

    /// Ends sessions ([`crate::domain::sessions::end_sessions`]) and closes their event
    /// streams on every instance; how many ended.
    pub async fn end_sessions(&self, which: Ending<'_>) -> ApiResult<usize> {
        let ended = crate::domain::sessions::end_sessions(&self.db, which).await?;
        self.after_sessions_ended(&ended);
        Ok(ended.len())
    }

    /// After a committed notification: wake a dispatcher and tell the user's open screens.
    pub fn after_notify(&self, user_id: &str) {
        self.push.wake();
        self.events.publish(user_id, LiveEvent::Inbox);
    }

    /// After committed [`crate::db::accounts::end_sessions`]: close those sessions' streams
    /// (on every instance) and let the dispatcher see the cancelled pushes.
    pub fn after_sessions_ended(&self, token_hashes: &[String]) {
        self.events.end_sessions(token_hashes);
    }
}

//! The push queue's handle: what a request calls after committing `push_jobs` rows.
//!
//! A request that makes a notification writes one `push_jobs` row per device in its own
//! transaction ([`crate::db::outbox::enqueue`]) and wakes the dispatcher ([`PushHandle::wake`]). The
//! dispatcher claims due rows (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so instances share
//! the work), sends them, and records each attempt and outcome.

use std::sync::Arc;

use tokio::sync::watch;

use crate::db::{DbError, PgPool, notify};

/// A push provider. Each has its own dispatcher lane (claims, send slots, prune breaker), so
/// one that stalls or fails cannot hold back the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Fcm,
    WebPush,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::Fcm, Provider::WebPush];

    /// The name in `push_jobs.provider`, attempts and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Fcm => "fcm",
            Provider::WebPush => "webpush",
        }
    }
}

/// Wakes the dispatcher lanes when new outbox rows are committed; on PostgreSQL, the other
/// instances' lanes too.
#[derive(Clone)]
pub struct PushHandle {
    // A version counter: every lane sees every wake, and a wake while a lane is busy is not
    // lost (it finds the version changed when it next waits).
    wake: Arc<watch::Sender<u64>>,
    /// Set on PostgreSQL: tells the notifier task to `NOTIFY` the other instances. A
    /// `tokio::sync::Notify` holds one permit, so a burst of wakes while one `NOTIFY` is on its
    /// way costs one more, not one each.
    remote: Option<Arc<tokio::sync::Notify>>,
}

impl Default for PushHandle {
    fn default() -> PushHandle {
        PushHandle {
            wake: Arc::new(watch::channel(0).0),
            remote: None,
        }
    }
}

/// The `LISTEN/NOTIFY` channel that wakes other instances' dispatchers.
const WAKE_CHANNEL: &str = "gatebell_push";

impl PushHandle {
    /// A handle whose wakes reach every instance on this PostgreSQL database: without it, an
    /// instance that did not queue the rows would find them only at its next sweep (500 ms),
    /// and a second instance would add little to a burst.
    pub fn with_postgres(pool: PgPool) -> PushHandle {
        let notify = Arc::new(tokio::sync::Notify::new());
        let handle = PushHandle {
            remote: Some(notify.clone()),
            ..PushHandle::default()
        };
        let origin = crate::db::new_id();
        let (local, listen_pool, own) = (handle.wake.clone(), pool.clone(), origin.clone());
        tokio::spawn(async move {
            loop {
                if let Err(e) = listen_for_wakes(&listen_pool, &local, &own).await {
                    tracing::warn!(error = %e, "push wake listener lost its connection; reconnecting");
                }
                // Rows queued meanwhile are found by the sweep; a wake now catches up at once.
                local.send_modify(|v| *v = v.wrapping_add(1));
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
        tokio::spawn(async move {
            loop {
                notify.notified().await;
                if let Err(e) = notify::notify(&pool, WAKE_CHANNEL, &origin).await {
                    tracing::debug!(error = %e, "push wake NOTIFY failed; the sweep finds the rows");
                }
            }
        });
        handle
    }

    /// Call after committing outbox rows: the dispatcher lanes claim them at once.
    pub fn wake(&self) {
        self.wake.send_modify(|v| *v = v.wrapping_add(1));
        if let Some(remote) = &self.remote {
            remote.notify_one();
        }
    }

    /// A receiver whose `changed()` resolves at the next [`PushHandle::wake`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }
}

/// Wakes this instance's lanes on every other instance's wake.
async fn listen_for_wakes(
    pool: &PgPool,
    local: &watch::Sender<u64>,
    origin: &str,
) -> Result<(), DbError> {
    notify::listen(pool, WAKE_CHANNEL, |payload| {
        if payload != origin {
            local.send_modify(|v| *v = v.wrapping_add(1));
        }
    })
    .await
}

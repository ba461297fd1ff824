//! The device registry.

use gatebell_core::protocol::{Device, Platform};

use super::{Tx, bad_value};

/// A device registration: the token, and a Web Push subscription for web devices.
pub struct DeviceRow<'a> {
    pub token: &'a str,
    pub platform: Platform,
    pub endpoint: Option<&'a str>,
    pub p256dh: Option<&'a str>,
    pub auth: Option<&'a str>,
    pub user_id: &'a str,
    /// The token hash of the session registering it: the device lives as long as that session.
    pub session_hash: &'a str,
    pub now: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    token: String,
    platform: String,
    created_at: i64,
    updated_at: i64,
    last_seen_at: i64,
}

/// Upserts a device by token, then drops the user's least recently seen devices beyond
/// `keep`. The same user's token keeps its id and created_at. A token seen under another user
/// moves to this one (a shared phone changed hands) as a new device, with a new id: pushes
/// still queued for the old id were meant for the previous owner, and the dispatcher drops
/// them as "device removed" instead of delivering them to the new one. The device belongs to
/// the session that registered it last.
pub async fn upsert(tx: &mut Tx, d: DeviceRow<'_>, keep: i64) -> Result<Device, sqlx::Error> {
    let row: Row = per_backend!(tx.conn(), c => {
        let row = sqlx::query_as(
            "INSERT INTO devices (id, token, platform, endpoint, p256dh, auth, user_id, created_at, updated_at, last_seen_at, session_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $9)
             ON CONFLICT (token) DO UPDATE SET
               id = CASE WHEN devices.user_id = excluded.user_id THEN devices.id ELSE excluded.id END,
               created_at = CASE WHEN devices.user_id = excluded.user_id THEN devices.created_at ELSE excluded.created_at END,
               platform = excluded.platform, endpoint = excluded.endpoint,
               p256dh = excluded.p256dh, auth = excluded.auth, user_id = excluded.user_id,
               updated_at = excluded.updated_at, last_seen_at = excluded.last_seen_at,
               session_hash = excluded.session_hash
             RETURNING id, token, platform, created_at, updated_at, last_seen_at",
        )
        .bind(super::new_id())
        .bind(d.token)
        .bind(d.platform.as_str())
        .bind(d.endpoint)
        .bind(d.p256dh)
        .bind(d.auth)
        .bind(d.user_id)
        .bind(d.now)
        .bind(d.session_hash)
        .fetch_one(&mut *c)
        .await?;
        sqlx::query(
            "DELETE FROM devices WHERE user_id = $1 AND id NOT IN
             (SELECT id FROM devices WHERE user_id = $1 ORDER BY last_seen_at DESC, id DESC LIMIT $2)",
        )
        .bind(d.user_id)
        .bind(keep)
        .execute(&mut *c)
        .await?;
        row
    });
    Ok(Device {
        platform: Platform::parse(&row.platform)
            .ok_or_else(|| bad_value("platform", &row.platform))?,
        id: row.id,
        token: row.token,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_seen_at: row.last_seen_at,
    })
}

/// Deletes a user's device by token; false when the user has no such device.
pub async fn delete(tx: &mut Tx, token: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        sqlx::query("DELETE FROM devices WHERE token = $1 AND user_id = $2")
            .bind(token)
            .bind(user_id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n > 0)
}

/// Deletes devices whose session is gone: one registered while its session was being ended
/// (the registration checked the session just before the logout committed) is left behind
/// otherwise. It never gets a push meanwhile ([`super::outbox::enqueue`] skips it). Returns how
/// many went.
pub async fn delete_orphans(tx: &mut Tx) -> Result<u64, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "DELETE FROM devices WHERE session_hash IS NOT NULL AND NOT EXISTS
             (SELECT 1 FROM sessions s WHERE s.token_hash = devices.session_hash)",
        )
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })
}

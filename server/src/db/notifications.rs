//! The in-app inbox.

use gatebell_core::protocol::{Notification, NotificationType};

use super::{Db, Tx};

/// A notification row to insert (unread).
pub struct NotificationRow<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub kind: &'a NotificationType,
    pub title: &'a str,
    pub body: &'a str,
    pub visit_id: Option<&'a str>,
    pub created_at: i64,
}

/// Inserts a notification.
pub async fn insert(tx: &mut Tx, n: NotificationRow<'_>) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO notifications (id, user_id, type, title, body, visit_id, read, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7)",
        )
        .bind(n.id)
        .bind(n.user_id)
        .bind(n.kind.as_str())
        .bind(n.title)
        .bind(n.body)
        .bind(n.visit_id)
        .bind(n.created_at)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    #[sqlx(rename = "type")]
    kind: String,
    title: String,
    body: String,
    visit_id: Option<String>,
    read: bool,
    created_at: i64,
}

impl From<Row> for Notification {
    fn from(r: Row) -> Notification {
        Notification {
            id: r.id,
            kind: NotificationType::parse(&r.kind),
            title: r.title,
            body: r.body,
            visit_id: r.visit_id,
            read: r.read,
            created_at: r.created_at,
        }
    }
}

/// Up to `limit` of a user's notifications with ids below `before`, newest first, and the
/// user's unread count.
pub async fn page(
    db: &Db,
    user_id: &str,
    before: &str,
    limit: i64,
) -> Result<(Vec<Notification>, i64), sqlx::Error> {
    let (rows, unread): (Vec<Row>, i64) = per_backend!(db.reader(), p => {
        let rows = sqlx::query_as(
            "SELECT id, type, title, body, visit_id, read, created_at FROM notifications
             WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(user_id)
        .bind(before)
        .bind(limit)
        .fetch_all(p)
        .await?;
        let unread: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read = FALSE",
        )
        .bind(user_id)
        .fetch_one(p)
        .await?;
        (rows, unread)
    });
    Ok((rows.into_iter().map(Into::into).collect(), unread))
}

/// Marks one of a user's notifications read; false when the user has no such notification.
pub async fn mark_read(tx: &mut Tx, id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE notifications SET read = TRUE WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n > 0)
}

/// Marks every notification of a user read; returns how many were unread.
pub async fn mark_all_read(tx: &mut Tx, user_id: &str) -> Result<u64, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE notifications SET read = TRUE WHERE user_id = $1 AND read = FALSE")
            .bind(user_id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })
}

/// Puts a walk-in's outcome into the inbox entry of everyone it asked, the decider included:
/// their `walkin_pending` entry's body becomes `outcome` and it is marked read.
/// Returns each entry's id and user.
pub async fn resolve_walkin(
    tx: &mut Tx,
    visit_id: &str,
    outcome: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_as(
            "UPDATE notifications SET body = $2, read = TRUE
             WHERE visit_id = $1 AND type = 'walkin_pending'
             RETURNING id, user_id",
        )
        .bind(visit_id)
        .bind(outcome)
        .fetch_all(&mut *c)
        .await
    })
}

/// Rewrites one notification's body (a walk-in's outcome in its recipient's language).
pub async fn set_body(tx: &mut Tx, id: &str, body: &str) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE notifications SET body = $1 WHERE id = $2")
            .bind(body)
            .bind(id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Marks a user's notifications about a visit read.
pub async fn mark_visit_read(
    tx: &mut Tx,
    visit_id: &str,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE notifications SET read = TRUE WHERE visit_id = $1 AND user_id = $2")
            .bind(visit_id)
            .bind(user_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Deletes notifications created before `cutoff` (retention), with their outbox rows; returns
/// how many notifications went.
pub async fn purge_before(tx: &mut Tx, cutoff: i64, limit: i64) -> Result<u64, sqlx::Error> {
    const BATCH: &str =
        "SELECT id FROM notifications WHERE created_at < $1 ORDER BY created_at, id LIMIT $2";
    per_backend!(tx.conn(), c => {
        // Explicit rather than through ON DELETE CASCADE alone, which SQLite only honours with
        // foreign keys on. A push is made with its notification, so its row is as old: the
        // range of `push_jobs_created` holds every one (the outbox's own purge, which runs
        // first, has taken the closed ones).
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM push_jobs WHERE created_at < $1 AND notification_id IN ({BATCH})"
        )))
        .bind(cutoff)
        .bind(limit)
        .execute(&mut *c)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM notifications WHERE id IN ({BATCH})"
        )))
        .bind(cutoff)
        .bind(limit)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })
}

//! Who decides a walk-in: the rights a walk-in grants to the household it asks, the one
//! statement that records a decision, and the sweeps of walk-ins nobody answered.

use crate::db::{Db, Tx};
use gatebell_core::protocol::VisitStatus;

/// Records `by`'s decision on walk-in `id`, if it is theirs to make at `now`: the walk-in is
/// still pending and was made after `made_after` (it has not expired, whether or not the sweep
/// has seen it yet), and `by` holds a decision right on it and is, now, an enabled resident of
/// the unit they were asked for. One statement, so no check can go stale before the write.
/// False when any of that does not hold (the caller tells which).
pub async fn decide(
    tx: &mut Tx,
    id: &str,
    to: VisitStatus,
    by: &str,
    now: i64,
    made_after: i64,
) -> Result<bool, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        sqlx::query(
            "UPDATE visits SET status = $1, decided_at = $2, decided_by = $3
             WHERE id = $4 AND status = 'PENDING' AND kind = 'walkin' AND created_at > $5
               AND EXISTS (SELECT 1 FROM decision_rights r JOIN users u ON u.id = r.user_id
                           WHERE r.visit_id = $4 AND r.user_id = $3 AND u.role = 'resident'
                             AND u.unit_id = r.unit_id
                             AND u.disabled_at IS NULL AND u.deleted_at IS NULL)",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(by)
        .bind(id)
        .bind(made_after)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// Whether `user_id` may decide walk-in `visit_id` now, rights-wise: asked, and still an
/// enabled resident of the unit they were asked for (the link pages show nothing otherwise).
pub async fn may_decide(db: &Db, visit_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i32> = per_backend!(db.reader(), p => {
        sqlx::query_scalar(
            "SELECT 1 FROM decision_rights r JOIN users u ON u.id = r.user_id
             WHERE r.visit_id = $1 AND r.user_id = $2 AND u.role = 'resident'
               AND u.unit_id = r.unit_id AND u.disabled_at IS NULL AND u.deleted_at IS NULL",
        )
        .bind(visit_id)
        .bind(user_id)
        .fetch_optional(p)
        .await?
    });
    Ok(found.is_some())
}

/// Gives each of `users` (residents of the walk-in's unit, asked now) a decision right on it.
pub async fn grant_rights(
    tx: &mut Tx,
    visit_id: &str,
    users: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    for user_id in users {
        per_backend!(tx.conn(), c => {
            sqlx::query(
                "INSERT INTO decision_rights (visit_id, user_id, unit_id, created_at)
                 SELECT $1, u.id, u.unit_id, $3 FROM users u
                 WHERE u.id = $2 AND u.unit_id IS NOT NULL
                 ON CONFLICT (visit_id, user_id) DO NOTHING",
            )
            .bind(visit_id)
            .bind(user_id)
            .bind(now)
            .execute(&mut *c)
            .await?;
        });
    }
    Ok(())
}

/// Who a walk-in for `host_id` asks: the host, then (when the unit's setting is `household`)
/// every other enabled resident of the host's unit.
pub async fn household_in_tx(tx: &mut Tx, host_id: &str) -> Result<Vec<String>, sqlx::Error> {
    let others: Vec<String> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar(
            "SELECT m.id FROM users h JOIN units un ON un.id = h.unit_id
             JOIN users m ON m.unit_id = h.unit_id
             WHERE h.id = $1 AND un.notify = 'household' AND m.id <> h.id
               AND m.role = 'resident' AND m.disabled_at IS NULL AND m.deleted_at IS NULL
             ORDER BY m.name, m.id",
        )
        .bind(host_id)
        .fetch_all(&mut *c)
        .await?
    });
    Ok(std::iter::once(host_id.to_owned()).chain(others).collect())
}

/// Whether a walk-in asked `user_id` to decide (they hold a decision right on it).
pub async fn asked_in_tx(tx: &mut Tx, visit_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i32> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar(
            "SELECT 1 FROM decision_rights WHERE visit_id = $1 AND user_id = $2",
        )
        .bind(visit_id)
        .bind(user_id)
        .fetch_optional(&mut *c)
        .await?
    });
    Ok(found.is_some())
}

/// [`asked_in_tx`] on the read side.
pub async fn asked(db: &Db, visit_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i32> = per_backend!(db.reader(), p => {
        sqlx::query_scalar(
            "SELECT 1 FROM decision_rights WHERE visit_id = $1 AND user_id = $2",
        )
        .bind(visit_id)
        .bind(user_id)
        .fetch_optional(p)
        .await?
    });
    Ok(found.is_some())
}

/// Marks walk-ins pending since before `cutoff` expired (at most `limit`, oldest first) and
/// returns their ids. The outer `status` check makes a concurrent decision (or another
/// instance's sweep) win: a row it changed first is skipped, never expired over.
pub async fn expire_walkins(
    tx: &mut Tx,
    cutoff: i64,
    now: i64,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_scalar(
            "UPDATE visits SET status = 'EXPIRED', decided_at = $2
             WHERE status = 'PENDING' AND id IN (SELECT id FROM visits
               WHERE kind = 'walkin' AND status = 'PENDING' AND created_at <= $1
               ORDER BY created_at LIMIT $3)
             RETURNING id",
        )
        .bind(cutoff)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *c)
        .await
    })
}

/// Marks up to `limit` pending walk-ins created at or before `cutoff` escalated at `now`, when
/// none of the residents they asked has opened them; returns their ids. The `escalated_at IS
/// NULL` condition makes this the one place a walk-in is escalated, once.
pub async fn escalate_walkins(
    tx: &mut Tx,
    cutoff: i64,
    now: i64,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_scalar(
            "UPDATE visits SET escalated_at = $2
             WHERE escalated_at IS NULL AND status = 'PENDING' AND id IN (SELECT v.id FROM visits v
               WHERE v.kind = 'walkin' AND v.status = 'PENDING' AND v.escalated_at IS NULL
                 AND v.created_at <= $1
                 AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.visit_id = v.id
                   AND n.type = 'walkin_pending' AND n.read)
               ORDER BY v.created_at LIMIT $3)
             RETURNING id",
        )
        .bind(cutoff)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *c)
        .await
    })
}

/// Records how many texts and emails escalating a walk-in queued.
pub async fn set_escalated(tx: &mut Tx, id: &str, sms: u32, email: u32) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE visits SET escalated_sms = $1, escalated_email = $2 WHERE id = $3")
            .bind(i64::from(sms))
            .bind(i64::from(email))
            .bind(id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Whom a walk-in asked (who got its `walkin_pending`), by name.
pub async fn asked_users_in_tx(tx: &mut Tx, visit_id: &str) -> Result<Vec<String>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_scalar(
            "SELECT n.user_id FROM notifications n JOIN users u ON u.id = n.user_id
             WHERE n.visit_id = $1 AND n.type = 'walkin_pending' ORDER BY u.name, u.id",
        )
        .bind(visit_id)
        .fetch_all(&mut *c)
        .await
    })
}

//! Visits: invitations, walk-ins and check-ins, read and written; who decides a walk-in is in
//! `decisions`.

mod decisions;

pub use decisions::*;

use gatebell_core::protocol::{Escalation, Visit, VisitKind, VisitStatus};

use super::{Db, Tx, bad_value};

const VISIT_COLUMNS: &str =
    "SELECT v.id, v.visitor_name, v.phone, v.purpose, v.host_id, h.name AS host_name,
    un.name AS unit, v.kind, v.status, v.created_at, v.valid_until, v.checked_in_at, v.decided_at,
    d.name AS decided_by, v.external_id, v.escalated_at, v.escalated_sms, v.escalated_email
    FROM visits v JOIN users h ON h.id = v.host_id
    LEFT JOIN units un ON un.id = h.unit_id
    LEFT JOIN users d ON d.id = v.decided_by";

/// Whether the resident in `$3` was asked about visit `v` (holds a decision right on it).
const ASKED: &str = "EXISTS (SELECT 1 FROM decision_rights r
    WHERE r.visit_id = v.id AND r.user_id = $3)";
/// [`ASKED`] for the resident in `$1`.
const ASKED_1: &str = "EXISTS (SELECT 1 FROM decision_rights r
    WHERE r.visit_id = v.id AND r.user_id = $1)";

#[derive(sqlx::FromRow)]
struct VisitRow {
    id: String,
    visitor_name: String,
    phone: Option<String>,
    purpose: Option<String>,
    host_id: String,
    host_name: String,
    unit: Option<String>,
    kind: String,
    status: String,
    created_at: i64,
    valid_until: Option<i64>,
    checked_in_at: Option<i64>,
    decided_at: Option<i64>,
    decided_by: Option<String>,
    external_id: Option<String>,
    escalated_at: Option<i64>,
    escalated_sms: i64,
    escalated_email: i64,
}

impl VisitRow {
    fn into_visit(self, now: i64) -> Result<Visit, sqlx::Error> {
        let mut status = VisitStatus::parse(&self.status)
            .ok_or_else(|| bad_value("visit status", &self.status))?;
        // Invitations expire lazily: nothing needs to run for a code to stop working.
        if status == VisitStatus::Invited && self.valid_until.is_some_and(|t| t <= now) {
            status = VisitStatus::Expired;
        }
        Ok(Visit {
            kind: VisitKind::parse(&self.kind)
                .ok_or_else(|| bad_value("visit kind", &self.kind))?,
            id: self.id,
            visitor_name: self.visitor_name,
            phone: self.phone,
            purpose: self.purpose,
            host_id: self.host_id,
            host_name: self.host_name,
            unit: self.unit,
            status,
            created_at: self.created_at,
            valid_until: self.valid_until,
            checked_in_at: self.checked_in_at,
            decided_at: self.decided_at,
            decided_by: self.decided_by,
            external_id: self.external_id,
            escalation: self.escalated_at.map(|at| Escalation {
                at,
                sms: self.escalated_sms.clamp(0, u32::MAX.into()) as u32,
                email: self.escalated_email.clamp(0, u32::MAX.into()) as u32,
            }),
        })
    }
}

fn into_visits(rows: Vec<VisitRow>, now: i64) -> Result<Vec<Visit>, sqlx::Error> {
    rows.into_iter().map(|r| r.into_visit(now)).collect()
}

/// A visit as of `now` (an invitation past its validity reads as expired).
pub async fn get(db: &Db, id: &str, now: i64) -> Result<Option<Visit>, sqlx::Error> {
    let sql = format!("{VISIT_COLUMNS} WHERE v.id = $1");
    let row: Option<VisitRow> = per_backend!(db.reader(), p => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?
    });
    row.map(|r| r.into_visit(now)).transpose()
}

/// [`get`] inside a transaction, seeing its writes.
pub async fn get_in_tx(tx: &mut Tx, id: &str, now: i64) -> Result<Option<Visit>, sqlx::Error> {
    let sql = format!("{VISIT_COLUMNS} WHERE v.id = $1");
    let row: Option<VisitRow> = per_backend!(tx.conn(), c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?
    });
    row.map(|r| r.into_visit(now)).transpose()
}

/// Whether a visit with this id exists.
pub async fn exists_in_tx(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<String> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT id FROM visits WHERE id = $1").bind(id).fetch_optional(&mut *c).await?
    });
    Ok(found.is_some())
}

/// Visits created at or after `since`, optionally of one kind and of one resident (the visits
/// they host or a walk-in asked them about); newest first, at most 200.
pub async fn list(
    db: &Db,
    since: i64,
    kind: Option<VisitKind>,
    host_id: Option<&str>,
    now: i64,
) -> Result<Vec<Visit>, sqlx::Error> {
    let sql = format!(
        "{VISIT_COLUMNS} WHERE v.created_at >= $1 AND ($2 IS NULL OR v.kind = $2)
         AND ($3 IS NULL OR v.host_id = $3 OR {ASKED}) ORDER BY v.created_at DESC LIMIT 200"
    );
    let rows: Vec<VisitRow> = per_backend!(db.reader(), p => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(since)
            .bind(kind.map(|k| k.as_str()))
            .bind(host_id)
            .fetch_all(p)
            .await?
    });
    into_visits(rows, now)
}

/// The walk-ins awaiting a resident's decision (hosted by them, or asking their household),
/// newest first, at most 100.
pub async fn pending_walkins(db: &Db, host_id: &str, now: i64) -> Result<Vec<Visit>, sqlx::Error> {
    let sql = format!(
        "{VISIT_COLUMNS} WHERE v.kind = 'walkin' AND v.status = 'PENDING'
         AND (v.host_id = $1 OR {ASKED_1}) ORDER BY v.created_at DESC LIMIT 100"
    );
    let rows: Vec<VisitRow> = per_backend!(db.reader(), p => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(host_id).fetch_all(p).await?
    });
    into_visits(rows, now)
}

/// An invitation to insert.
pub struct NewInvitation<'a> {
    pub id: &'a str,
    pub visitor_name: &'a str,
    pub phone: Option<&'a str>,
    pub purpose: Option<&'a str>,
    pub host_id: &'a str,
    pub otp_hash: &'a str,
    pub qr_hash: &'a str,
    pub valid_until: i64,
    pub now: i64,
}

/// Inserts an invitation; false when its OTP (or QR) is taken by an open invitation. An
/// invitation past its validity frees its OTP: one still marked `INVITED` (invitations expire
/// lazily) is marked `EXPIRED` first, so the unique index on open OTPs lets the new one in.
pub async fn insert_invitation(tx: &mut Tx, v: NewInvitation<'_>) -> Result<bool, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        sqlx::query(
            "UPDATE visits SET status = 'EXPIRED'
             WHERE otp_hash = $1 AND status = 'INVITED' AND valid_until <= $2",
        )
        .bind(v.otp_hash)
        .bind(v.now)
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "INSERT INTO visits (id, visitor_name, phone, purpose, host_id, kind, status, otp_hash,
             qr_hash, valid_until, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, 'invited', 'INVITED', $6, $7, $8, $5, $9)
             ON CONFLICT DO NOTHING",
        )
        .bind(v.id)
        .bind(v.visitor_name)
        .bind(v.phone)
        .bind(v.purpose)
        .bind(v.host_id)
        .bind(v.otp_hash)
        .bind(v.qr_hash)
        .bind(v.valid_until)
        .bind(v.now)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// How many open invitations (invited, not past their validity at `now`) a resident has.
pub async fn open_invitations_in_tx(
    tx: &mut Tx,
    host_id: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM visits
             WHERE host_id = $1 AND kind = 'invited' AND status = 'INVITED' AND valid_until > $2",
        )
        .bind(host_id)
        .bind(now)
        .fetch_one(&mut *c)
        .await
    })
}

/// A walk-in to insert, pending the host's decision.
pub struct NewWalkin<'a> {
    pub id: &'a str,
    pub visitor_name: &'a str,
    pub phone: Option<&'a str>,
    pub purpose: Option<&'a str>,
    pub host_id: &'a str,
    pub created_by: &'a str,
    /// The backend's id for it, when the backend handed it over.
    pub external_id: Option<&'a str>,
    pub now: i64,
}

/// Inserts a walk-in, pending; false when a visit with its `external_id` exists already (on
/// PostgreSQL a concurrent insert of the same one is waited for, then this one does nothing).
pub async fn insert_walkin(tx: &mut Tx, v: NewWalkin<'_>) -> Result<bool, sqlx::Error> {
    insert_arrival(tx, v, "walkin", VisitStatus::Pending, None).await
}

/// Inserts a visitor the backend reports as checked in (an invitation that ended at the gate,
/// with no codes here); false as for [`insert_walkin`].
pub async fn insert_checked_in(tx: &mut Tx, v: NewWalkin<'_>) -> Result<bool, sqlx::Error> {
    let now = v.now;
    insert_arrival(tx, v, "invited", VisitStatus::CheckedIn, Some(now)).await
}

async fn insert_arrival(
    tx: &mut Tx,
    v: NewWalkin<'_>,
    kind: &str,
    status: VisitStatus,
    checked_in_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO visits (id, visitor_name, phone, purpose, host_id, kind, status, created_by,
             created_at, checked_in_at, external_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT DO NOTHING",
        )
        .bind(v.id)
        .bind(v.visitor_name)
        .bind(v.phone)
        .bind(v.purpose)
        .bind(v.host_id)
        .bind(kind)
        .bind(status.as_str())
        .bind(v.created_by)
        .bind(v.now)
        .bind(checked_in_at)
        .bind(v.external_id)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// The id of the visit the backend knows by `external_id`.
pub async fn by_external_id_in_tx(
    tx: &mut Tx,
    external_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT id FROM visits WHERE external_id = $1")
            .bind(external_id)
            .fetch_optional(&mut *c)
            .await
    })
}

/// Which code a guard typed or scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Otp,
    Qr,
}

impl Code {
    /// `otp` or `qr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Otp => "otp",
            Code::Qr => "qr",
        }
    }
}

/// The visit a check-in code belongs to: the open invitation if there is one, else the latest
/// visit that used it (so a reused code gets a clear 409). Returns id, status and validity.
pub async fn by_code_in_tx(
    tx: &mut Tx,
    code: Code,
    code_hash: &str,
) -> Result<Option<(String, String, Option<i64>)>, sqlx::Error> {
    let column = match code {
        Code::Otp => "otp_hash",
        Code::Qr => "qr_hash",
    };
    let sql = format!(
        "SELECT id, status, valid_until FROM visits WHERE {column} = $1
         ORDER BY CASE WHEN status = 'INVITED' THEN 0 ELSE 1 END, created_at DESC LIMIT 1"
    );
    per_backend!(tx.conn(), c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(code_hash).fetch_optional(&mut *c).await
    })
}

/// Marks an invitation expired (from `INVITED` only, so a concurrent check-in is not undone).
pub async fn expire(tx: &mut Tx, id: &str) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE visits SET status = 'EXPIRED' WHERE id = $1 AND status = 'INVITED'")
            .bind(id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Records a check-in; false when the invitation was no longer open (a concurrent check-in
/// of the same code won: on PostgreSQL two transactions can both have read `INVITED`).
pub async fn check_in(
    tx: &mut Tx,
    id: &str,
    guard_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE visits SET status = 'CHECKED_IN', checked_in_at = $1, checked_in_by = $2 WHERE id = $3 AND status = 'INVITED'")
            .bind(now)
            .bind(guard_id)
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Deletes visits created before `cutoff` that are no longer open (an invitation still valid
/// then stays) and that no remaining notification points at (retention: purge notifications
/// first); returns how many went.
pub async fn purge_before(tx: &mut Tx, cutoff: i64, limit: i64) -> Result<u64, sqlx::Error> {
    const PURGED: &str = "SELECT id FROM visits WHERE created_at < $1
             AND COALESCE(valid_until, 0) < $1
             AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.visit_id = visits.id)
             ORDER BY created_at, id LIMIT $2";
    per_backend!(tx.conn(), c => {
        // Explicit rather than through ON DELETE CASCADE alone (SQLite honours it only with
        // foreign keys on).
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM decision_rights WHERE visit_id IN ({PURGED})"
        )))
        .bind(cutoff)
        .bind(limit)
        .execute(&mut *c)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM visits WHERE id IN ({PURGED})"
        )))
        .bind(cutoff)
        .bind(limit)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })
}

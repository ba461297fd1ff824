//! The check-in audit: one row per attempt a guard makes at the gate, with its outcome (never
//! the code). The wrong-code limits count its rows, so they hold across instances.

use super::visits::Code;
use super::{Tx, new_id};

/// What became of a check-in attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The visitor was checked in.
    CheckedIn,
    /// No open invitation has the code.
    WrongCode,
    /// The code's invitation ran out.
    Expired,
    /// The code's invitation was checked in already.
    AlreadyUsed,
    /// Refused: this guard entered too many wrong codes in the window.
    LockedGuard,
    /// Refused: the gate (all guards) saw too many wrong codes in the window.
    LockedGate,
}

impl Outcome {
    /// The name stored in `checkin_attempts.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::CheckedIn => "checked_in",
            Outcome::WrongCode => "wrong_code",
            Outcome::Expired => "expired",
            Outcome::AlreadyUsed => "already_used",
            Outcome::LockedGuard => "locked_guard",
            Outcome::LockedGate => "locked_gate",
        }
    }
}

/// The outcomes the wrong-code limits count: a code that opens nothing now. A code used
/// already is not counted (a double scan is routine, and such a code opens nothing new), nor
/// are refusals (else a lockout would extend itself).
const FAILURES: &str = "outcome IN ('wrong_code', 'expired')";

/// Records an attempt.
pub async fn record(
    tx: &mut Tx,
    guard_id: &str,
    at: i64,
    outcome: Outcome,
    code: Code,
    visit_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    let id = new_id();
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO checkin_attempts (id, guard_id, at, outcome, code_kind, visit_id)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(guard_id)
        .bind(at)
        .bind(outcome.as_str())
        .bind(code.as_str())
        .bind(visit_id)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// The time of the `limit`-th newest failure after `since` by this guard, or by anyone when
/// `guard_id` is `None`; `None` when there are fewer. While there is one, the limit is reached,
/// until that failure is `since`'s window old.
pub async fn limit_reached_by(
    tx: &mut Tx,
    guard_id: Option<&str>,
    since: i64,
    limit: u32,
) -> Result<Option<i64>, sqlx::Error> {
    let offset = i64::from(limit.max(1) - 1);
    let by = if guard_id.is_some() {
        "guard_id = $3 AND"
    } else {
        ""
    };
    let sql = format!(
        "SELECT at FROM checkin_attempts WHERE {by} {FAILURES} AND at > $1
         ORDER BY at DESC LIMIT 1 OFFSET $2"
    );
    per_backend!(tx.conn(), c => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(since).bind(offset);
        if let Some(g) = guard_id {
            q = q.bind(g);
        }
        q.fetch_optional(&mut *c).await
    })
}

//! Users, units and sign-in sessions.

use gatebell_core::protocol::{
    ChannelPreferences, HouseholdSetting, InternalUser, Preferences, QuietHours, Resident, Role,
    User,
};

use super::{Db, Tx, bad_value};

/// A user row to insert (already validated and hashed).
pub struct UserRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    /// Created when new.
    pub unit: Option<&'a str>,
    pub created_at: i64,
}

/// Inserts a user, and its unit when new. A taken email is a unique violation
/// ([`super::is_unique_violation`]).
pub async fn insert_user(tx: &mut Tx, u: UserRow<'_>) -> Result<(), sqlx::Error> {
    let unit_id = unit_id(tx, u.unit, u.created_at).await?;
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO users (id, name, email, password_hash, role, unit_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(u.id)
        .bind(u.name)
        .bind(u.email)
        .bind(u.password_hash)
        .bind(u.role.as_str())
        .bind(unit_id)
        .bind(u.created_at)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })
}

/// The id of the unit with this name, created when new.
async fn unit_id(tx: &mut Tx, unit: Option<&str>, now: i64) -> Result<Option<String>, sqlx::Error> {
    let Some(unit) = unit else {
        return Ok(None);
    };
    per_backend!(tx.conn(), c => {
        sqlx::query("INSERT INTO units (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(super::new_id())
            .bind(unit)
            .bind(now)
            .execute(&mut *c)
            .await?;
        sqlx::query_scalar("SELECT id FROM units WHERE name = $1")
            .bind(unit)
            .fetch_optional(&mut *c)
            .await
    })
}

/// The key of an external user's one session row. Not a [`crate::http::auth::hash_token`] output
/// (those are 64 hex digits), so no bearer token can ever match it; the SQL of
/// [`external_user`] builds the same string.
pub fn external_session_hash(user_id: &str) -> String {
    format!("jwt:{user_id}")
}

/// A user an external JWT names, with their session row when it is live.
pub struct ExternalUser {
    pub user: User,
    pub disabled: bool,
    /// The session's public id, expiry and last use.
    pub session: Option<(String, i64, Option<i64>)>,
}

type ExternalUserRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// The user with this external id (`sub`), and their session row unless it expired by `now`.
pub async fn external_user(
    db: &Db,
    external_id: &str,
    now: i64,
) -> Result<Option<ExternalUser>, sqlx::Error> {
    let row: Option<ExternalUserRow> = per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT u.id, u.name, u.email, u.role, un.name AS unit, u.disabled_at, s.id, s.expires_at, s.last_used_at
             FROM users u LEFT JOIN units un ON un.id = u.unit_id
             LEFT JOIN sessions s ON s.token_hash = 'jwt:' || u.id AND s.expires_at > $2
             WHERE u.external_id = $1",
        )
        .bind(external_id)
        .bind(now)
        .fetch_optional(p)
        .await?
    });
    row.map(
        |(id, name, email, role, unit, disabled_at, session_id, expires_at, last_used_at)| {
            Ok(ExternalUser {
                user: user(id, name, email, role, unit)?,
                disabled: disabled_at.is_some(),
                session: session_id
                    .zip(expires_at)
                    .map(|(s, e)| (s, e, last_used_at)),
            })
        },
    )
    .transpose()
}

/// An external user as their latest token describes them.
pub struct ExternalUserUpdate<'a> {
    /// The id a new user gets.
    pub id_if_new: &'a str,
    pub external_id: &'a str,
    /// `None` keeps a stored name; a new user gets `name_if_new`.
    pub name: Option<&'a str>,
    pub name_if_new: &'a str,
    /// Used when the user is new; the caller picks one no other account has.
    pub email: &'a str,
    pub role: Role,
    /// Created when new.
    pub unit: Option<&'a str>,
    /// Stored as the password hash: external users do not sign in with a password.
    pub unusable_password_hash: &'a str,
    pub now: i64,
}

/// Whether an account has this email.
pub async fn email_taken_in_tx(tx: &mut Tx, email: &str) -> Result<bool, sqlx::Error> {
    let id: Option<String> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(id.is_some())
}

/// Makes or updates (name, role, unit) the user with this external id; returns their id.
pub async fn upsert_external_user(
    tx: &mut Tx,
    u: ExternalUserUpdate<'_>,
) -> Result<String, sqlx::Error> {
    let unit_id = unit_id(tx, u.unit, u.now).await?;
    per_backend!(tx.conn(), c => {
        let existing: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE external_id = $1")
            .bind(u.external_id)
            .fetch_optional(&mut *c)
            .await?;
        match existing {
            Some(id) => {
                let before: (String, Option<String>) =
                    sqlx::query_as("SELECT role, unit_id FROM users WHERE id = $1")
                        .bind(&id)
                        .fetch_one(&mut *c)
                        .await?;
                sqlx::query(
                    "UPDATE users SET name = COALESCE($1, name), role = $2, unit_id = $3 WHERE id = $4",
                )
                    .bind(u.name)
                    .bind(u.role.as_str())
                    .bind(&unit_id)
                    .bind(&id)
                    .execute(&mut *c)
                    .await?;
                // Tokens follow the person: one who moved or changed role decides no more.
                if before != (u.role.as_str().to_owned(), unit_id) {
                    sqlx::query("DELETE FROM action_tokens WHERE user_id = $1")
                        .bind(&id)
                        .execute(&mut *c)
                        .await?;
                }
                Ok(id)
            }
            None => {
                let id = u.id_if_new.to_owned();
                sqlx::query(
                    "INSERT INTO users (id, name, email, password_hash, role, unit_id, created_at, external_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&id)
                .bind(u.name.unwrap_or(u.name_if_new))
                .bind(u.email)
                .bind(u.unusable_password_hash)
                .bind(u.role.as_str())
                .bind(unit_id)
                .bind(u.now)
                .bind(u.external_id)
                .execute(&mut *c)
                .await?;
                Ok(id)
            }
        }
    })
}

/// A user as the backend's `PUT /internal/users/{id}` describes them.
pub struct PutExternalUser<'a> {
    /// The id a new user gets.
    pub id_if_new: &'a str,
    pub external_id: &'a str,
    pub name: &'a str,
    /// Replaces the stored email when given; a new user without one gets a placeholder.
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub role: Role,
    pub unit: Option<&'a str>,
    pub unusable_password_hash: &'a str,
    pub now: i64,
}

/// Whether an account other than the one with `external_id` has this email.
pub async fn email_taken_by_other_in_tx(
    tx: &mut Tx,
    email: &str,
    external_id: &str,
) -> Result<bool, sqlx::Error> {
    let id: Option<String> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar(
            "SELECT id FROM users WHERE email = $1 AND (external_id IS NULL OR external_id <> $2)",
        )
        .bind(email)
        .bind(external_id)
        .fetch_optional(&mut *c)
        .await?
    });
    Ok(id.is_some())
}

/// Makes or updates the user with this external id from the backend's description; returns
/// their id and whether they are new. A deleted (anonymised) user has no external id any
/// more, so the same id makes a new user.
pub async fn put_external_user(
    tx: &mut Tx,
    u: PutExternalUser<'_>,
) -> Result<(String, bool), sqlx::Error> {
    let unit_id = unit_id(tx, u.unit, u.now).await?;
    per_backend!(tx.conn(), c => {
        let existing: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE external_id = $1")
            .bind(u.external_id)
            .fetch_optional(&mut *c)
            .await?;
        match existing {
            Some(id) => {
                let before: (String, Option<String>) =
                    sqlx::query_as("SELECT role, unit_id FROM users WHERE id = $1")
                        .bind(&id)
                        .fetch_one(&mut *c)
                        .await?;
                sqlx::query(
                    "UPDATE users SET name = $1, role = $2, unit_id = $3, phone = $4,
                     email = COALESCE($5, email) WHERE id = $6",
                )
                .bind(u.name)
                .bind(u.role.as_str())
                .bind(&unit_id)
                .bind(u.phone)
                .bind(u.email)
                .bind(&id)
                .execute(&mut *c)
                .await?;
                // Tokens follow the person: one who moved or changed role decides no more.
                if before != (u.role.as_str().to_owned(), unit_id) {
                    sqlx::query("DELETE FROM action_tokens WHERE user_id = $1")
                        .bind(&id)
                        .execute(&mut *c)
                        .await?;
                }
                Ok((id, false))
            }
            None => {
                let id = u.id_if_new.to_owned();
                let email = u.email.map_or_else(|| format!("{id}@external.invalid"), str::to_owned);
                sqlx::query(
                    "INSERT INTO users (id, name, email, password_hash, role, unit_id, created_at, external_id, phone)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&id)
                .bind(u.name)
                .bind(&email)
                .bind(u.unusable_password_hash)
                .bind(u.role.as_str())
                .bind(unit_id)
                .bind(u.now)
                .bind(u.external_id)
                .bind(u.phone)
                .execute(&mut *c)
                .await?;
                Ok((id, true))
            }
        }
    })
}

/// The user with this external id, as the internal API shows them.
pub async fn internal_user_in_tx(
    tx: &mut Tx,
    external_id: &str,
) -> Result<Option<InternalUser>, sqlx::Error> {
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        Option<String>,
    );
    let row: Option<Row> = per_backend!(tx.conn(), c => {
        sqlx::query_as(
            "SELECT u.id, u.external_id, u.name, u.email, u.phone, u.role, un.name
             FROM users u LEFT JOIN units un ON un.id = u.unit_id WHERE u.external_id = $1",
        )
        .bind(external_id)
        .fetch_optional(&mut *c)
        .await?
    });
    row.map(|(id, external_id, name, email, phone, role, unit)| {
        Ok(InternalUser {
            role: Role::parse(&role).ok_or_else(|| bad_value("role", &role))?,
            id,
            external_id,
            name,
            email,
            phone,
            unit,
        })
    })
    .transpose()
}

/// When the backend deleted the user with this external id, if it did (and has not made them
/// again since).
pub async fn tombstone(db: &Db, external_id: &str) -> Result<Option<i64>, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_scalar("SELECT deleted_at FROM external_tombstones WHERE external_id = $1")
            .bind(external_id)
            .fetch_optional(p)
            .await
    })
}

/// Records (`Some(time)`) or clears (`None`) the deletion of the user with this external id.
pub async fn set_tombstone(
    tx: &mut Tx,
    external_id: &str,
    deleted_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        match deleted_at {
            Some(at) => sqlx::query(
                "INSERT INTO external_tombstones (external_id, deleted_at) VALUES ($1, $2)
                 ON CONFLICT (external_id) DO UPDATE SET deleted_at = excluded.deleted_at",
            )
            .bind(external_id)
            .bind(at)
            .execute(&mut *c)
            .await?,
            None => sqlx::query("DELETE FROM external_tombstones WHERE external_id = $1")
                .bind(external_id)
                .execute(&mut *c)
                .await?,
        };
    });
    Ok(())
}

/// The Gatebell id of the (not deleted) user with this external id.
pub async fn by_external_id_in_tx(
    tx: &mut Tx,
    external_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT id FROM users WHERE external_id = $1 AND deleted_at IS NULL")
            .bind(external_id)
            .fetch_optional(&mut *c)
            .await
    })
}

/// The id of the user the internal API names by `key`: the user with that external id, else
/// the (local) user with that Gatebell id; never a deleted one.
pub async fn resolve_in_tx(tx: &mut Tx, key: &str) -> Result<Option<String>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_scalar(
            "SELECT id FROM users WHERE (external_id = $1 OR id = $1) AND deleted_at IS NULL
             ORDER BY CASE WHEN external_id = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(key)
        .fetch_optional(&mut *c)
        .await
    })
}

/// A user's name and external id (for a webhook naming who decided).
pub async fn name_and_external_id_in_tx(
    tx: &mut Tx,
    user_id: &str,
) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_as("SELECT name, external_id FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *c)
            .await
    })
}

/// Starts or extends a session row (`token_hash` is its key) to `expires_at`.
pub async fn upsert_session(
    tx: &mut Tx,
    token_hash: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO sessions (token_hash, id, user_id, created_at, expires_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $4)
             ON CONFLICT (token_hash) DO UPDATE SET expires_at = excluded.expires_at, last_used_at = excluded.last_used_at",
        )
        .bind(token_hash)
        .bind(super::new_id())
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// The role of a user, if the user exists and is neither disabled nor deleted.
pub async fn role_in_tx(tx: &mut Tx, user_id: &str) -> Result<Option<Role>, sqlx::Error> {
    let role: Option<String> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT role FROM users WHERE id = $1 AND disabled_at IS NULL")
            .bind(user_id)
            .fetch_optional(&mut *c)
            .await?
    });
    role.map(|r| Role::parse(&r).ok_or_else(|| bad_value("role", &r)))
        .transpose()
}

#[derive(sqlx::FromRow)]
struct ResidentRow {
    id: String,
    name: String,
    unit: String,
}

/// Residents whose name or unit is LIKE `pattern` (lowercase), by unit and name, at most 200.
pub async fn residents(db: &Db, pattern: &str) -> Result<Vec<Resident>, sqlx::Error> {
    let rows: Vec<ResidentRow> = per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT u.id, u.name, un.name AS unit FROM users u JOIN units un ON un.id = u.unit_id
             WHERE u.role = 'resident' AND u.disabled_at IS NULL AND (LOWER(u.name) LIKE $1 OR LOWER(un.name) LIKE $1)
             ORDER BY un.name, u.name LIMIT 200",
        )
        .bind(pattern)
        .fetch_all(p)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|r| Resident {
            id: r.id,
            name: r.name,
            unit: r.unit,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct UserWithHash {
    id: String,
    name: String,
    email: String,
    role: String,
    unit: Option<String>,
    password_hash: String,
    disabled_at: Option<i64>,
}

/// A user found by email, for sign-in.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
    /// Set when the account is disabled.
    pub disabled_at: Option<i64>,
}

fn user(
    id: String,
    name: String,
    email: String,
    role: String,
    unit: Option<String>,
) -> Result<User, sqlx::Error> {
    Ok(User {
        role: Role::parse(&role).ok_or_else(|| bad_value("role", &role))?,
        id,
        name,
        email,
        unit,
    })
}

/// A live session and its user.
pub struct SessionUser {
    pub user: User,
    /// The session's public id.
    pub session_id: String,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

type SessionUserRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
);

/// The user signed in by the session with this token hash, unless the session expired by `now`
/// or the account is disabled.
pub async fn session_user(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> Result<Option<SessionUser>, sqlx::Error> {
    let row: Option<SessionUserRow> = per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT u.id, u.name, u.email, u.role, un.name AS unit, s.id, s.expires_at, s.last_used_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             LEFT JOIN units un ON un.id = u.unit_id
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await?
    });
    row.map(
        |(id, name, email, role, unit, session_id, expires_at, last_used_at)| {
            Ok(SessionUser {
                user: user(id, name, email, role, unit)?,
                // Every session has an id since migration 0003 (older ones got one there).
                session_id: session_id.unwrap_or_default(),
                expires_at,
                last_used_at,
            })
        },
    )
    .transpose()
}

/// The user with this (lowercase) email and their password hash.
pub async fn user_by_email(db: &Db, email: &str) -> Result<Option<Credentials>, sqlx::Error> {
    let row: Option<UserWithHash> = per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT u.id, u.name, u.email, u.role, un.name AS unit, u.password_hash, u.disabled_at
             FROM users u LEFT JOIN units un ON un.id = u.unit_id WHERE u.email = $1",
        )
        .bind(email)
        .fetch_optional(p)
        .await?
    });
    row.map(|r| {
        Ok(Credentials {
            user: user(r.id, r.name, r.email, r.role, r.unit)?,
            password_hash: r.password_hash,
            disabled_at: r.disabled_at,
        })
    })
    .transpose()
}

/// Records a session.
pub async fn insert_session(
    tx: &mut Tx,
    token_hash: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO sessions (token_hash, id, user_id, created_at, expires_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $4)",
        )
        .bind(token_hash)
        .bind(super::new_id())
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Notes that a session was used at `now`.
pub async fn touch_session(tx: &mut Tx, token_hash: &str, now: i64) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(token_hash)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Which sessions to end.
#[derive(Debug, Clone, Copy)]
pub enum Ending<'a> {
    /// The session with this token hash (logout).
    One(&'a str),
    /// Every session of this user (logout-all, a disabled or deleted account).
    AllOf(&'a str),
    /// Sessions expired by this time (cleanup), at most [`ENDING_BATCH`] at a time.
    ExpiredBy(i64),
}

/// How many expired sessions one [`end_sessions`] call ends at most.
pub const ENDING_BATCH: usize = 500;

/// Ends sessions: drops the devices registered under them (a device registered again under
/// another session belongs to that one now and stays), cancels those devices' queued pushes,
/// and deletes the sessions. Returns the token hashes of the sessions ended, for closing their
/// event streams.
pub async fn end_sessions(
    tx: &mut Tx,
    which: Ending<'_>,
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        let hashes: Vec<String> = match which {
            Ending::One(hash) => {
                sqlx::query_scalar("SELECT token_hash FROM sessions WHERE token_hash = $1")
                    .bind(hash)
                    .fetch_all(&mut *c)
                    .await?
            }
            Ending::AllOf(user_id) => {
                sqlx::query_scalar("SELECT token_hash FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_all(&mut *c)
                    .await?
            }
            Ending::ExpiredBy(t) => {
                sqlx::query_scalar(
                    "SELECT token_hash FROM sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
                )
                .bind(t)
                .bind(ENDING_BATCH as i64)
                .fetch_all(&mut *c)
                .await?
            }
        };
        for hash in &hashes {
            // The claim is cleared too: a send in flight cannot record its outcome over this.
            sqlx::query(
                "UPDATE push_jobs SET state = 'pruned', claim = NULL, updated_at = $1, payload = '',
                 last_error = 'the session the device was registered under ended'
                 WHERE state = 'pending' AND device_id IN (SELECT id FROM devices WHERE session_hash = $2)",
            )
            .bind(now)
            .bind(hash)
            .execute(&mut *c)
            .await?;
            sqlx::query("DELETE FROM devices WHERE session_hash = $1")
                .bind(hash)
                .execute(&mut *c)
                .await?;
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(hash)
                .execute(&mut *c)
                .await?;
        }
        Ok(hashes)
    })
}

/// One of a user's sessions, for the sessions list.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub token_hash: String,
    pub id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

/// A user's live sessions, newest first.
pub async fn sessions_of(db: &Db, user_id: &str, now: i64) -> Result<Vec<SessionRow>, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT token_hash, id, created_at, expires_at, last_used_at FROM sessions
             WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(p)
        .await
    })
}

/// Whether a user with this id exists (and was not deleted).
pub async fn user_exists_in_tx(tx: &mut Tx, user_id: &str) -> Result<bool, sqlx::Error> {
    let id: Option<String> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND deleted_at IS NULL")
            .bind(user_id)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(id.is_some())
}

/// Disables (`Some(time)`, voiding its action tokens) or re-enables (`None`) an account that
/// has not been deleted; false when there is no such account. End its sessions too when disabling ([`end_sessions`]).
pub async fn set_disabled(
    tx: &mut Tx,
    user_id: &str,
    disabled_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        let n = sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(disabled_at)
            .bind(user_id)
            .execute(&mut *c)
            .await?
            .rows_affected();
        // A disabled account's outstanding tokens are void (re-enabling does not revive them).
        if n > 0 && disabled_at.is_some() {
            sqlx::query("DELETE FROM action_tokens WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *c)
                .await?;
        }
        n
    });
    Ok(n > 0)
}

/// Deletes an account's personal data while keeping its visits as history: the user row stays
/// as an anonymous, disabled tombstone (visits reference it), the visitors' details on the
/// visits it hosted are blanked and their codes voided, and its notifications and devices are
/// deleted. End its sessions first ([`end_sessions`]). False when there is no such account.
pub async fn anonymise(
    tx: &mut Tx,
    user_id: &str,
    now: i64,
    unusable_password_hash: &str,
) -> Result<bool, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        let n = sqlx::query(
            "UPDATE users SET name = 'Deleted user', email = 'deleted-' || id || '@deleted.invalid',
             password_hash = $1, unit_id = NULL, external_id = NULL, phone = NULL, channels = NULL, quiet_hours = NULL, disabled_at = COALESCE(disabled_at, $2), deleted_at = $2
             WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(unusable_password_hash)
        .bind(now)
        .bind(user_id)
        .execute(&mut *c)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE visits SET visitor_name = 'Deleted', phone = NULL, purpose = NULL,
             otp_hash = NULL, qr_hash = NULL WHERE host_id = $1",
        )
        .bind(user_id)
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "DELETE FROM push_jobs WHERE notification_id IN (SELECT id FROM notifications WHERE user_id = $1)",
        )
        .bind(user_id)
        .execute(&mut *c)
        .await?;
        sqlx::query("DELETE FROM message_jobs WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM action_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM notifications WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM devices WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *c)
            .await?;
        Ok(true)
    })
}

/// A user's preferences: their phone, channels, quiet hours and their unit's household
/// setting.
pub async fn preferences(db: &Db, user_id: &str) -> Result<Preferences, sqlx::Error> {
    let row: Option<PreferenceRow> = per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT u.phone, un.notify, u.channels, u.quiet_hours FROM users u
             LEFT JOIN units un ON un.id = u.unit_id WHERE u.id = $1",
        )
        .bind(user_id)
        .fetch_optional(p)
        .await?
    });
    let (phone, notify, channels, quiet_hours) = row.unwrap_or_default();
    Ok(Preferences {
        phone,
        household: notify
            .map(|n| HouseholdSetting::parse(&n).ok_or_else(|| bad_value("units.notify", &n)))
            .transpose()?,
        channels: parse_json("users.channels", channels)?.unwrap_or_default(),
        quiet_hours: parse_json("users.quiet_hours", quiet_hours)?,
    })
}

type PreferenceRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A JSON column's value (None when NULL).
fn parse_json<T: serde::de::DeserializeOwned>(
    column: &str,
    value: Option<String>,
) -> Result<Option<T>, sqlx::Error> {
    value
        .map(|v| serde_json::from_str(&v).map_err(|_| bad_value(column, &v)))
        .transpose()
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// Sets a user's channels per event type.
pub async fn set_channels(
    tx: &mut Tx,
    user_id: &str,
    channels: &ChannelPreferences,
) -> Result<(), sqlx::Error> {
    let json = to_json(channels)?;
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE users SET channels = $1 WHERE id = $2")
            .bind(json)
            .bind(user_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Sets (or with None removes) a user's quiet hours.
pub async fn set_quiet_hours(
    tx: &mut Tx,
    user_id: &str,
    quiet_hours: Option<&QuietHours>,
) -> Result<(), sqlx::Error> {
    let json = quiet_hours.map(to_json).transpose()?;
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE users SET quiet_hours = $1 WHERE id = $2")
            .bind(json)
            .bind(user_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// How to reach a user beyond their devices.
#[derive(Debug, Clone)]
pub struct Contact {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub channels: ChannelPreferences,
    pub quiet_hours: Option<QuietHours>,
}

type ContactRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A live (not disabled or deleted) user's contact details and channels.
pub async fn contact_in_tx(tx: &mut Tx, user_id: &str) -> Result<Option<Contact>, sqlx::Error> {
    let row: Option<ContactRow> = per_backend!(tx.conn(), c => {
        sqlx::query_as(
            "SELECT name, email, phone, channels, quiet_hours FROM users
             WHERE id = $1 AND disabled_at IS NULL AND deleted_at IS NULL",
        )
        .bind(user_id)
        .fetch_optional(&mut *c)
        .await?
    });
    let Some((name, email, phone, channels, quiet_hours)) = row else {
        return Ok(None);
    };
    Ok(Some(Contact {
        name,
        email,
        phone,
        channels: parse_json("users.channels", channels)?.unwrap_or_default(),
        quiet_hours: parse_json("users.quiet_hours", quiet_hours)?,
    }))
}

/// Sets a user's phone (`Some("")`: none).
pub async fn set_phone(tx: &mut Tx, user_id: &str, phone: Option<&str>) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE users SET phone = $1 WHERE id = $2")
            .bind(phone)
            .bind(user_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Sets the household setting of the user's unit; false when the user has no unit.
pub async fn set_household(
    tx: &mut Tx,
    user_id: &str,
    setting: HouseholdSetting,
) -> Result<bool, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        sqlx::query(
            "UPDATE units SET notify = $1 WHERE id = (SELECT unit_id FROM users WHERE id = $2)",
        )
        .bind(setting.as_str())
        .bind(user_id)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

//! A deployment-sized database, for benchmarks and for sizing a deployment: `gatebell seed
//! --communities N` (and `cargo xtask seed`) writes N communities' worth of rows straight into
//! SQLite or PostgreSQL, set-based (`INSERT … SELECT` over a counter), so millions of rows take
//! seconds, not the hours the API would.
//!
//! Per community ([`Community`]): 500 units, two residents each, 10 guards, 2.5 devices per
//! resident, 20 000 visits over a year (walk-ins, invitations), 100 000 inbox entries and as
//! many closed outbox rows. A hundred communities are 100 k residents, 250 k devices, 2 M visits
//! and 10 M inbox entries. Seeded ids sort before the server's own (UUIDv7), so new rows are
//! the newest in every page; nobody can sign in as a seeded account (no password).

use std::time::Instant;

use super::{Db, DbError};

/// The rows of one community.
#[derive(Debug, Clone, Copy)]
pub struct Community {
    pub units: i64,
    pub residents_per_unit: i64,
    pub guards: i64,
    /// Devices per 10 residents.
    pub devices_per_10: i64,
    pub visits: i64,
    pub notifications: i64,
}

impl Default for Community {
    fn default() -> Community {
        Community {
            units: 500,
            residents_per_unit: 2,
            guards: 10,
            devices_per_10: 25,
            visits: 20_000,
            notifications: 100_000,
        }
    }
}

/// What one table got, and how long it took.
#[derive(Debug)]
pub struct Seeded {
    pub table: &'static str,
    pub rows: u64,
    pub seconds: f64,
}

/// A year, in milliseconds: seeded rows are spread over the year before `now`.
const YEAR_MS: i64 = 365 * 24 * 3600 * 1000;

/// Counts `0 .. n` as `i`, on both backends.
fn counter(n: i64) -> String {
    format!(
        "WITH RECURSIVE c(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM c WHERE i < {n} - 1)"
    )
}

/// A seeded id: `prefix`, then 12 digits, sorting before every UUIDv7 (`019…`).
fn id(prefix: &str, expr: &str) -> String {
    format!("'000000-{prefix}-' || CAST(100000000000 + ({expr}) AS TEXT)")
}

/// The statements that fill community `k` (0-based), table by table.
fn statements(k: i64, c: &Community, now: i64) -> Vec<(&'static str, String)> {
    let residents = c.units * c.residents_per_unit;
    let devices = residents * c.devices_per_10 / 10;
    // Each community's rows get their own id range.
    let base = k * 10_000_000;
    let unit = |e: &str| id("un", &format!("{base} + {e}"));
    let user = |e: &str| id("us", &format!("{base} + {e}"));
    let visit = |e: &str| id("vi", &format!("{base} + {e}"));
    let at = |e: &str, n: i64| format!("{now} - {YEAR_MS} + ({e}) * ({YEAR_MS} / {n})");
    // A notification is about the visit of its moment in the year (and goes to its host).
    let vi = format!("i * {} / {}", c.visits, c.notifications);
    vec![
        (
            "units",
            format!(
                "{} INSERT INTO units (id, name, created_at)
                 SELECT {}, 'C{k}-' || CAST(i AS TEXT), {now} - {YEAR_MS} FROM c",
                counter(c.units),
                unit("i"),
            ),
        ),
        (
            "users",
            format!(
                "{} INSERT INTO users (id, name, email, password_hash, role, unit_id, created_at)
                 SELECT {}, 'Resident ' || CAST(i AS TEXT),
                        'r' || CAST(i AS TEXT) || '@c{k}.seed', '', 'resident',
                        {}, {now} - {YEAR_MS} FROM c",
                counter(residents),
                user("i"),
                unit(&format!("i / {}", c.residents_per_unit)),
            ),
        ),
        (
            "users",
            format!(
                "{} INSERT INTO users (id, name, email, password_hash, role, created_at)
                 SELECT {}, 'Guard ' || CAST(i AS TEXT), 'g' || CAST(i AS TEXT) || '@c{k}.seed',
                        '', 'guard', {now} - {YEAR_MS} FROM c",
                counter(c.guards),
                user(&format!("{residents} + i")),
            ),
        ),
        (
            "devices",
            format!(
                "{} INSERT INTO devices (id, token, platform, user_id, created_at, updated_at,
                                      last_seen_at)
                 SELECT {}, 'seed-c{k}-' || CAST(i AS TEXT),
                        CASE WHEN i % 5 = 0 THEN 'ios' ELSE 'android' END,
                        {}, {now}, {now}, {now} FROM c",
                counter(devices),
                id("de", &format!("{base} + i")),
                user(&format!("i % {residents}")),
            ),
        ),
        (
            "visits",
            format!(
                "{} INSERT INTO visits (id, visitor_name, purpose, host_id, kind, status,
                                     created_by, created_at, decided_at, decided_by)
                 SELECT {}, 'Visitor ' || CAST(i AS TEXT), 'delivery', {},
                        CASE WHEN i % 3 = 0 THEN 'invited' ELSE 'walkin' END,
                        CASE WHEN i % 3 = 0 THEN 'CHECKED_IN' ELSE 'APPROVED' END,
                        {}, {}, CASE WHEN i % 3 = 0 THEN NULL ELSE {} END,
                        CASE WHEN i % 3 = 0 THEN NULL ELSE {} END FROM c",
                counter(c.visits),
                visit("i"),
                user(&format!("i % {residents}")),
                user(&format!("{residents} + i % {}", c.guards)),
                at("i", c.visits),
                at("i", c.visits),
                user(&format!("i % {residents}")),
            ),
        ),
        (
            "notifications",
            format!(
                "{} INSERT INTO notifications (id, user_id, type, title, body, visit_id, read,
                                            created_at)
                 SELECT {}, {}, 'walkin_pending', 'Visitor at the gate',
                        'Visitor ' || CAST({} AS TEXT) || ': Approved', {}, TRUE, {} FROM c",
                counter(c.notifications),
                id("no", &format!("{base} + i")),
                user(&format!("({vi}) % {residents}")),
                vi,
                visit(&vi),
                at("i", c.notifications),
            ),
        ),
        (
            "push_jobs",
            format!(
                "{} INSERT INTO push_jobs (id, notification_id, device_id, provider, payload,
                                        state, attempts, due_at, expires_at, created_at,
                                        updated_at, urgency)
                 SELECT {}, {}, 'seeded', 'fcm', '', 'delivered', 1, {t}, {t}, {t}, {t}, 0 FROM c",
                counter(c.notifications),
                id("pj", &format!("{base} + i")),
                id("no", &format!("{base} + i")),
                t = at("i", c.notifications),
            ),
        ),
    ]
}

/// Writes `communities` communities (numbered from `first`), one transaction per table and
/// community; calls `progress` after each (and after PostgreSQL's closing `VACUUM ANALYZE`).
pub async fn seed(
    db: &Db,
    first: i64,
    communities: i64,
    c: &Community,
    mut progress: impl FnMut(&Seeded),
) -> Result<Vec<Seeded>, DbError> {
    let now = super::now_ms();
    let mut totals: Vec<Seeded> = Vec::new();
    for k in first..first + communities {
        for (table, sql) in statements(k, c, now) {
            let started = Instant::now();
            let mut tx = db.begin().await?;
            let rows = per_backend!(tx.conn(), conn => {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *conn)
                    .await?
                    .rows_affected()
            });
            tx.commit().await?;
            let done = Seeded {
                table,
                rows,
                seconds: started.elapsed().as_secs_f64(),
            };
            progress(&done);
            match totals.iter_mut().find(|t| t.table == table) {
                Some(t) => {
                    t.rows += done.rows;
                    t.seconds += done.seconds;
                }
                None => totals.push(done),
            }
        }
    }
    // On PostgreSQL, leave the database as one of this size is after a while of use: its
    // planner statistics gathered and its visibility map set, so that no autovacuum of the
    // rows just written runs during a measurement.
    if let Some(pool) = db.postgres() {
        let started = Instant::now();
        sqlx::query("VACUUM ANALYZE").execute(pool).await?;
        let done = Seeded {
            table: "(VACUUM ANALYZE)",
            rows: 0,
            seconds: started.elapsed().as_secs_f64(),
        };
        progress(&done);
        totals.push(done);
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_small_community_has_every_table_filled_and_linked() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/seed.db?mode=rwc", dir.path().display());
        let db = Db::connect(&url).await.unwrap();
        let small = Community {
            units: 5,
            residents_per_unit: 2,
            guards: 2,
            devices_per_10: 25,
            visits: 30,
            notifications: 60,
        };
        let totals = seed(&db, 0, 2, &small, |_| {}).await.unwrap();
        let rows = |t: &str| totals.iter().find(|s| s.table == t).unwrap().rows;
        assert_eq!(rows("units"), 10);
        assert_eq!(rows("users"), 24);
        assert_eq!(rows("devices"), 50);
        assert_eq!(rows("visits"), 60);
        assert_eq!(rows("notifications"), 120);
        assert_eq!(rows("push_jobs"), 120);
        let super::super::Backend::Sqlite(pools) = &db.0 else {
            unreachable!()
        };
        // Every reference points at a row of the same community, and ids sort before UUIDv7.
        let orphans: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications n LEFT JOIN visits v ON v.id = n.visit_id
             LEFT JOIN users u ON u.id = n.user_id WHERE v.id IS NULL OR u.id IS NULL",
        )
        .fetch_one(&pools.read)
        .await
        .unwrap();
        assert_eq!(orphans, 0);
        let last: String = sqlx::query_scalar("SELECT MAX(id) FROM notifications")
            .fetch_one(&pools.read)
            .await
            .unwrap();
        assert!(last.as_str() < "019", "{last}");
        let residents: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'resident' AND unit_id IS NOT NULL",
        )
        .fetch_one(&pools.read)
        .await
        .unwrap();
        assert_eq!(residents, 20);
    }
}

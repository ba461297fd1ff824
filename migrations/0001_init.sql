-- Gatebell schema, SQLite dialect. Ids are UUIDv7 text, times epoch milliseconds, so the same
-- queries run here and on PostgreSQL (see ../postgres).

CREATE TABLE units (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('resident', 'guard', 'admin')),
    unit_id       TEXT REFERENCES units (id),
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE visits (
    id            TEXT PRIMARY KEY,
    visitor_name  TEXT NOT NULL,
    phone         TEXT,
    purpose       TEXT,
    host_id       TEXT NOT NULL REFERENCES users (id),
    kind          TEXT NOT NULL CHECK (kind IN ('invited', 'walkin')),
    status        TEXT NOT NULL,
    otp_hash      TEXT,
    qr_hash       TEXT UNIQUE,
    valid_until   BIGINT,
    created_by    TEXT NOT NULL REFERENCES users (id),
    created_at    BIGINT NOT NULL,
    checked_in_at BIGINT,
    checked_in_by TEXT REFERENCES users (id),
    decided_at    BIGINT,
    decided_by    TEXT REFERENCES users (id)
);
-- An OTP identifies one open invitation; it may be reused once that invitation is closed.
CREATE UNIQUE INDEX visits_open_otp ON visits (otp_hash) WHERE status = 'INVITED';
CREATE INDEX visits_host_status ON visits (host_id, status);
CREATE INDEX visits_created ON visits (created_at);

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    visit_id   TEXT REFERENCES visits (id),
    read       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
-- UUIDv7 ids sort by time: the inbox pages on (user_id, id).
CREATE INDEX notifications_user ON notifications (user_id, id);

CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    token        TEXT NOT NULL UNIQUE,
    platform     TEXT NOT NULL CHECK (platform IN ('android', 'ios', 'web')),
    endpoint     TEXT,
    p256dh       TEXT,
    auth         TEXT,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX devices_user ON devices (user_id, last_seen_at);

-- The outbox: one row per notification x device, written in the transaction that made the
-- notification. device_id has no foreign key: a pruned device leaves its jobs to be closed.
CREATE TABLE push_jobs (
    id              TEXT PRIMARY KEY,
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    device_id       TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'expired', 'failed', 'pruned')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    due_at          BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    claim           TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    last_error      TEXT
);
CREATE INDEX push_jobs_due ON push_jobs (due_at) WHERE state = 'pending';

CREATE TABLE push_attempts (
    id         TEXT PRIMARY KEY,
    job_id     TEXT NOT NULL REFERENCES push_jobs (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    provider   TEXT NOT NULL,
    status     BIGINT,
    error      TEXT,
    latency_ms BIGINT NOT NULL
);
CREATE INDEX push_attempts_job ON push_attempts (job_id);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

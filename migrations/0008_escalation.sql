-- Escalation by SMS and email: each user's channels per event type and quiet hours, and the
-- message outbox. Plain SQL for SQLite and PostgreSQL.

-- JSON of `ChannelPreferences` (NULL: the defaults) and of `QuietHours` (NULL: none).
ALTER TABLE users ADD COLUMN channels TEXT;
ALTER TABLE users ADD COLUMN quiet_hours TEXT;

-- When a walk-in nobody answered was escalated, and how many texts and emails that queued
-- (the guard's screen shows "SMS sent"). The sweep sets escalated_at once, so a walk-in is
-- escalated at most once, whichever instance runs it.
ALTER TABLE visits ADD COLUMN escalated_at BIGINT;
ALTER TABLE visits ADD COLUMN escalated_sms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE visits ADD COLUMN escalated_email BIGINT NOT NULL DEFAULT 0;
CREATE INDEX visits_unescalated ON visits (created_at)
    WHERE status = 'PENDING' AND escalated_at IS NULL;

-- The SMS and email outbox: one row per message, written in the transaction that escalated the
-- walk-in (or recorded the check-in), claimed with a lease and retried like push_jobs. The
-- payload (recipient, text, links with an action token) is blanked once the row is closed.
CREATE TABLE message_jobs (
    id          TEXT PRIMARY KEY,
    channel     TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    event       TEXT NOT NULL,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    visit_id    TEXT REFERENCES visits (id) ON DELETE CASCADE,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL
        CHECK (state IN ('pending', 'delivered', 'expired', 'failed', 'cancelled')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    due_at      BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    claim       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    last_status BIGINT,
    last_error  TEXT
);
CREATE INDEX message_jobs_due ON message_jobs (channel, due_at) WHERE state = 'pending';
CREATE INDEX message_jobs_created ON message_jobs (created_at);
CREATE INDEX message_jobs_visit ON message_jobs (visit_id);

-- One row per try, as push_attempts.
CREATE TABLE message_attempts (
    id         TEXT PRIMARY KEY,
    job_id     TEXT NOT NULL REFERENCES message_jobs (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    channel    TEXT NOT NULL,
    status     BIGINT,
    error      TEXT,
    latency_ms BIGINT NOT NULL
);
CREATE INDEX message_attempts_job ON message_attempts (job_id);

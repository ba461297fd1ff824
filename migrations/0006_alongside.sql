-- Beside an existing backend: its users' phones, its visits, action tokens and webhooks.
-- Plain SQL for SQLite and PostgreSQL.

-- E.164, as `PUT /internal/users/{id}` gives it (for SMS escalation).
ALTER TABLE users ADD COLUMN phone TEXT;

-- The backend's id of a visit it handed over (`/internal/walkins`, `/internal/checkins`):
-- unique, so that handing it over twice makes one visit.
ALTER TABLE visits ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX visits_external_id ON visits (external_id);

-- Single-use tokens a walk-in's push carries, one per recipient, so that Approve / Reject work
-- from the notification without a session. Stored as SHA-256 hashes.
CREATE TABLE action_tokens (
    token_hash TEXT PRIMARY KEY,
    visit_id   TEXT NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX action_tokens_visit ON action_tokens (visit_id);
CREATE INDEX action_tokens_expires ON action_tokens (expires_at);

-- The webhook outbox: one row per event for `--webhook-url`, written in the transaction that
-- made the decision, claimed and retried like push_jobs. The id is the `webhook-id` header:
-- stable across retries, so the receiver can de-duplicate.
CREATE TABLE webhook_jobs (
    id          TEXT PRIMARY KEY,
    event       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'expired', 'failed')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    due_at      BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    claim       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    last_status BIGINT,
    last_error  TEXT
);
CREATE INDEX webhook_jobs_due ON webhook_jobs (due_at) WHERE state = 'pending';
CREATE INDEX webhook_jobs_created ON webhook_jobs (created_at);

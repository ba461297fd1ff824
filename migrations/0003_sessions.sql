-- Sessions that end delivery, disabled and deleted accounts. Plain SQL for SQLite and PostgreSQL.

-- The session a device was registered under (its token hash): when that session ends (logout,
-- logout-all, revocation, expiry) the device is dropped and its queued pushes cancelled.
-- NULL for devices registered before this migration; those stay until unregistered or pruned.
ALTER TABLE devices ADD COLUMN session_hash TEXT;
CREATE INDEX devices_session ON devices (session_hash);

-- A session's public id (the token hash is its key and never leaves the server) and when it
-- was last used (updated at most once a minute).
ALTER TABLE sessions ADD COLUMN id TEXT;
ALTER TABLE sessions ADD COLUMN last_used_at BIGINT;
-- Sessions from before this migration get an id derived from their key; it reveals nothing
-- about the token (half of a SHA-256 of 256 random bits).
UPDATE sessions SET id = substr(token_hash, 1, 32) WHERE id IS NULL;
CREATE UNIQUE INDEX sessions_id ON sessions (id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- A disabled account cannot sign in and has no sessions; a deleted one is anonymised in place
-- (its visits stay, without personal data).
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
ALTER TABLE users ADD COLUMN deleted_at BIGINT;

-- Retention purges by age.
CREATE INDEX notifications_created ON notifications (created_at);
CREATE INDEX push_jobs_created ON push_jobs (created_at);

-- The visitor at the gate first: each outbox row carries its class (0 = a walk-in and its
-- outcome, 1 = a check-in, 2 = everything else). A lane claims by class, then by deadline
-- (`expires_at`), from these indexes; every fourth claim takes rows in due order instead, so
-- a stream of urgent rows cannot starve the rest.
-- Plain SQL for SQLite and PostgreSQL.
ALTER TABLE push_jobs ADD COLUMN urgency SMALLINT NOT NULL DEFAULT 2;
ALTER TABLE message_jobs ADD COLUMN urgency SMALLINT NOT NULL DEFAULT 2;
ALTER TABLE webhook_jobs ADD COLUMN urgency SMALLINT NOT NULL DEFAULT 2;
CREATE INDEX push_jobs_urgent ON push_jobs (provider, urgency, expires_at) WHERE state = 'pending';
CREATE INDEX message_jobs_urgent ON message_jobs (channel, urgency, expires_at) WHERE state = 'pending';
CREATE INDEX webhook_jobs_urgent ON webhook_jobs (urgency, expires_at) WHERE state = 'pending';

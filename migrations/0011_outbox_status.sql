-- Every outbox table keeps the provider's last answer: push_jobs gets the column the webhook
-- and message queues have, so one statement closes rows of all three.
-- Plain SQL for SQLite and PostgreSQL.
ALTER TABLE push_jobs ADD COLUMN last_status BIGINT;

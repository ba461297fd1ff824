-- An index for each foreign key that had none. Without one, every lookup by the key is a
-- full scan of a table that holds millions of rows at the size of a deployment. Three kinds of
-- lookup use these keys:
-- - a walk-in finds its host's household through users.unit_id (on every walk-in, inside the
--   write transaction);
-- - deleting a notification or a visit makes both databases look for the rows that refer to
--   it (ON DELETE CASCADE / SET NULL), once per row the retention purge deletes;
-- - erasing a user deletes their queued messages and action tokens by user_id.
-- (visits.created_by, checked_in_by and decided_by stay unindexed: users rows are never
-- deleted, erasure blanks them, so nothing looks visits up by those keys.)
-- Plain SQL for SQLite and PostgreSQL.
CREATE INDEX users_unit ON users (unit_id);
CREATE INDEX push_jobs_notification ON push_jobs (notification_id);
CREATE INDEX checkin_attempts_visit ON checkin_attempts (visit_id);
CREATE INDEX action_tokens_user ON action_tokens (user_id);
CREATE INDEX message_jobs_user ON message_jobs (user_id);

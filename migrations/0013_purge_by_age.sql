-- Retention purges attempts by age, a batch at a time: each batch finds its rows by index.
-- Plain SQL for SQLite and PostgreSQL.
CREATE INDEX push_attempts_at ON push_attempts (at);
CREATE INDEX message_attempts_at ON message_attempts (at);

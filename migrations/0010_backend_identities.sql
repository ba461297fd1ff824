-- Accounts that sign in through an existing backend (made from its JWTs or its internal API)
-- have no password here: the empty hash, which sign-in refuses without hashing.
-- Plain SQL for SQLite and PostgreSQL.
UPDATE users SET password_hash = '' WHERE external_id IS NOT NULL;

-- A user the backend deleted: a JWT for that `sub` issued before the deletion is refused, so
-- a token still in flight cannot make the account again; the backend's PUT re-creates it.
CREATE TABLE external_tombstones (
    external_id TEXT PRIMARY KEY,
    deleted_at  BIGINT NOT NULL
);

-- Users an existing backend signs in with its own JWTs (`gatebell serve --jwt-*`): `sub` is
-- their id there. NULL for local accounts. SQLite cannot add a UNIQUE column, so the
-- uniqueness is a separate index (which, on both backends, admits many NULLs).
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external_id ON users (external_id);

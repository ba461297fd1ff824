-- Gate codes: wrong-code limits with an audit trail, and keyed code hashes.
-- One dialect for SQLite and PostgreSQL, like 0001.

-- Every check-in attempt a guard makes, with its outcome; the wrong-code limits count the rows
-- of the last window, so they hold across instances sharing one database. The code itself (or
-- its hash) is never stored. outcome: checked_in, wrong_code (no open invitation has it),
-- expired (its invitation ran out), already_used, locked_guard / locked_gate (refused by a limit).
CREATE TABLE checkin_attempts (
    id       TEXT PRIMARY KEY,
    guard_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at       BIGINT NOT NULL,
    outcome  TEXT NOT NULL CHECK (outcome IN ('checked_in', 'wrong_code', 'expired',
        'already_used', 'locked_guard', 'locked_gate')),
    code_kind TEXT NOT NULL CHECK (code_kind IN ('otp', 'qr')),
    visit_id TEXT REFERENCES visits (id) ON DELETE SET NULL
);
CREATE INDEX checkin_attempts_guard ON checkin_attempts (guard_id, outcome, at);
CREATE INDEX checkin_attempts_at ON checkin_attempts (outcome, at);

-- Codes are now HMAC-SHA256 under a server secret; the unsalted SHA-256 of an open invitation's
-- code can no longer be matched (and a 6-digit OTP's SHA-256 is reversed by trying 10^6 codes),
-- so invitations open at the upgrade are closed: their residents invite again.
UPDATE visits SET status = 'EXPIRED' WHERE status = 'INVITED';

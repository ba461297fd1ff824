-- Who may decide a walk-in: a right of its own, written when the walk-in asks someone (the host
-- and, per the unit's setting, the household), with the unit they were asked as a resident of.
-- Nothing else grants one: not an inbox entry, not a notice sent through the internal API.
-- Plain SQL for SQLite and PostgreSQL.
CREATE TABLE decision_rights (
    visit_id   TEXT NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    unit_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (visit_id, user_id)
);
CREATE INDEX decision_rights_user ON decision_rights (user_id);

-- Walk-ins asked before rights were kept: their `walkin_pending` entries were the rights.
INSERT INTO decision_rights (visit_id, user_id, unit_id, created_at)
SELECT n.visit_id, n.user_id, u.unit_id, MIN(n.created_at)
FROM notifications n
JOIN visits v ON v.id = n.visit_id AND v.kind = 'walkin'
JOIN users u ON u.id = n.user_id AND u.unit_id IS NOT NULL
WHERE n.type = 'walkin_pending'
GROUP BY n.visit_id, n.user_id, u.unit_id;

-- The household: a walk-in asks every resident of the host's unit (`household`, the default)
-- or the host only (`host`). Plain SQL for SQLite and PostgreSQL.
ALTER TABLE units ADD COLUMN notify TEXT NOT NULL DEFAULT 'household'
    CHECK (notify IN ('host', 'household'));

-- The expiry sweep looks for pending walk-ins by age.
CREATE INDEX visits_pending ON visits (created_at) WHERE status = 'PENDING';

-- Who a walk-in asked is who got its `walkin_pending` notification.
CREATE INDEX notifications_visit ON notifications (visit_id, user_id);

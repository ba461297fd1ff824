-- Each provider has its own dispatcher lane, which claims only its own rows: a provider that
-- stalls cannot hold back the other's pushes.
ALTER TABLE push_jobs ADD COLUMN provider TEXT NOT NULL DEFAULT 'webpush';
UPDATE push_jobs SET provider = 'fcm'
    WHERE device_id IN (SELECT id FROM devices WHERE platform <> 'web');
DROP INDEX push_jobs_due;
CREATE INDEX push_jobs_due ON push_jobs (provider, due_at) WHERE state = 'pending';

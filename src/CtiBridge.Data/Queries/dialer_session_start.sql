-- A dialer instance starts its session: it names its Stasis app for an adopter (dialer_instances.application).
-- The session lock itself (pg_advisory_lock on the instance's key) is taken on the same connection.
INSERT INTO dialer_instances (instance_id, heartbeat_at, application) VALUES (@instance_id, @now, @application)
ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, application = EXCLUDED.application

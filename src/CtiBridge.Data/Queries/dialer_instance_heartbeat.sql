INSERT INTO dialer_instances (instance_id, heartbeat_at) VALUES (@instance_id, @now)
ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at

-- Other dialer instances with something to adopt (open attempts or agents on lines) and a Stasis app
-- named; whether each is dead is then asked of its session lock (dialer_adopt_try_lock).
SELECT i.instance_id, i.application
FROM dialer_instances i
WHERE i.instance_id <> @instance_id AND i.application IS NOT NULL
  AND (EXISTS (SELECT 1 FROM dialer_attempts a WHERE a.instance_id = i.instance_id AND a.ended_at IS NULL)
       OR EXISTS (SELECT 1 FROM dialer_agent_lines l WHERE l.instance_id = i.instance_id))
ORDER BY i.instance_id

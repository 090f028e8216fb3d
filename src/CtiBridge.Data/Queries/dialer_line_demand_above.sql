-- Lines of a trunk that campaigns ranked above @campaign_id (higher priority, then lower campaign id, as every
-- instance orders its own rounds) on other live instances wanted in their last round and did not get: the
-- campaign asking leaves that many of the free lines to them. Rows past valid_until or of an instance without
-- a heartbeat for the claim lease do not count (a stalled or dead instance never holds lines back for good).
SELECT coalesce(sum(d.lines), 0)::integer
FROM dialer_line_demand d
JOIN dialer_instances i ON i.instance_id = d.instance_id
WHERE d.trunk_key = @trunk_key
  AND d.instance_id <> @instance_id
  AND d.campaign_id <> @campaign_id
  AND d.valid_until >= @now
  AND i.heartbeat_at >= @stale_before
  AND (d.priority > @priority OR (d.priority = @priority AND d.campaign_id < @campaign_id))

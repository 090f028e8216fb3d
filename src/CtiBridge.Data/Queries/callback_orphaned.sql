-- Due or dialing callbacks held by a scheduler instance that no longer checks in (its row is gone
-- from qrtz_scheduler_state, or its last check-in is older than three check-in intervals behind the
-- freshest instance's: Quartz's own clock against itself, so no clock of ours is compared to it).
SELECT c.* FROM callbacks c
WHERE c.state IN ('due', 'dialing') AND c.placed_by IS NOT NULL AND c.placed_by <> @me
  AND NOT EXISTS (
      SELECT 1 FROM qrtz_scheduler_state s
      WHERE s.sched_name = @scheduler AND s.instance_name = c.placed_by
        AND s.last_checkin_time + 3 * s.checkin_interval
            >= (SELECT max(f.last_checkin_time) FROM qrtz_scheduler_state f WHERE f.sched_name = @scheduler))
ORDER BY c.due_at
LIMIT @limit

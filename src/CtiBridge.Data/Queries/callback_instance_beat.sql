-- One heartbeat of this instance (creates its row at the first), then every instance's count:
-- the caller compares counts between its own observations, never times.
WITH beat AS (
    INSERT INTO callback_instances AS i (scheduler, instance_id, beats) VALUES (@scheduler, @me, 1)
    ON CONFLICT (scheduler, instance_id) DO UPDATE SET beats = i.beats + 1, beat_at = now()
    RETURNING i.instance_id, i.beats)
SELECT instance_id, beats FROM beat
UNION ALL
SELECT instance_id, beats FROM callback_instances WHERE scheduler = @scheduler AND instance_id <> @me

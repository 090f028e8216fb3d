-- A recording onto its call's row (calls.recording_id) for the recordings of one records batch, when
-- the row names none yet. The ACD's records name a call's first recording in its row; but a caller put
-- through to an outside number after leaving the queue (an overflow to a mobile, REC-05) is recorded
-- after the call's row was written, and call control writes that recording's row alone (issue 8). The
-- earliest recording of a call wins; a row that names one keeps it (the calls upsert never clears it).
-- Parameters: @call_ids text[], @recording_ids text[], @started_at timestamptz[] (same length, one per recording).
UPDATE calls AS c
SET recording_id = r.recording_id, written_at = now()
FROM (
    SELECT DISTINCT ON (a.call_id) a.call_id, a.recording_id
    FROM unnest(@call_ids::text[], @recording_ids::text[], @started_at::timestamptz[]) AS a(call_id, recording_id, started_at)
    ORDER BY a.call_id, a.started_at
) AS r
WHERE c.call_id = r.call_id AND c.recording_id IS NULL

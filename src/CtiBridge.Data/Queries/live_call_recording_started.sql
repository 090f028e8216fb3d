-- A recording of the call started: the first one is the call's (calls.recording_id), kept with what its recordings
-- row needs for a record written from the row.
UPDATE live_calls SET recording_id = @recording_id, recording_started_at = @started_at, recording_path = @path,
    recording_format = @format, recording_agent_id = @agent_id, updated_at = @at
WHERE call_id = @call_id AND recording_id IS NULL

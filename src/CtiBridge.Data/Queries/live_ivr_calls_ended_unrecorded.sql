-- Callers of one server outside a queue whose call ended under an earlier owner (restart or takeover) and whose record
-- never reached the database: an IVR-only call without a calls row (under any start), or a survey answer not stored.
-- Read by the instance adopting the server, which writes the records from the rows.
SELECT i.call_id, i.started_at, i.ended_at, i.disposition, i.end_estimated, i.released_by, i.caller_number, i.did, i.external_number,
       i.recording_id, i.recording_started_at, i.recording_path, i.recording_format,
       i.survey_question, i.survey_score, i.survey_scale_max, i.survey_answered_at, i.queue, i.agent_id
FROM live_ivr_calls i
WHERE i.server = @server AND i.ended_at IS NOT NULL
  AND CASE WHEN i.disposition IS NOT NULL THEN NOT EXISTS (SELECT 1 FROM calls k WHERE k.call_id = i.call_id)
           ELSE i.survey_score IS NOT NULL AND NOT EXISTS (SELECT 1 FROM survey_answers s WHERE s.call_id = i.call_id AND s.question = i.survey_question) END
ORDER BY i.ended_at, i.call_id

-- Calls of one server that ended under an earlier owner (restart or takeover) and whose record never reached
-- `calls`: the instance died with it in its record writer's memory. Read by the instance adopting the server, which
-- writes the record from the row. A call whose row exists under any start is recorded: never a second row.
SELECT l.call_id, l.queue, l.queues, l.entry_position, l.started_at, l.first_enqueued_at, l.enqueued_at, l.agent_id, l.answered_at,
       l.caller_number, l.did, l.ended_at, l.disposition, l.end_estimated, l.talk_seconds, l.call_hold_seconds, l.released_by,
       l.visit_outcome, l.visit_left_at, l.first_answered_at, l.transfer_chain, l.recording_id, l.recording_started_at, l.recording_path,
       l.recording_format, l.recording_agent_id, l.survey_score
FROM live_calls l
WHERE l.server = @server AND l.ended_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM calls k WHERE k.call_id = l.call_id)
ORDER BY l.ended_at, l.call_id

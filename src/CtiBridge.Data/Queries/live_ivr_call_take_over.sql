-- A caller whose call is in live_calls as well (and not ended there) entered a queue after this row was written: the queue's row is the one adopted.
-- An ended row (its record not stored yet, migration 0046) is not adopted: the adopter writes its record (live_ivr_calls_ended_unrecorded.sql).
WITH taken AS (
    UPDATE live_ivr_calls i SET takeovers = i.takeovers + 1
    WHERE i.server = @server AND i.ended_at IS NULL AND NOT EXISTS (SELECT 1 FROM live_calls c WHERE c.call_id = i.call_id AND c.ended_at IS NULL)
    RETURNING i.*
)
SELECT call_id, channel_id, stage, started_at, plan, node, ivr_path, queue, agent_id, mailbox, recording_name, callback_queue, left_acd,
    caller_number, caller_name, did, customer_id, language, is_vip, is_member, takeovers,
    playback_id, external_number, external_started_at, external_answered_at
FROM taken ORDER BY started_at, call_id

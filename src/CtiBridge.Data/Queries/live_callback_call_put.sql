INSERT INTO live_callback_calls (call_id, server, callback_id, stage, queue, agent_id, customer_leg_id, agent_leg_id, bridge_id, entered_at,
    dial_started_at, customer_answered_at, connected_at, conversation_ended_at, recording_id, recording_started_at, updated_at)
VALUES (@call_id, @server, @callback_id, @stage, @queue, @agent_id, @customer_leg_id, @agent_leg_id, @bridge_id, @entered_at,
    @dial_started_at, @customer_answered_at, @connected_at, @conversation_ended_at, @recording_id, @recording_started_at, @at)
ON CONFLICT (call_id) DO UPDATE SET stage = EXCLUDED.stage, agent_id = EXCLUDED.agent_id, agent_leg_id = EXCLUDED.agent_leg_id,
    bridge_id = EXCLUDED.bridge_id, customer_answered_at = EXCLUDED.customer_answered_at, connected_at = EXCLUDED.connected_at,
    conversation_ended_at = EXCLUDED.conversation_ended_at, recording_id = EXCLUDED.recording_id,
    recording_started_at = EXCLUDED.recording_started_at, updated_at = EXCLUDED.updated_at

INSERT INTO live_ivr_calls (call_id, server, channel_id, stage, started_at, plan, node, playback_id, ivr_path, queue, agent_id, mailbox, recording_name,
    callback_queue, external_number, external_started_at, external_answered_at, left_acd, caller_number, caller_name, did, customer_id, language,
    is_vip, is_member, updated_at)
VALUES (@call_id, @server, @channel_id, @stage, @started_at, @plan, @node, @playback_id, @ivr_path, @queue, @agent_id, @mailbox, @recording_name,
    @callback_queue, @external_number, @external_started_at, @external_answered_at, @left_acd, @caller_number, @caller_name, @did, @customer_id, @language,
    @is_vip, @is_member, @at)
ON CONFLICT (call_id) DO UPDATE SET stage = EXCLUDED.stage, plan = EXCLUDED.plan, node = EXCLUDED.node, playback_id = EXCLUDED.playback_id,
    ivr_path = EXCLUDED.ivr_path, queue = EXCLUDED.queue, agent_id = EXCLUDED.agent_id, mailbox = EXCLUDED.mailbox, recording_name = EXCLUDED.recording_name,
    callback_queue = EXCLUDED.callback_queue, external_number = EXCLUDED.external_number, external_started_at = EXCLUDED.external_started_at,
    external_answered_at = EXCLUDED.external_answered_at, left_acd = EXCLUDED.left_acd, customer_id = EXCLUDED.customer_id, language = EXCLUDED.language,
    is_vip = EXCLUDED.is_vip, is_member = EXCLUDED.is_member, updated_at = EXCLUDED.updated_at

-- An agent joined a campaign's nailed-up line on this instance: written before the phone is called,
-- with the line's channel id and the phone, so an adopter of a killed instance knows both.
INSERT INTO dialer_agent_lines (agent_id, campaign_id, instance_id, joined_at, channel_id, endpoint)
VALUES (@agent_id, @campaign_id, @instance_id, @joined_at, @channel_id, @endpoint)
ON CONFLICT (agent_id) DO UPDATE SET campaign_id = EXCLUDED.campaign_id, instance_id = EXCLUDED.instance_id, joined_at = EXCLUDED.joined_at,
    channel_id = EXCLUDED.channel_id, endpoint = EXCLUDED.endpoint

-- One dial attempt by its call id: the campaign, lead, number and the agent who took it.
SELECT a.campaign_id, a.lead_id, a.phone_number, a.agent_id, a.agent_connected_at
FROM dialer_attempts a
WHERE a.call_id = @call_id

-- Attempts whose end is stored but whose call record never reached `calls`: the instance stores the end
-- (dialer_attempt_end) and only then hands the record to its writer, so a kill -9 in between (or before the
-- writer stored it) loses the record, and the orphan sweep never sees the attempt because it is ended. Only
-- attempts of instances that stopped heartbeating (and this instance id's own from before its current run,
-- @own_before) are taken: a live instance's record may still be on its way. Ended since @ended_after only, so
-- calls removed by retention are not written again. The calls row is keyed by the call id (and its start, the
-- attempt's dialed_at): a sweep that hands it twice, or two sweeps racing, still store it once.
SELECT a.call_id, a.campaign_id, a.lead_id, a.phone_number, a.dialed_at, a.answered_at, a.agent_id, a.agent_connected_at,
       a.asterisk_server, c.definition->>'callerId' AS caller_id, a.ended_at, a.outcome, a.hangup_cause, a.abandoned
FROM dialer_attempts a
LEFT JOIN dialer_campaigns c ON c.campaign_id = a.campaign_id
WHERE a.ended_at IS NOT NULL
  AND a.ended_at >= @ended_after
  AND ((a.instance_id = @instance_id AND coalesce(a.adopted_at, a.dialed_at) < @own_before)
       OR a.instance_id NOT IN (SELECT instance_id FROM dialer_instances WHERE heartbeat_at >= @stale_before))
  AND NOT EXISTS (SELECT 1 FROM calls k WHERE k.call_id = a.call_id AND k.started_at = a.dialed_at)
ORDER BY a.attempt_id
LIMIT @limit

-- Each agent's outbound calls answered since @from (campaign and callback calls the agent talked on,
-- docs/metrics.md §6 version 3): the live side of report_agent_activity's outbound_calls, read from
-- the same definition (agent_outbound_calls) so the wallboard and the report count the same calls.
-- Talk, hold and wrap-up are of the handled calls, as the live statistics count inbound calls.
SELECT agent_id, count(*) AS calls, count(*) FILTER (WHERE handled) AS handled,
       coalesce(sum(talk_seconds) FILTER (WHERE handled), 0) AS talk,
       coalesce(sum(hold_seconds) FILTER (WHERE handled), 0) AS hold,
       coalesce(sum(wrap_up_seconds) FILTER (WHERE handled), 0) AS wrap_up
FROM agent_outbound_calls(@from, 'infinity')
GROUP BY agent_id

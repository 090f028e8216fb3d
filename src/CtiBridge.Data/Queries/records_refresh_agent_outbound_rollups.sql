-- Recounts the agents' outbound-call rollup (migration 0032) for the quarters @quarters.
SELECT records_refresh_agent_outbound_rollups(@quarters)

-- Recounts the hourly agent-state rollup (migration 0009) for the UTC hours @hours.
SELECT records_refresh_agent_state_rollups(@hours)

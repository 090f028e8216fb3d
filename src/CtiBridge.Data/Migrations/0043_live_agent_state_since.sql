-- An agent's state across a restart or takeover (issue 14, "agents' states restored"): the state the ACD had the
-- agent in and since when, kept beside the login, so the instance that restores the agent carries the state on
-- from its real start. Before, a restored agent's state started at the restore: its time from the state's start to
-- the kill was in no agent_state_intervals row (the killed instance writes an interval when it ends), and the API's
-- "since" moved to the takeover.
ALTER TABLE live_agents
    ADD COLUMN state       text,
    ADD COLUMN state_since timestamptz;
COMMENT ON COLUMN live_agents.state IS 'The ACD state (Ready, Ringing, OnCall, WrapUp, Paused) at the last change written; null for rows written before 0043.';
COMMENT ON COLUMN live_agents.state_since IS 'When the agent entered that state (the ACD''s clock).';

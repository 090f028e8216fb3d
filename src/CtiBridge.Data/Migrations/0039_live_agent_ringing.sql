-- An agent whose phone rings with a call (ACD state Ringing), kept beside the login (live_agents): the status
-- commands (ctibridge agents / queues) and GET /api/wallboard/centre read the live state from the database, and
-- before this they showed a ringing agent as Ready. Written when the ACD offers the agent a call; cleared when the
-- agent answers, the ring times out or is withdrawn, the agent pauses or logs out, and at every login or restore
-- (an adoption after a restart rings the agent again if the call still waits, so a ring of the previous owner is stale).
ALTER TABLE live_agents
    ADD COLUMN ringing_call_id text,
    ADD COLUMN ringing_since   timestamptz;
COMMENT ON COLUMN live_agents.ringing_call_id IS 'The call ringing the agent''s phone now (ACD state Ringing); null: not ringing.';
COMMENT ON COLUMN live_agents.ringing_since IS 'When that call started ringing the agent (the ACD''s clock).';

-- What an agent was in the middle of, kept for a restart or an HA takeover (issue 8): the wrap-up's
-- end (and the call and queue wrapped up), and a pause or logout asked for on a call, which waits
-- for the call's end and its wrap-up. Before, a restart brought an agent in wrap-up back ready (a
-- call could ring at once) and forgot the waiting pause (the agent got the next call instead).

ALTER TABLE live_agents
    ADD COLUMN wrap_up_until        timestamptz,
    ADD COLUMN wrap_up_call_id      text,
    ADD COLUMN wrap_up_queue        text,
    ADD COLUMN pending_pause_reason text,
    ADD COLUMN pending_logout       boolean NOT NULL DEFAULT false,
    ADD COLUMN pending_source       text;
COMMENT ON COLUMN live_agents.wrap_up_until IS 'End of the wrap-up the agent is in (null: not in wrap-up); a restart restores the time left.';
COMMENT ON COLUMN live_agents.pending_pause_reason IS 'Pause (or logout) reason waiting for the end of the current call and wrap-up; null: nothing waits.';
COMMENT ON COLUMN live_agents.pending_logout IS 'True when the waiting change is a logout.';
COMMENT ON COLUMN live_agents.pending_source IS 'Who asked for the waiting change (Agent, Supervisor, System).';

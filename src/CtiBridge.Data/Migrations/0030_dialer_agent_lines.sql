-- Agents on a campaign's nailed-up line, by the instance whose dialer holds the line (issue 9: one
-- agent, one state at a time across instances). The active instance's call control refuses an
-- inbound login of an agent listed here (the dialer may run on a dialer-only instance), as the
-- dialer refuses a join of an agent logged in to inbound queues (live_agents). A row of an instance
-- whose dialer heartbeat (dialer_instances) is older than the claim lease no longer counts: a
-- crashed instance does not keep its agents off the queues.
CREATE TABLE dialer_agent_lines (
    agent_id     text        PRIMARY KEY,
    campaign_id  text        NOT NULL,
    instance_id  text        NOT NULL,
    joined_at    timestamptz NOT NULL
);
COMMENT ON TABLE dialer_agent_lines IS 'Agents on a campaign''s nailed-up line now, per dialer instance (docs/dialer.md).';

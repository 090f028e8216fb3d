-- Preview across instances, the agent's own line (issue 10): an agent's desktop talks to the instance
-- running call control, while the dialer that nails up the agent's line may run on another
-- (dialer-only) instance. A join or leave sent to an instance without the dialer is written here for
-- a dialer instance (join: a live one; leave: the one holding the agent's line, dialer_agent_lines),
-- which carries it out and answers (refused with the reason, or not); docs/dialer.md.
CREATE TABLE dialer_agent_requests (
    request_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id  text NOT NULL,
    agent_id     text NOT NULL,
    campaign_id  text NOT NULL,
    action       text NOT NULL CHECK (action IN ('join', 'leave')),
    endpoint     text,
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL,
    answered_at  timestamptz,
    refused      text,
    CHECK (action = 'leave' OR endpoint IS NOT NULL)
);
CREATE INDEX dialer_agent_requests_pending ON dialer_agent_requests (instance_id, request_id) WHERE answered_at IS NULL;
COMMENT ON TABLE dialer_agent_requests IS 'An agent''s join or leave of a campaign''s nailed-up line sent to an instance without the dialer, for the dialer instance to carry out and answer (refused: the reason); kept one day.';

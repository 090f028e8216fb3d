-- Preview mode across instances (issue 10): the dialer that shows an agent a lead may run on another
-- CtiBridge instance than call control (a dialer-only instance). Its screen pops are written here so
-- the instance with call control can put them on its event stream and answer the preview API, and an
-- agent's "dial" or "skip" sent to any instance is handed to the dialer instance holding the lead
-- through dialer_preview_requests (docs/dialer.md, "Preview across instances").

CREATE TABLE dialer_preview_events (
    event_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id text NOT NULL,
    agent_id    text NOT NULL,
    phase       text NOT NULL,
    preview     jsonb NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX dialer_preview_events_agent ON dialer_preview_events (agent_id, event_id DESC);
COMMENT ON TABLE dialer_preview_events IS 'Preview screen pops (dialer.preview events) as each dialer instance raised them, for the event stream and the preview API of the other instances; kept one day.';
COMMENT ON COLUMN dialer_preview_events.instance_id IS 'The dialer instance (dialer_instances.instance_id) that holds the lead shown.';
COMMENT ON COLUMN dialer_preview_events.preview IS 'The screen pop as the API shows it (phase, campaignId, agentId, leadId, phoneNumber, customFields, ...).';

CREATE TABLE dialer_preview_requests (
    request_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id  text NOT NULL,
    agent_id     text NOT NULL,
    lead_id      text,
    action       text NOT NULL CHECK (action IN ('dial', 'skip')),
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL,
    answered_at  timestamptz,
    call_id      text,
    refused      text
);
CREATE INDEX dialer_preview_requests_pending ON dialer_preview_requests (instance_id, request_id) WHERE answered_at IS NULL;
COMMENT ON TABLE dialer_preview_requests IS 'A preview decision (dial or skip) sent to one instance for a lead another dialer instance shows; that instance answers it (call_id, or refused with the reason); kept one day.';

-- Outbound dialer (issue 10): campaigns, leads with custom fields, the hopper's claims, attempts,
-- the compliance ledger, lead imports with their rejected rows, and do-not-call lists with an
-- approval workflow. See docs/dialer.md.

CREATE TABLE dialer_campaigns (
    campaign_id text PRIMARY KEY CHECK (campaign_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    definition  jsonb NOT NULL,
    state       text NOT NULL DEFAULT 'stopped' CHECK (state IN ('stopped', 'running', 'paused')),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
COMMENT ON TABLE dialer_campaigns IS 'Outbound campaigns: the settings as JSON (docs/dialer.md "Campaign file") and whether they dial.';

-- Every CtiBridge instance that dials says it is alive here; claims of an instance that has not
-- been heard from for a while are free again (a crashed instance never keeps leads forever).
CREATE TABLE dialer_instances (
    instance_id  text PRIMARY KEY,
    heartbeat_at timestamptz NOT NULL
);

CREATE TABLE dialer_lead_imports (
    import_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id   text NOT NULL REFERENCES dialer_campaigns ON DELETE CASCADE,
    file_name     text NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    imported_by   text NOT NULL,
    all_or_nothing boolean NOT NULL,
    committed     boolean NOT NULL,
    rows_read     integer NOT NULL,
    rows_imported integer NOT NULL,
    rows_invalid  integer NOT NULL,
    duplicates    integer NOT NULL,
    dnc_hits      integer NOT NULL
);
COMMENT ON TABLE dialer_lead_imports IS 'One row per lead import (CSV), committed or not, with its counts.';

-- Rows an import did not take (broken, duplicate, on a do-not-call list), kept with the original text.
CREATE TABLE dialer_import_rejects (
    import_id   bigint NOT NULL REFERENCES dialer_lead_imports ON DELETE CASCADE,
    line        integer NOT NULL,
    column_name text,
    kind        text NOT NULL CHECK (kind IN ('invalid', 'duplicate', 'dnc')),
    reason      text NOT NULL,
    raw         text NOT NULL,
    PRIMARY KEY (import_id, line)
);

CREATE TABLE dialer_leads (
    lead_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id     text NOT NULL REFERENCES dialer_campaigns ON DELETE CASCADE,
    phone_number    text NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{1,14}$'),
    time_zone       text,
    custom_fields   jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'reached', 'invalid_number', 'attempts_exhausted', 'closed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_outcome    text,
    disposition     text,
    assigned_agent  text,
    import_id       bigint REFERENCES dialer_lead_imports ON DELETE SET NULL,
    source_line     integer,
    claimed_by      text,
    claimed_at      timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (campaign_id, phone_number)
);
COMMENT ON TABLE dialer_leads IS 'Numbers to call per campaign; claimed_by = the instance dialling it now (the hopper).';
COMMENT ON COLUMN dialer_leads.custom_fields IS 'CSV columns the dialer does not use itself, kept for screen pop.';
CREATE INDEX dialer_leads_due ON dialer_leads (campaign_id, next_attempt_at NULLS FIRST, lead_id) WHERE status = 'open';

CREATE TABLE dialer_attempts (
    attempt_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id        text NOT NULL,
    lead_id            bigint NOT NULL REFERENCES dialer_leads ON DELETE CASCADE,
    call_id            text NOT NULL UNIQUE,
    instance_id        text NOT NULL,
    phone_number       text NOT NULL,
    dialed_at          timestamptz NOT NULL,
    answered_at        timestamptz,
    answered_by        text,
    agent_id           text,
    agent_connected_at timestamptz,
    ended_at           timestamptz,
    outcome            text,
    hangup_cause       integer,
    abandoned          boolean NOT NULL DEFAULT false,
    disposition        text
);
COMMENT ON TABLE dialer_attempts IS 'One row per dial attempt: when it rang, what answered, which agent took it, how it ended.';
CREATE INDEX dialer_attempts_lead ON dialer_attempts (lead_id, dialed_at);
CREATE INDEX dialer_attempts_campaign ON dialer_attempts (campaign_id, dialed_at);

CREATE TABLE dialer_ledger (
    campaign_id      text NOT NULL,
    at               timestamptz NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('LiveAnswerConnected', 'Abandoned', 'MessagePlayed', 'Unanswered', 'MachineAnswer')),
    call_id          text NOT NULL,
    lead_id          text NOT NULL,
    phone_number     text NOT NULL,
    connect_delay_ms integer,
    ring_ms          integer,
    message          text,
    outcome          text,
    instance_id      text NOT NULL
);
COMMENT ON TABLE dialer_ledger IS 'Compliance ledger (TSR 16 CFR 310.4(b)(4)): every live answer, abandon, message and unanswered ring time.';
CREATE INDEX dialer_ledger_campaign ON dialer_ledger (campaign_id, at);

-- Do-not-call: scope '*' is the global list, otherwise a campaign id.
CREATE TABLE dnc_numbers (
    scope        text NOT NULL,
    phone_number text NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{1,14}$'),
    added_at     timestamptz NOT NULL,
    request_id   bigint NOT NULL,
    PRIMARY KEY (phone_number, scope)
);

CREATE TABLE dnc_requests (
    request_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action        text NOT NULL CHECK (action IN ('add', 'remove')),
    scope         text NOT NULL,
    phone_number  text NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{1,14}$'),
    reason        text NOT NULL,
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by    text,
    decided_at    timestamptz,
    decision_note text,
    CHECK ((status = 'pending') = (decided_by IS NULL))
);
COMMENT ON TABLE dnc_requests IS 'Every do-not-call change: requested by someone, approved or rejected by a supervisor (never the requester).';
CREATE UNIQUE INDEX dnc_requests_one_pending ON dnc_requests (phone_number, scope, action) WHERE status = 'pending';

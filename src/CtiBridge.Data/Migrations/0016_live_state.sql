-- Live state that must survive a restart or an HA takeover (issues 8 and 14): which agents are
-- logged in (extension, queues, skills, pause reason) and which calls are in a queue or connected
-- (when they started, entered their queue, were answered, and who the caller is). Call control
-- writes it as it goes; the instance that takes over reads it, lists the Stasis app's channels and
-- bridges over ARI and rebuilds its sessions. Rows of a call vanish when it ends; rows of an agent
-- when they log out.

CREATE TABLE live_agents (
    agent_id      text        PRIMARY KEY,
    extension     text        NOT NULL,
    queues        text[]      NOT NULL,
    skills        text[]      NOT NULL,
    pause_reason  text,
    logged_in_at  timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
COMMENT ON TABLE live_agents IS 'Agents logged in now (restored after a restart or takeover); pause_reason null = serving.';

CREATE TABLE live_calls (
    call_id           text        PRIMARY KEY,
    server            text        NOT NULL,
    channel_id        text        NOT NULL,
    queue             text        NOT NULL,
    visit             integer     NOT NULL,
    queues            text[]      NOT NULL,
    entry_position    integer,
    started_at        timestamptz NOT NULL,
    first_enqueued_at timestamptz NOT NULL,
    enqueued_at       timestamptz NOT NULL,
    agent_id          text,
    answered_at       timestamptz,
    caller_number     text,
    caller_name       text,
    did               text,
    customer_id       text,
    language          text,
    is_vip            boolean     NOT NULL,
    priority          integer,
    assigned_agent    text,
    required_skills   text[]      NOT NULL,
    ivr_path          text[]      NOT NULL,
    attribute_names   text[]      NOT NULL,
    attribute_values  text[]      NOT NULL,
    updated_at        timestamptz NOT NULL
);
COMMENT ON TABLE live_calls IS 'Calls in a queue or connected to an agent now, per Asterisk server (adopted after a restart or takeover).';
CREATE INDEX live_calls_server ON live_calls (server);

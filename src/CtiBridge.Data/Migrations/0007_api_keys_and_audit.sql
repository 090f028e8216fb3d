-- API keys for the HTTP API and the audit trail of every state-changing request.

-- A key is shown once as ctb_<id>_<secret>; only the SHA-256 of the secret is kept. The secret is
-- 256 random bits, so a fast hash is enough (no password-style stretching is needed).
CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role         text        NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent', 'reporting', 'integration')),
    agent_id     text        NULL,
    secret_hash  bytea       NOT NULL CHECK (length(secret_hash) = 32),
    created_at   timestamptz NOT NULL,
    created_by   text        NOT NULL,
    revoked_at   timestamptz NULL,
    last_used_at timestamptz NULL,
    -- An agent key acts for exactly one agent; no other role is tied to an agent.
    CONSTRAINT api_keys_agent_role CHECK ((role = 'agent') = (agent_id IS NOT NULL))
);

-- Names are how admins revoke keys; unique among keys still in use.
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;

COMMENT ON TABLE api_keys IS 'HTTP API keys (hashed at rest) and their roles.';

CREATE TABLE audit_log (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL,
    actor          text        NOT NULL,
    role           text        NULL,
    action         text        NOT NULL,
    target         text        NULL,
    outcome        integer     NOT NULL,
    remote_address text        NULL,
    detail         jsonb       NULL
);

-- The audit report lists newest first for a period, optionally for one actor.
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_actor_at ON audit_log (actor, at DESC);

COMMENT ON TABLE audit_log IS 'Who changed what, when and from where: every state-changing API request and CLI action.';

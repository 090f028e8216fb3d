-- Webhook deliveries that failed every attempt: kept for an admin to look at and replay
-- (GET /api/webhooks/dead-letters, POST /api/webhooks/dead-letters/{id}/replay).
CREATE TABLE webhook_dead_letters (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook          text        NOT NULL,
    delivery_id      uuid        NOT NULL,
    event_type       text        NOT NULL,
    call_id          text        NULL,
    agent_id         text        NULL,
    payload          jsonb       NOT NULL,
    attempts         integer     NOT NULL CHECK (attempts >= 1),
    last_error       text        NOT NULL,
    first_attempt_at timestamptz NOT NULL,
    dead_at          timestamptz NOT NULL,
    replayed_at      timestamptz NULL,
    replayed_by      text        NULL
);

-- The list shows what still waits for a replay, newest first.
CREATE INDEX webhook_dead_letters_waiting ON webhook_dead_letters (dead_at DESC) WHERE replayed_at IS NULL;

COMMENT ON TABLE webhook_dead_letters IS 'Webhook events not delivered after every retry (payload kept for replay).';

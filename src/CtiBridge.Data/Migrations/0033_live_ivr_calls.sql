-- Callers CtiBridge holds outside a queue (issue 8): in an IVR plan, leaving a voicemail, in the
-- satisfaction survey after their agent hung up, or connected to an outside number. live_calls only holds calls in a queue or connected,
-- so before this a restart (or an HA takeover) found these callers in the Stasis app with nothing
-- stored and started them again as new inbound calls: the IVR from its start under a new call id, a
-- voicemail lost, a survey never asked, an outside party released, and two call rows for one call. Call control writes a row when
-- such a caller reaches an IVR node, the voicemail or the survey, and deletes it when the call ends;
-- the row of a call that enters a queue goes in the same transaction as its live_calls row.
-- The instance adopting the calls resumes each where it was (docs/call-control.md, Restart recovery).

CREATE TABLE live_ivr_calls (
    call_id         text        PRIMARY KEY,
    server          text        NOT NULL,
    channel_id      text        NOT NULL,
    stage           text        NOT NULL CHECK (stage IN ('ivr', 'voicemail', 'survey', 'external')),
    started_at      timestamptz NOT NULL,
    plan            text,
    node            text,
    playback_id     text,
    ivr_path        text[]      NOT NULL,
    queue           text,
    agent_id        text,
    mailbox         text,
    recording_name  text,
    callback_queue  text,
    external_number text,
    external_started_at  timestamptz,
    external_answered_at timestamptz,
    left_acd        boolean     NOT NULL,
    caller_number   text,
    caller_name     text,
    did             text,
    customer_id     text,
    language        text,
    is_vip          boolean     NOT NULL,
    is_member       boolean     NOT NULL,
    takeovers       integer     NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL
);
COMMENT ON TABLE live_ivr_calls IS 'Callers in an IVR plan, a voicemail or the survey now, per Asterisk server (adopted and resumed after a restart or takeover).';
COMMENT ON COLUMN live_ivr_calls.stage IS 'ivr: at plan/node (prompt playback_id); voicemail: greeting or recording recording_name for mailbox; survey: asked after agent_id of queue hung up; external: external_number dialled or connected.';
COMMENT ON COLUMN live_ivr_calls.left_acd IS 'The call went through a queue first (its call row comes from the queue''s records, not from the IVR).';
COMMENT ON COLUMN live_ivr_calls.takeovers IS 'Times an instance adopted this call; numbers the adopter''s prompt names.';
CREATE INDEX live_ivr_calls_server ON live_ivr_calls (server);

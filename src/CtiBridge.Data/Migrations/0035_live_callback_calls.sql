-- Callback conversations in progress (issues 11 and 14). A callback call is an outbound task of the
-- ACD with no caller channel of its own when it is queued, so live_calls never held it: a restart or
-- an HA takeover found its customer's and agent's legs in the Stasis app with nothing stored, released
-- them as unknown channels and cut the conversation; one in the queue's survey lost its survey and its
-- attempt's calls row. Call control writes a row when the customer and the agent are connected (stage
-- 'talking'), updates it when the recording starts and when the agent leaves for the survey (stage
-- 'survey'), and deletes it when the attempt ends. The instance adopting the calls resumes each one
-- under the same call id (docs/callbacks.md, "Restart and takeover"): the talk goes on, its calls row
-- and recording row are written once, at its end, and the callback is connected once.

CREATE TABLE live_callback_calls (
    call_id               text        PRIMARY KEY,
    server                text        NOT NULL,
    callback_id           uuid        NOT NULL,
    stage                 text        NOT NULL CHECK (stage IN ('talking', 'survey')),
    queue                 text        NOT NULL,
    agent_id              text        NOT NULL,
    customer_leg_id       text        NOT NULL,
    agent_leg_id          text,
    bridge_id             text,
    entered_at            timestamptz NOT NULL,
    dial_started_at       timestamptz NOT NULL,
    customer_answered_at  timestamptz,
    connected_at          timestamptz NOT NULL,
    conversation_ended_at timestamptz,
    recording_id          text,
    recording_started_at  timestamptz,
    takeovers             integer     NOT NULL DEFAULT 0,
    updated_at            timestamptz NOT NULL
);
COMMENT ON TABLE live_callback_calls IS 'Callback conversations now (customer and agent connected, or the customer in the survey), per Asterisk server: adopted after a restart or takeover.';
COMMENT ON COLUMN live_callback_calls.stage IS 'talking: customer and agent in bridge_id; survey: the agent left, the customer answers the queue''s survey.';
COMMENT ON COLUMN live_callback_calls.takeovers IS 'Times an instance adopted this call; numbers the adopter''s legs and prompts.';
CREATE INDEX live_callback_calls_server ON live_callback_calls (server);

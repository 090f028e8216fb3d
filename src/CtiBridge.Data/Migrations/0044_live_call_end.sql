-- An inbound call's end kept with its live row until its record is stored (issue 14, "every call that entered
-- ends exactly once in the records"). Call records are batched in the record writer's memory before they reach
-- `calls` (the journal is used only while PostgreSQL is away), while the live state writer used to delete the
-- call's live_calls row at its end: an instance killed between the two left the call in no instance's hands and
-- its record was lost. Now the end marks the row (ended_at and what the record needs); the record writer deletes
-- the row in the transaction that stores the call's `calls` row, and the instance that adopts the server next
-- (restart or takeover) writes the record of a marked row that has none. Rows that ended are not adopted.
ALTER TABLE live_calls ADD COLUMN ended_at timestamptz;
ALTER TABLE live_calls ADD COLUMN disposition text;
ALTER TABLE live_calls ADD COLUMN end_estimated boolean NOT NULL DEFAULT false;
ALTER TABLE live_calls ADD COLUMN talk_seconds double precision NOT NULL DEFAULT 0;
ALTER TABLE live_calls ADD COLUMN call_hold_seconds double precision NOT NULL DEFAULT 0;
ALTER TABLE live_calls ADD COLUMN released_by text;
ALTER TABLE live_calls ADD COLUMN visit_outcome text;
ALTER TABLE live_calls ADD COLUMN visit_left_at timestamptz;
ALTER TABLE live_calls ADD COLUMN first_answered_at timestamptz;
COMMENT ON COLUMN live_calls.ended_at IS 'The call ended then (its record''s end); the row stays until its calls row is stored. Null while the call is live.';
COMMENT ON COLUMN live_calls.disposition IS 'The ended call''s disposition, as calls.disposition spells it.';
COMMENT ON COLUMN live_calls.end_estimated IS 'The end was not seen (ARI events gap) and is the last moment the call was known up.';
COMMENT ON COLUMN live_calls.talk_seconds IS 'Talk time of the call''s finished handlings (as calls.talk_seconds).';
COMMENT ON COLUMN live_calls.call_hold_seconds IS 'Hold time of the call''s finished handlings (as calls.hold_seconds).';
COMMENT ON COLUMN live_calls.released_by IS 'Who ended the last handling (as calls.released_by).';
COMMENT ON COLUMN live_calls.visit_outcome IS 'How the current visit ended when unanswered (as queue_visits.outcome).';
COMMENT ON COLUMN live_calls.visit_left_at IS 'When the current visit ended unanswered.';
COMMENT ON COLUMN live_calls.first_answered_at IS 'The call''s first answer (calls.answered_at); answered_at is the current handling''s.';
CREATE INDEX live_calls_ended ON live_calls (server) WHERE ended_at IS NOT NULL;

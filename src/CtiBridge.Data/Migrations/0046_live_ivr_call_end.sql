-- Every call that entered ends exactly once in the records (issue 14), for callers who never left the IVR too, and
-- a record written from a live row as complete as the one the call's own instance writes.
--
-- A caller who ends in the IVR (or the lookup, the blocked prompt, a voicemail, an outside number) gets their `calls`
-- row from call control, through the record writer's memory, while their live_ivr_calls row was deleted at the end:
-- an instance killed between the two left the call in no instance's hands and its record was lost. Now the end marks
-- the row with the record's end, disposition and who released it (and the outside call's recording), as 0044 does for
-- live_calls; the record writer deletes it in the transaction that stores the `calls` row, and the instance adopting
-- the server next writes the record of a marked row that has none. A survey's row (a queued call after its agent hung
-- up) keeps the answer the same way until the survey answer is stored. Rows that ended are not adopted.
ALTER TABLE live_ivr_calls ADD COLUMN ended_at timestamptz;
ALTER TABLE live_ivr_calls ADD COLUMN disposition text;
ALTER TABLE live_ivr_calls ADD COLUMN end_estimated boolean NOT NULL DEFAULT false;
ALTER TABLE live_ivr_calls ADD COLUMN released_by text;
ALTER TABLE live_ivr_calls ADD COLUMN recording_id text;
ALTER TABLE live_ivr_calls ADD COLUMN recording_started_at timestamptz;
ALTER TABLE live_ivr_calls ADD COLUMN recording_path text;
ALTER TABLE live_ivr_calls ADD COLUMN recording_format text;
ALTER TABLE live_ivr_calls ADD COLUMN survey_question text;
ALTER TABLE live_ivr_calls ADD COLUMN survey_score smallint;
ALTER TABLE live_ivr_calls ADD COLUMN survey_scale_max smallint;
ALTER TABLE live_ivr_calls ADD COLUMN survey_answered_at timestamptz;
COMMENT ON COLUMN live_ivr_calls.ended_at IS 'The call ended then (its record''s end); the row stays until its calls row (a survey: its survey answer) is stored. Null while the caller is here.';
COMMENT ON COLUMN live_ivr_calls.disposition IS 'The ended call''s disposition, as calls.disposition spells it (null: its calls row comes from the queue''s records).';
COMMENT ON COLUMN live_ivr_calls.recording_id IS 'The outside call''s recording (calls.recording_id), with its start, path and format for its recordings row.';
COMMENT ON COLUMN live_ivr_calls.survey_score IS 'The survey''s answer (question, score, scale, when), kept until its survey_answers row is stored.';
CREATE INDEX live_ivr_calls_ended ON live_ivr_calls (server) WHERE ended_at IS NOT NULL;

-- What a queued call's record carries besides its end (0044): the transfer chain, its first recording (with what its
-- recordings row needs) and the survey score, so a record written from an ended row is the one its instance would
-- have written.
ALTER TABLE live_calls ADD COLUMN transfer_chain text[] NOT NULL DEFAULT '{}';
ALTER TABLE live_calls ADD COLUMN recording_id text;
ALTER TABLE live_calls ADD COLUMN recording_started_at timestamptz;
ALTER TABLE live_calls ADD COLUMN recording_path text;
ALTER TABLE live_calls ADD COLUMN recording_format text;
ALTER TABLE live_calls ADD COLUMN recording_agent_id text;
ALTER TABLE live_calls ADD COLUMN survey_score smallint;
COMMENT ON COLUMN live_calls.transfer_chain IS 'Where the call was transferred, in order (as calls.transfer_chain).';
COMMENT ON COLUMN live_calls.recording_id IS 'The call''s first recording (calls.recording_id), with its start, path, format and agent for its recordings row.';
COMMENT ON COLUMN live_calls.survey_score IS 'The survey score, when answered while the row was still here (as calls.survey_score).';

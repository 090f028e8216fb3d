-- Callers at the very start of a call are adopted at a restart or an HA takeover too (issue 8): one still
-- in the customer lookup (stage 'lookup': the adopter asks the lookup again and goes on where its answer
-- says) and a blocked caller hearing the blocked prompt (stage 'blocked', playback_id its prompt: the
-- adopter plays it again and releases the caller, one call row 'blocked'). Before, both came back as a
-- new inbound call under a new call id.
ALTER TABLE live_ivr_calls DROP CONSTRAINT live_ivr_calls_stage_check;
ALTER TABLE live_ivr_calls ADD CONSTRAINT live_ivr_calls_stage_check
    CHECK (stage IN ('ivr', 'voicemail', 'survey', 'external', 'lookup', 'blocked'));
COMMENT ON COLUMN live_ivr_calls.stage IS 'ivr: at plan/node (prompt playback_id); voicemail: greeting or recording recording_name for mailbox; survey: asked after agent_id of queue hung up; external: external_number dialled or connected; lookup: in the customer lookup (plan: the DID''s); blocked: blacklisted, hearing the blocked prompt playback_id.';

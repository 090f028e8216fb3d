-- The survey score onto the call's row (calls.survey_score) for the answers of one records batch. The
-- instance that asks the survey usually wrote the call's row itself (score included), but a caller
-- adopted in the survey after a restart or an HA takeover answers on an instance whose records mapper
-- never saw the call: its answer reached survey_answers only (issue 8). The last answer of a call wins;
-- a row written later with a higher revision keeps the score (the calls upsert never clears one).
-- Parameters: @call_ids text[], @scores smallint[], @answered_at timestamptz[] (same length, one per answer).
UPDATE calls AS c
SET survey_score = s.score, written_at = now()
FROM (
    SELECT DISTINCT ON (a.call_id) a.call_id, a.score
    FROM unnest(@call_ids::text[], @scores::smallint[], @answered_at::timestamptz[]) AS a(call_id, score, answered_at)
    ORDER BY a.call_id, a.answered_at DESC
) AS s
WHERE c.call_id = s.call_id AND c.survey_score IS DISTINCT FROM s.score

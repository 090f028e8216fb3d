-- The caller answered the survey while the ended row is still here (its record not stored yet): the score goes into
-- a record written from the row (calls.survey_score).
UPDATE live_calls SET survey_score = @score, updated_at = @at
WHERE call_id = @call_id

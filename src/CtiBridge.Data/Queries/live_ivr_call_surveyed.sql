-- The caller answered the survey: the answer stays with the row, after the call's end too, until its survey_answers
-- row is stored.
UPDATE live_ivr_calls SET survey_question = @question, survey_score = @score, survey_scale_max = @scale_max, survey_answered_at = @at, updated_at = @at
WHERE call_id = @call_id

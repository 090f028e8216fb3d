-- The end was marked after the record was stored (the record writer's delete found the row not marked yet): the row
-- goes now. An IVR-only call's record is its calls row; a survey's (its calls row comes from the queue's records) is
-- its survey answer; a row with neither to keep (a survey not answered, a call that left the queue) goes at once.
DELETE FROM live_ivr_calls i
WHERE i.call_id = @call_id AND i.ended_at IS NOT NULL
  AND CASE WHEN i.disposition IS NOT NULL THEN EXISTS (SELECT 1 FROM calls k WHERE k.call_id = i.call_id)
           WHEN i.survey_score IS NOT NULL THEN EXISTS (SELECT 1 FROM survey_answers s WHERE s.call_id = i.call_id AND s.question = i.survey_question)
           ELSE true END

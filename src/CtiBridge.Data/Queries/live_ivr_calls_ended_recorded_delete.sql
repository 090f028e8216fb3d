-- Ended rows of one server whose record is stored (their delete was missed, e.g. the instance died between), and
-- ended rows that keep nothing (a survey not answered): gone.
DELETE FROM live_ivr_calls i
WHERE i.server = @server AND i.ended_at IS NOT NULL
  AND CASE WHEN i.disposition IS NOT NULL THEN EXISTS (SELECT 1 FROM calls k WHERE k.call_id = i.call_id)
           WHEN i.survey_score IS NOT NULL THEN EXISTS (SELECT 1 FROM survey_answers s WHERE s.call_id = i.call_id AND s.question = i.survey_question)
           ELSE true END

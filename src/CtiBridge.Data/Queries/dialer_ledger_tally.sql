-- Live answers and abandons of a campaign in [@from, @to), over every instance.
SELECT count(*) FILTER (WHERE kind IN ('LiveAnswerConnected', 'Abandoned')) AS live_answers,
       count(*) FILTER (WHERE kind = 'Abandoned') AS abandons
FROM dialer_ledger
WHERE campaign_id = @campaign_id AND at >= @from AND at < @to

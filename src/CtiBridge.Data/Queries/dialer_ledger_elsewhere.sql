-- A campaign's live answers and abandons recorded outside one ledger (other instances, earlier
-- runs): every row whose call id does not start with that ledger's call-id prefix. To date, in the
-- abandon window ending now (at > @window_from, like ComplianceLedger.Rolling), and the first row.
SELECT count(*) FILTER (WHERE kind IN ('LiveAnswerConnected', 'Abandoned')) AS live_answers,
       count(*) FILTER (WHERE kind = 'Abandoned') AS abandons,
       count(*) FILTER (WHERE kind IN ('LiveAnswerConnected', 'Abandoned') AND at > @window_from) AS window_live_answers,
       count(*) FILTER (WHERE kind = 'Abandoned' AND at > @window_from) AS window_abandons,
       (SELECT min(f.at) FROM dialer_ledger f WHERE f.campaign_id = @campaign_id) AS first_at
FROM dialer_ledger
WHERE campaign_id = @campaign_id AND left(call_id, length(@own_prefix)) <> @own_prefix

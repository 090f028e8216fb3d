-- Lines in use of a line budget: every attempt not yet ended of the campaigns that draw from it, by
-- any instance (ringing, waiting for an agent, talking, playing a message; an attempt left open by a
-- killed instance whose call may still be up counts until the sweep ends it). A trunk's lines are
-- those of one Asterisk server (@all_servers false); a campaign's own maxConcurrentLines counts over
-- every server (@all_servers true).
SELECT count(*)::integer
FROM dialer_attempts
WHERE ended_at IS NULL
  AND (@all_servers OR asterisk_server = @asterisk_server)
  AND campaign_id = ANY(@campaign_ids)

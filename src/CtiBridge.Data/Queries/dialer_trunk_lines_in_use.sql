-- Lines of a trunk in use on one Asterisk server: every attempt not yet ended of the campaigns that
-- dial through it, by any instance (ringing, waiting for an agent, talking, playing a message; an
-- attempt left open by a killed instance whose call may still be up counts until the sweep ends it).
SELECT count(*)::integer
FROM dialer_attempts
WHERE ended_at IS NULL
  AND asterisk_server = @asterisk_server
  AND campaign_id = ANY(@campaign_ids)

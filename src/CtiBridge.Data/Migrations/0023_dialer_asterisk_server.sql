-- Dialer rows say which Asterisk server placed the call, like inbound calls since 0018 (issue 10,
-- docs/sites.md): dialer_attempts gets the column; the outbound calls rows the dialer writes fill
-- calls.asterisk_server (added by 0018). Null for rows written before.
ALTER TABLE dialer_attempts ADD COLUMN asterisk_server text;
COMMENT ON COLUMN dialer_attempts.asterisk_server IS 'The Asterisk server (asterisk[].name in ctibridge.json) that placed the call; null when unknown.';

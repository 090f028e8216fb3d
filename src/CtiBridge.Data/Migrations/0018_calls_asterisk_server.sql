-- Several Asterisk servers per deployment (issue 14, docs/sites.md): each call row says which
-- server the caller's channel was on (asterisk[].name), so reports and audits can be cut per site.
-- Null for rows written before this migration and for rows whose producer does not know it yet
-- (dialer attempts). Partitions inherit the column from the parent table.
ALTER TABLE calls ADD COLUMN asterisk_server text;
COMMENT ON COLUMN calls.asterisk_server IS 'The Asterisk server (asterisk[].name in ctibridge.json) the caller''s channel was on; null when unknown.';

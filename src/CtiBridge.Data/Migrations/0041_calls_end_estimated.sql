-- A call that ends while the ARI events WebSocket is down (issue 14) is recorded at its real end when
-- Asterisk's AMI saw the hang-up. When nothing saw it (AMI down too, Asterisk restarted) its end is
-- the last moment it was known up, the gap's start: an estimate, marked here so reports can tell it
-- from a reported time (docs/reports.md, docs/reliability.md). False for older rows.
ALTER TABLE calls ADD COLUMN end_estimated boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN calls.end_estimated IS 'ended_at is an estimate (the call ended unseen inside an ARI events gap with AMI down too: the last moment it was known up), not a time Asterisk reported.';

-- How many times each live call was taken over (issue 14). The instance that adopts a call after a
-- restart or an HA takeover names the channels it makes for it (agent legs, bridges) from a range
-- that grows with this count, so it never reuses the name of a leg the previous owner made: a leg
-- that ended while nobody controlled the call is in no list the adopter can read, and its late
-- events (queued on the adopter's new events connection) would otherwise be taken for the
-- adopter's own new leg (issue 14, "kill -9 while agent legs ring").

ALTER TABLE live_calls ADD COLUMN takeovers integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN live_calls.takeovers IS 'Times an instance adopted this call (restart or takeover); numbers the adopter''s leg names.';

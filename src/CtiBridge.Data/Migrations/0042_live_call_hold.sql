-- A held caller across a restart or takeover (issue 14): the hold's start and the hold time so far of
-- the current handling are kept with the live call, so the adopter counts the hold from its real start
-- (before, it counted from the adoption, and the hold before it as talk).
ALTER TABLE live_calls ADD COLUMN hold_started_at timestamptz;
ALTER TABLE live_calls ADD COLUMN hold_seconds double precision NOT NULL DEFAULT 0;
COMMENT ON COLUMN live_calls.hold_started_at IS 'The caller is on hold since then (the current handling); null when not held.';
COMMENT ON COLUMN live_calls.hold_seconds IS 'Hold time of the current handling before the current hold (ended holds), in seconds.';

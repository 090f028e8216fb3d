-- The hopper passes over a lead whose last attempt is still open (issue 14: a killed instance's call
-- may still be up in Asterisk), and the orphan sweep looks open attempts up: both by this index of
-- the few attempts not yet ended.
CREATE INDEX dialer_attempts_open ON dialer_attempts (lead_id) WHERE ended_at IS NULL;

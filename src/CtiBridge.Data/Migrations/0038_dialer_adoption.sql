-- Adoption of a killed dialer instance's calls (issue 14, docs/high-availability.md): what a living
-- instance needs to take them over is written ahead by the instance that places them.
-- The Stasis app a dialer instance's channels are in (each instance has its own, dialer.application):
-- the adopter connects to it to receive their events.
ALTER TABLE dialer_instances ADD COLUMN application text;
COMMENT ON COLUMN dialer_instances.application IS 'The instance''s dialer Stasis app (dialer.application); an adopter of its calls connects to it.';
-- The agent's nailed-up channel (written before it is called) and the phone it calls, so an adopter
-- keeps a line that is still up or calls the phone again.
ALTER TABLE dialer_agent_lines ADD COLUMN channel_id text, ADD COLUMN endpoint text;
COMMENT ON COLUMN dialer_agent_lines.channel_id IS 'The nailed-up channel id, written before the phone is called.';
COMMENT ON COLUMN dialer_agent_lines.endpoint IS 'The agent''s phone (e.g. PJSIP/1001), called again by an adopter when the line is gone.';
-- When a living instance took the attempt over from a dead one: the adopter's own sweep counts it as
-- its own from then on, not from the dial.
ALTER TABLE dialer_attempts ADD COLUMN adopted_at timestamptz;
COMMENT ON COLUMN dialer_attempts.adopted_at IS 'When a living dialer instance adopted this open attempt from a dead one (instance_id is then the adopter).';
-- Every living dialer instance asks twice a second which other instances have open attempts.
CREATE INDEX dialer_attempts_open_by_instance ON dialer_attempts (instance_id) WHERE ended_at IS NULL;

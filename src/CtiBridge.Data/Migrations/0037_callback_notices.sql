-- Reminders and escalations on the live event stream (issue 11, docs/callbacks.md §6a). The sweep that writes
-- them (history kinds 'reminded', 'escalated') runs on whichever Quartz node, which may be a standby, a
-- dialer-only instance or an instance of another part, where no agent desktop or supervisor is connected. So
-- every instance running call control reads the new ones back from callback_events and puts them on its own
-- /api/events stream. written_at is the database's time of the write, not the writer's clock (a test's fake one,
-- or a clock that stepped), so readers on every instance agree on "new". Older rows keep it empty: not re-sent.
-- Set as a default after the column is added, so the existing rows are not rewritten.
ALTER TABLE callback_events ADD COLUMN written_at timestamptz;
ALTER TABLE callback_events ALTER COLUMN written_at SET DEFAULT clock_timestamp();
CREATE INDEX callback_events_notices ON callback_events (written_at) WHERE kind IN ('reminded', 'escalated');
COMMENT ON COLUMN callback_events.written_at IS 'Database time the row was written (0037); the event streams read reminders and escalations by it.';

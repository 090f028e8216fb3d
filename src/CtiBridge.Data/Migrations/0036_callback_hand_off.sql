-- Servers split between instances (issue 14, docs/sites.md): a due callback fires on any Quartz node,
-- but only the instance that controls its Asterisk server may place it. The node that finds it belongs
-- to another instance's server hands it off: placed_by goes NULL and placed_from names the server; the
-- instance that controls that server claims it (placed_by = itself) and queues it in its ACD.
ALTER TABLE callbacks ADD COLUMN placed_from text;
COMMENT ON COLUMN callbacks.placed_from IS 'The Asterisk server (asterisk[].name) the callback is placed from, once decided for a hand-off between instances that control different servers; NULL until then (decided at placement).';

-- The claim reads the handed-off callbacks of its servers.
CREATE INDEX callbacks_handed_off ON callbacks (placed_from, due_at) WHERE state = 'due' AND placed_by IS NULL;

ALTER TABLE callback_events DROP CONSTRAINT callback_events_kind_check;
ALTER TABLE callback_events ADD CONSTRAINT callback_events_kind_check
    CHECK (kind IN ('created', 'merged', 'transition', 'rescheduled', 'reminded', 'escalated', 'owner_released', 'reoffered', 'handed_off', 'claimed'));

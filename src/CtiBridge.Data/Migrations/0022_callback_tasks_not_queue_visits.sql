-- Metrics definitions version 2 (docs/metrics.md §3a, change log): callback tasks — callbacks owed
-- to customers, queued for agents like calls — are not inbound queue visits. From this version the
-- record writer stores no queue visit or queue_log event for them (each attempt stays an outbound
-- calls row), and the live statistics leave them out too, so the reports and the wallboard agree.
-- Rows written before this version may still hold callback-task visits; the reports state the
-- version they implement so the change can be told apart.
UPDATE settings SET value = '2'::jsonb, updated_at = now() WHERE key = 'metrics.definitions_version';

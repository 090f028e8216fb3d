-- Reminders and escalations written after @since (database time, migration 0037), oldest first, with the
-- callback as it is now: what the event streams of the instances running call control put on /api/events.
SELECT e.kind AS notice_kind, e.seq AS notice_seq, e.at AS notice_at, e.reason AS notice_reason, e.written_at AS notice_written_at, c.*
FROM callback_events e
JOIN callbacks c ON c.callback_id = e.callback_id
WHERE e.kind IN ('reminded', 'escalated') AND e.written_at > @since
ORDER BY e.written_at, e.callback_id, e.seq
LIMIT @limit

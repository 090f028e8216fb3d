-- Screen pops and answered or abandoned decisions older than a day are of no use to anyone.
WITH events AS (DELETE FROM dialer_preview_events WHERE created_at < @before)
DELETE FROM dialer_preview_requests WHERE requested_at < @before

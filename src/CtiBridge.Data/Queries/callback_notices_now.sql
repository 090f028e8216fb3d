-- The database's time now: where a reader of callback_notices_since starts (0037).
SELECT clock_timestamp()

-- A dialer instance stops cleanly: its app is no longer named, so nobody adopts what it leaves (calls up
-- end by themselves and are swept as before, docs/dialer.md); only a death (kill -9, host lost) is adopted.
UPDATE dialer_instances SET application = NULL WHERE instance_id = @instance_id

-- Callbacks (issue 11): liveness of the instances that hold callbacks, without any clock compared to
-- another. Until now the re-offer after an instance's death judged Quartz's cluster check-ins, which
-- are stamped with the service's TimeProvider (the fake clock in tests, the wall clock in production)
-- but taken at real-time intervals: a clock step of more than three check-in intervals made a live
-- instance look dead and its due callbacks were offered twice.
--
-- Each instance now counts its own heartbeats in this table (beats + 1 every heartbeat interval of
-- real time). Another instance judges it dead when it has itself watched the counter stand still for
-- longer than the dead-after limit on its own monotonic clock: only counts and one process's elapsed
-- time are compared, so no step of any wall clock (the service's, the fake one, the database
-- server's) can make a live instance look dead. beat_at (database time) is for people only.
-- A graceful stop deletes the row; an instance holding callbacks without a row is gone.

CREATE TABLE callback_instances (
    scheduler text NOT NULL,
    instance_id text NOT NULL,
    beats bigint NOT NULL DEFAULT 0,
    started_at timestamptz NOT NULL DEFAULT now(),
    beat_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scheduler, instance_id)
);
COMMENT ON TABLE callback_instances IS 'Heartbeat counters of the CtiBridge instances holding callbacks (callbacks.placed_by); judged by counts over the observer''s own elapsed time, never by comparing clocks.';
COMMENT ON COLUMN callback_instances.beats IS 'Incremented by the instance at every heartbeat; an instance whose count stands still longer than the dead-after limit (watched by another) is dead.';
COMMENT ON COLUMN callback_instances.beat_at IS 'Database time of the last heartbeat, for people reading the table; liveness never compares it with any clock.';
COMMENT ON COLUMN callbacks.placed_by IS 'Scheduler instance (callback_instances.instance_id, the Quartz instance id) holding the callback in its ACD while due or dialing; NULL otherwise.';

-- Queue visits arrive in time order, so block-range (BRIN) indexes find an entry-time or
-- answer-time range almost as well as a B-tree for the scans the reports and the writer's rollup
-- recounts do, at a fraction of the insert cost. The answer-time index serves the agent rollup
-- recount (answered_at ranges of each batch), which had no index of its own. Calls and
-- queue_events keep their B-trees: exports stream them in time order without a sort.
DROP INDEX queue_visits_entered;
CREATE INDEX queue_visits_entered_brin ON queue_visits USING brin (entered_at) WITH (pages_per_range = 16);
CREATE INDEX queue_visits_answered_brin ON queue_visits USING brin (answered_at) WITH (pages_per_range = 16);

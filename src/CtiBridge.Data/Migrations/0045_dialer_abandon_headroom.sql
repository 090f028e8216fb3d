-- The abandon limit held across dialer instances (issue 10, docs/dialer.md "The compliance ledger across
-- instances"). Two instances dialling one campaign must not both spend the same abandon headroom, so each
-- pacing decision of a power or predictive campaign reads, under the campaign's lock (dialer_trunk_lock,
-- taken by every dial of the campaign), the campaign's live answers and abandons as stored by every instance
-- up to that moment, and what the other live instances have put at risk: their lines that could still end
-- abandoned. Both are small reads, so they are made at every round.

-- Live answers and abandons per campaign and UTC day of the answer, kept by the ledger append itself
-- (dialer_ledger_append.sql, the same statement), so the campaign-to-date and 30-day figures are current
-- without adding up the whole window's ledger rows.
CREATE TABLE dialer_ledger_days (
    campaign_id  text   NOT NULL,
    day          date   NOT NULL,
    live_answers bigint NOT NULL CHECK (live_answers >= 0),
    abandons     bigint NOT NULL CHECK (abandons >= 0 AND abandons <= live_answers),
    PRIMARY KEY (campaign_id, day)
);
COMMENT ON TABLE dialer_ledger_days IS 'Live answers and abandons of dialer_ledger per campaign and UTC day (0045), written with every ledger row: the abandon headroom shared by all dialer instances.';

INSERT INTO dialer_ledger_days (campaign_id, day, live_answers, abandons)
SELECT campaign_id, (at AT TIME ZONE 'UTC')::date, count(*), count(*) FILTER (WHERE kind = 'Abandoned')
FROM dialer_ledger
WHERE kind IN ('LiveAnswerConnected', 'Abandoned')
GROUP BY 1, 2;

-- Per campaign and dialer instance: how many of its lines could still end abandoned (lines ringing or waiting
-- for an agent beyond its ready agents, and abandons counted but not yet stored), written in the campaign's lock
-- with each of its pacing decisions. Other instances take that much of the headroom as spent.
CREATE TABLE dialer_abandon_exposure (
    campaign_id text        NOT NULL,
    instance_id text        NOT NULL,
    lines       integer     NOT NULL CHECK (lines >= 0),
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, instance_id)
);
COMMENT ON TABLE dialer_abandon_exposure IS 'Lines of each dialer instance that could still end abandoned, per campaign (0045): reserved abandon headroom.';

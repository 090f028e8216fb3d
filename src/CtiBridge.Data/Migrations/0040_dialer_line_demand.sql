-- Priority between campaigns across dialer instances on a shared trunk (issue 10, docs/dialer.md "Trunk
-- lines shared between campaigns"). Each instance writes, for every campaign it paces on a trunk, the lines
-- that campaign wanted in its last round and the trunk did not give it (its unmet demand). A campaign taking
-- lines of the trunk leaves free lines to the unmet demand of campaigns ranked above it (higher priority, then
-- campaign id) on other live instances, so a line freed goes to the highest priority whichever instance runs
-- it. A row counts until valid_until (a few pacing rounds of its writer) and only while its instance sends
-- heartbeats; a campaign with no unmet demand has no row.
CREATE TABLE dialer_line_demand (
    trunk_key    text        NOT NULL,
    instance_id  text        NOT NULL,
    campaign_id  text        NOT NULL,
    priority     integer     NOT NULL,
    lines        integer     NOT NULL CHECK (lines > 0),
    valid_until  timestamptz NOT NULL,
    PRIMARY KEY (trunk_key, instance_id, campaign_id)
);
COMMENT ON TABLE dialer_line_demand IS 'Unmet line demand of each campaign on a shared trunk, per dialer instance (0040): lower-priority campaigns leave free lines to it.';

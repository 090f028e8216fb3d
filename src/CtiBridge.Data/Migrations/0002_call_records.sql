-- Call records: one row per call, its legs, its queue visits, the raw queue_log-style events, agent
-- state intervals, IVR path, survey answers and recordings metadata. The tables that grow with
-- traffic are range-partitioned by month (UTC) so retention drops whole partitions instead of
-- deleting rows. Metric definitions: docs/metrics.md (version 1).
--
-- Idempotency: every table has a natural key that the producer repeats when a record is replayed,
-- so the writer inserts with ON CONFLICT. Rows that are refined later (a call gets its survey score
-- after it ended) carry a revision: a replay of an older revision never overwrites a newer one.

INSERT INTO settings (key, value, description) VALUES
    ('metrics.definitions_version', '1'::jsonb, 'Version of docs/metrics.md that the reports implement.'),
    ('metrics.service_level_seconds', '30'::jsonb, 'Service level threshold T: answered within T seconds (wait <= T).'),
    ('metrics.service_level_target', '0.90'::jsonb, 'Service level target share.'),
    ('metrics.short_abandon_seconds', '5'::jsonb, 'Abandons with wait strictly below this many seconds are short abandons.'),
    ('metrics.aht_target_seconds', '300'::jsonb, 'Average handling time target in seconds.'),
    ('metrics.satisfied_min_fraction', '0.8'::jsonb, 'A survey answer is satisfied when score / scale_max >= this.'),
    ('metrics.satisfaction_target', '0.95'::jsonb, 'Target share of satisfied survey answers.'),
    ('metrics.qa_pass_score', '80'::jsonb, 'A QA evaluation passes with a total >= this and no fatal error.'),
    ('reports.time_zone', '"UTC"'::jsonb, 'IANA time zone in which report intervals (hours, days, months) are cut.');

-- Reads a numeric setting; a missing key is an error that names it (reports must not silently default).
CREATE FUNCTION setting_numeric(p_key text) RETURNS double precision
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v double precision;
BEGIN
    SELECT (value #>> '{}')::double precision INTO v FROM settings WHERE key = p_key;
    IF v IS NULL THEN
        RAISE EXCEPTION 'setting % is missing or not a number', p_key;
    END IF;
    RETURN v;
END $$;

CREATE FUNCTION setting_text(p_key text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text;
BEGIN
    SELECT value #>> '{}' INTO v FROM settings WHERE key = p_key;
    IF v IS NULL THEN
        RAISE EXCEPTION 'setting % is missing', p_key;
    END IF;
    RETURN v;
END $$;

CREATE TABLE calls (
    call_id          text        NOT NULL,
    started_at       timestamptz NOT NULL,
    revision         integer     NOT NULL DEFAULT 0,
    direction        text        NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
    did              text,
    caller           text,
    callee           text,
    queues           text[]      NOT NULL DEFAULT '{}',
    enqueued_at      timestamptz,
    answered_at      timestamptz,
    ended_at         timestamptz NOT NULL,
    wait_seconds     double precision,
    talk_seconds     double precision NOT NULL DEFAULT 0 CHECK (talk_seconds >= 0),
    hold_seconds     double precision NOT NULL DEFAULT 0 CHECK (hold_seconds >= 0),
    wrap_up_seconds  double precision NOT NULL DEFAULT 0 CHECK (wrap_up_seconds >= 0),
    disposition      text        NOT NULL CHECK (disposition IN (
                         'answered', 'ivr_completed', 'abandoned', 'ivr_abandoned', 'overflowed',
                         'voicemail', 'system_lost', 'no_answer', 'busy', 'failed')),
    agent_id         text,
    transfer_chain   text[]      NOT NULL DEFAULT '{}',
    released_by      text        CHECK (released_by IN ('caller', 'agent', 'system')),
    recording_id     text,
    survey_score     smallint,
    campaign_id      text,
    lead_id          text,
    callback_id      text,
    account_code     text,
    written_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (call_id, started_at),
    CHECK (ended_at >= started_at)
) PARTITION BY RANGE (started_at);
COMMENT ON TABLE calls IS 'One row per call (docs/metrics.md §7); disposition is the call''s final outcome.';
-- Centre-level reports, the cdr view and exports scan a time range.
CREATE INDEX calls_started_at ON calls (started_at);
-- Call lists per agent (RPT-04) and QA sampling per agent and week.
CREATE INDEX calls_agent_started ON calls (agent_id, started_at) WHERE agent_id IS NOT NULL;

CREATE TABLE call_legs (
    leg_id        text        NOT NULL,
    started_at    timestamptz NOT NULL,
    call_id       text        NOT NULL,
    revision      integer     NOT NULL DEFAULT 0,
    party         text        NOT NULL CHECK (party IN ('customer', 'agent', 'external', 'ivr', 'supervisor')),
    agent_id      text,
    channel       text,
    answered_at   timestamptz,
    ended_at      timestamptz,
    hangup_cause  integer,
    PRIMARY KEY (leg_id, started_at)
) PARTITION BY RANGE (started_at);
COMMENT ON TABLE call_legs IS 'Channels of a call (Asterisk uniqueid per leg); call_id is the call''s linkedid.';
-- The cdr view finds the agent leg of a call.
CREATE INDEX call_legs_call ON call_legs (call_id);

CREATE TABLE queue_visits (
    call_id          text        NOT NULL,
    queue            text        NOT NULL,
    entered_at       timestamptz NOT NULL,
    revision         integer     NOT NULL DEFAULT 0,
    outcome          text        NOT NULL CHECK (outcome IN ('answered', 'abandoned', 'timeout', 'exit_empty', 'exit_key', 'system_lost')),
    left_at          timestamptz NOT NULL,
    answered_at      timestamptz,
    agent_id         text,
    entry_position   integer,
    -- Wait starts at queue entry (docs/metrics.md §4) and ends at the answer or when the call left.
    wait_seconds     double precision GENERATED ALWAYS AS (extract(epoch FROM coalesce(answered_at, left_at) - entered_at)::double precision) STORED,
    talk_seconds     double precision NOT NULL DEFAULT 0 CHECK (talk_seconds >= 0),
    hold_seconds     double precision NOT NULL DEFAULT 0 CHECK (hold_seconds >= 0),
    wrap_up_seconds  double precision NOT NULL DEFAULT 0 CHECK (wrap_up_seconds >= 0),
    handled          boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (call_id, queue, entered_at),
    CHECK (left_at >= entered_at),
    CHECK ((outcome = 'answered') = (answered_at IS NOT NULL AND agent_id IS NOT NULL))
) PARTITION BY RANGE (entered_at);
COMMENT ON TABLE queue_visits IS 'One row per stay of a call in a queue (docs/metrics.md §3); the base of the queue and agent reports.';
-- Queue interval report: visits by entry time and queue.
CREATE INDEX queue_visits_entered ON queue_visits (entered_at, queue);
-- Agent report: answered calls by agent and answer time.
CREATE INDEX queue_visits_agent_answered ON queue_visits (agent_id, answered_at) WHERE answered_at IS NOT NULL;

CREATE TABLE queue_events (
    event_id    uuid        NOT NULL,
    event_time  timestamptz NOT NULL,
    call_id     text        NOT NULL DEFAULT 'NONE',
    queue       text        NOT NULL DEFAULT 'NONE',
    agent       text        NOT NULL DEFAULT 'NONE',
    event       text        NOT NULL CHECK (event ~ '^[A-Z_]+$'),
    data        text[]      NOT NULL DEFAULT '{}',
    PRIMARY KEY (event_id, event_time)
) PARTITION BY RANGE (event_time);
COMMENT ON TABLE queue_events IS 'The life of calls in queues and of queue members, in Asterisk queue_log vocabulary (ENTERQUEUE, CONNECT, ABANDON, PAUSE ...).';
-- queue_log export in time order.
CREATE INDEX queue_events_time ON queue_events (event_time);
-- Missed calls per agent (RINGNOANSWER).
CREATE INDEX queue_events_ringnoanswer ON queue_events (agent, event_time) WHERE event = 'RINGNOANSWER';

CREATE TABLE agent_state_intervals (
    agent_id    text        NOT NULL,
    started_at  timestamptz NOT NULL,
    revision    integer     NOT NULL DEFAULT 0,
    ended_at    timestamptz NOT NULL,
    state       text        NOT NULL CHECK (state IN ('available', 'ringing', 'in_call', 'wrap_up', 'paused', 'outbound')),
    reason      text,
    session_id  text        NOT NULL,
    PRIMARY KEY (agent_id, started_at),
    CHECK (ended_at > started_at),
    -- The writer splits intervals at UTC midnight so reports only look one day back for overlaps.
    CHECK (ended_at - started_at <= interval '1 day'),
    CHECK ((state = 'paused') OR reason IS NULL)
) PARTITION BY RANGE (started_at);
COMMENT ON TABLE agent_state_intervals IS 'Agent state log (示忙示闲记录): logged-in time without gaps, paused with a reason (docs/metrics.md §6).';
-- Agent report and agent state log: intervals by time.
CREATE INDEX agent_state_intervals_started ON agent_state_intervals (started_at, agent_id);

CREATE TABLE ivr_steps (
    call_id     text        NOT NULL,
    step_no     integer     NOT NULL CHECK (step_no >= 0),
    entered_at  timestamptz NOT NULL,
    node        text        NOT NULL,
    input       text,
    terminal    boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (call_id, step_no, entered_at)
) PARTITION BY RANGE (entered_at);
COMMENT ON TABLE ivr_steps IS 'IVR path of a call, one row per node visited; terminal marks a self-service completion (D-01).';

CREATE TABLE survey_answers (
    call_id      text        NOT NULL,
    question     text        NOT NULL,
    answered_at  timestamptz NOT NULL,
    score        smallint    NOT NULL,
    scale_max    smallint    NOT NULL DEFAULT 10 CHECK (scale_max > 0),
    agent_id     text,
    queue        text,
    PRIMARY KEY (call_id, question, answered_at),
    CHECK (score BETWEEN 0 AND scale_max)
) PARTITION BY RANGE (answered_at);
COMMENT ON TABLE survey_answers IS 'Post-call survey answers (N-29: 1-10 scale by default).';
CREATE INDEX survey_answers_answered ON survey_answers (answered_at);

CREATE TABLE recordings (
    recording_id  text        NOT NULL,
    started_at    timestamptz NOT NULL,
    call_id       text        NOT NULL,
    leg_id        text,
    agent_id      text,
    ended_at      timestamptz,
    path          text        NOT NULL,
    format        text        NOT NULL DEFAULT 'wav',
    size_bytes    bigint,
    PRIMARY KEY (recording_id, started_at)
) PARTITION BY RANGE (started_at);
COMMENT ON TABLE recordings IS 'Recording metadata; the audio lives where path says.';
-- QA sampling attaches the recording of each sampled call.
CREATE INDEX recordings_call ON recordings (call_id);

-- The partitioned tables and their partition key, in one place for the partition functions.
CREATE TABLE record_partitioned_tables (
    table_name text PRIMARY KEY
);
INSERT INTO record_partitioned_tables VALUES
    ('calls'), ('call_legs'), ('queue_visits'), ('queue_events'), ('agent_state_intervals'),
    ('ivr_steps'), ('survey_answers'), ('recordings');

-- Creates the monthly partitions (UTC months) covering [p_from, p_to] for every record table.
-- Idempotent and safe when several writers call it at once (advisory lock per transaction).
CREATE FUNCTION records_ensure_partitions(p_from timestamptz, p_to timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m timestamp;
    t text;
    part text;
    created integer := 0;
BEGIN
    IF p_to < p_from THEN
        RAISE EXCEPTION 'records_ensure_partitions: p_to (%) is before p_from (%)', p_to, p_from;
    END IF;
    PERFORM pg_advisory_xact_lock(4859203847561);
    m := date_trunc('month', p_from AT TIME ZONE 'UTC');
    WHILE m <= date_trunc('month', p_to AT TIME ZONE 'UTC') LOOP
        FOR t IN SELECT table_name FROM record_partitioned_tables ORDER BY table_name LOOP
            part := format('%s_p%s', t, to_char(m, 'YYYYMM'));
            IF to_regclass(part) IS NULL THEN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    part, t, (m AT TIME ZONE 'UTC'), ((m + interval '1 month') AT TIME ZONE 'UTC'));
                created := created + 1;
            END IF;
        END LOOP;
        m := m + interval '1 month';
    END LOOP;
    RETURN created;
END $$;

-- Drops the monthly partitions that ended more than records.retention_months ago (relative to
-- p_now). Returns the names of the dropped partitions.
CREATE FUNCTION records_drop_expired_partitions(p_now timestamptz DEFAULT now()) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    months integer := setting_numeric('records.retention_months')::integer;
    keep_from timestamp;
    r record;
BEGIN
    IF months < 1 THEN
        RAISE EXCEPTION 'setting records.retention_months must be at least 1, got %', months;
    END IF;
    -- The current month counts as one of the kept months.
    keep_from := date_trunc('month', p_now AT TIME ZONE 'UTC') - make_interval(months => months - 1);
    PERFORM pg_advisory_xact_lock(4859203847561);
    FOR r IN
        SELECT c.relname AS part
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname IN (SELECT table_name FROM record_partitioned_tables)
          AND c.relname ~ '_p[0-9]{6}$'
          AND to_date(right(c.relname, 6), 'YYYYMM')::timestamp < keep_from
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %I', r.part);
        RETURN NEXT r.part;
    END LOOP;
END $$;

-- Partitions for the months around the migration so a fresh installation can take calls at once;
-- the writer creates further months as records arrive, and the service ahead of time.
SELECT records_ensure_partitions(now() - interval '1 month', now() + interval '3 months');

-- Callbacks (docs/callbacks.md): the callback record is the source of truth; Quartz.NET holds only
-- thin triggers that point at it. Every change of a callback is one row of callback_events, written
-- in the same transaction as the change, by the two functions below, so a transition happens
-- exactly once even when two CtiBridge instances race for it.

CREATE TABLE callbacks (
    callback_id          uuid        PRIMARY KEY,
    number               text        NOT NULL CHECK (number <> ''),
    source               text        NOT NULL CHECK (source IN ('queue', 'abandoned', 'voicemail', 'scheduled', 'dialer')),
    state                text        NOT NULL CHECK (state IN ('scheduled', 'due', 'dialing', 'retry',
                                         'connected', 'failed', 'cancelled', 'resolved_by_inbound')),
    queue                text        NOT NULL CHECK (queue <> ''),
    owner_agent_id       text,
    mode                 text        NOT NULL DEFAULT 'agent_first' CHECK (mode IN ('agent_first', 'customer_first')),
    priority             integer     NOT NULL DEFAULT 0,
    reason               text,
    created_at           timestamptz NOT NULL,
    promised_at          timestamptz NOT NULL,
    due_at               timestamptz NOT NULL,
    deadline_at          timestamptz,
    place_in_line_since  timestamptz,
    attempts             integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts         integer     NOT NULL CHECK (max_attempts >= 1),
    merged_requests      integer     NOT NULL DEFAULT 1 CHECK (merged_requests >= 1),
    origin_call_id       text,
    last_call_id         text,
    customer_name        text,
    voicemail_id         text,
    campaign_id          text,
    lead_id              text,
    required_skills      text[]      NOT NULL DEFAULT '{}',
    note                 text,
    version              integer     NOT NULL DEFAULT 1,
    updated_at           timestamptz NOT NULL,
    closed_at            timestamptz,
    first_attempt_at     timestamptz,
    connected_at         timestamptz,
    reminded_at          timestamptz,
    escalated_at         timestamptz,
    CHECK ((state IN ('connected', 'failed', 'cancelled', 'resolved_by_inbound')) = (closed_at IS NOT NULL))
);
COMMENT ON TABLE callbacks IS 'One row per callback owed to a customer (docs/callbacks.md); the source of truth, Quartz triggers only point at it.';
-- Duplicates merge: a number has at most one open callback (three abandons from one number are one callback).
CREATE UNIQUE INDEX callbacks_one_open_per_number ON callbacks (number) WHERE state IN ('scheduled', 'due', 'dialing', 'retry');
-- The sweep and the lists read open callbacks by due time.
CREATE INDEX callbacks_open_due ON callbacks (due_at) WHERE state IN ('scheduled', 'due', 'dialing', 'retry');
CREATE INDEX callbacks_created_at ON callbacks (created_at);

CREATE TABLE callback_events (
    callback_id  uuid        NOT NULL REFERENCES callbacks (callback_id),
    seq          integer     NOT NULL,
    at           timestamptz NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('created', 'merged', 'transition', 'rescheduled', 'reminded', 'escalated', 'owner_released')),
    from_state   text,
    to_state     text        NOT NULL,
    reason       text        NOT NULL,
    actor        text        NOT NULL,
    call_id      text,
    due_at       timestamptz,
    PRIMARY KEY (callback_id, seq)
);
COMMENT ON TABLE callback_events IS 'Every change of a callback with its time, reason and actor; seq is callbacks.version after the change.';

-- Stores a request: a new callback, or a merge into the number's open callback. Returns the row and
-- whether it was merged. A merge keeps the earlier due time (unless the callback is already being
-- placed), the earlier deadline and place in line, and the higher priority.
CREATE FUNCTION callback_request(
    p_id uuid, p_number text, p_source text, p_queue text, p_owner text, p_mode text, p_priority integer,
    p_reason text, p_at timestamptz, p_promised timestamptz, p_due timestamptz, p_deadline timestamptz,
    p_place timestamptz, p_max_attempts integer, p_origin_call text, p_customer_name text, p_voicemail text,
    p_campaign text, p_lead text, p_skills text[], p_note text, p_actor text)
RETURNS TABLE (callback_id uuid, merged boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    existing callbacks%ROWTYPE;
BEGIN
    FOR attempt IN 1..5 LOOP
        INSERT INTO callbacks AS c (callback_id, number, source, state, queue, owner_agent_id, mode, priority, reason,
            created_at, promised_at, due_at, deadline_at, place_in_line_since, max_attempts, origin_call_id,
            customer_name, voicemail_id, campaign_id, lead_id, required_skills, note, version, updated_at)
        VALUES (p_id, p_number, p_source, 'scheduled', p_queue, p_owner, p_mode, p_priority, p_reason,
            p_at, p_promised, p_due, p_deadline, p_place, p_max_attempts, p_origin_call,
            p_customer_name, p_voicemail, p_campaign, p_lead, coalesce(p_skills, '{}'), p_note, 1, p_at)
        ON CONFLICT (number) WHERE state IN ('scheduled', 'due', 'dialing', 'retry') DO NOTHING;
        IF FOUND THEN
            INSERT INTO callback_events (callback_id, seq, at, kind, from_state, to_state, reason, actor, call_id, due_at)
            VALUES (p_id, 1, p_at, 'created', NULL, 'scheduled',
                    p_source || coalesce(': ' || p_reason, ''), p_actor, p_origin_call, p_due);
            RETURN QUERY SELECT p_id, false;
            RETURN;
        END IF;

        SELECT * INTO existing FROM callbacks c
        WHERE c.number = p_number AND c.state IN ('scheduled', 'due', 'dialing', 'retry')
        FOR UPDATE;
        IF FOUND THEN
            UPDATE callbacks c SET
                due_at = CASE WHEN c.state IN ('scheduled', 'retry') THEN least(c.due_at, p_due) ELSE c.due_at END,
                promised_at = least(c.promised_at, p_promised),
                deadline_at = CASE WHEN c.deadline_at IS NULL THEN p_deadline
                                   WHEN p_deadline IS NULL THEN c.deadline_at
                                   ELSE least(c.deadline_at, p_deadline) END,
                place_in_line_since = CASE WHEN c.place_in_line_since IS NULL THEN p_place
                                           WHEN p_place IS NULL THEN c.place_in_line_since
                                           ELSE least(c.place_in_line_since, p_place) END,
                priority = greatest(c.priority, p_priority),
                merged_requests = c.merged_requests + 1,
                version = c.version + 1,
                updated_at = p_at
            WHERE c.callback_id = existing.callback_id;
            INSERT INTO callback_events (callback_id, seq, at, kind, from_state, to_state, reason, actor, call_id, due_at)
            SELECT c.callback_id, c.version, p_at, 'merged', existing.state, c.state,
                   'merged request from ' || p_source || coalesce(': ' || p_reason, ''), p_actor, p_origin_call, c.due_at
            FROM callbacks c WHERE c.callback_id = existing.callback_id;
            RETURN QUERY SELECT existing.callback_id, true;
            RETURN;
        END IF;
        -- The open callback closed between the insert and the select: try again.
    END LOOP;
    RAISE EXCEPTION 'callback request for % could not be stored or merged after 5 attempts', p_number;
END $$;

-- Moves a callback from one of p_from to p_to, exactly once: returns the new row, or no row when the
-- callback is not in one of p_from (someone else moved it first). p_due / p_attempts / p_owner change
-- the due time, add attempts and change the owner in the same step; p_kind names the history entry.
CREATE FUNCTION callback_move(
    p_id uuid, p_from text[], p_to text, p_reason text, p_actor text, p_at timestamptz,
    p_call_id text DEFAULT NULL, p_due timestamptz DEFAULT NULL, p_add_attempts integer DEFAULT 0,
    p_kind text DEFAULT 'transition', p_clear_owner boolean DEFAULT false)
RETURNS SETOF callbacks
LANGUAGE plpgsql AS $$
DECLARE
    old_state text;
    moved callbacks%ROWTYPE;
BEGIN
    SELECT c.state INTO old_state FROM callbacks c WHERE c.callback_id = p_id AND c.state = ANY (p_from) FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    UPDATE callbacks c SET
        state = p_to,
        due_at = coalesce(p_due, c.due_at),
        attempts = c.attempts + p_add_attempts,
        first_attempt_at = CASE WHEN p_add_attempts > 0 THEN coalesce(c.first_attempt_at, p_at) ELSE c.first_attempt_at END,
        last_call_id = coalesce(p_call_id, c.last_call_id),
        owner_agent_id = CASE WHEN p_clear_owner THEN NULL ELSE c.owner_agent_id END,
        connected_at = CASE WHEN p_to = 'connected' THEN p_at ELSE c.connected_at END,
        closed_at = CASE WHEN p_to IN ('connected', 'failed', 'cancelled', 'resolved_by_inbound') THEN p_at ELSE NULL END,
        reminded_at = CASE WHEN p_kind = 'reminded' THEN p_at ELSE c.reminded_at END,
        escalated_at = CASE WHEN p_kind = 'escalated' THEN p_at ELSE c.escalated_at END,
        version = c.version + 1,
        updated_at = p_at
    WHERE c.callback_id = p_id
    RETURNING c.* INTO moved;

    INSERT INTO callback_events (callback_id, seq, at, kind, from_state, to_state, reason, actor, call_id, due_at)
    VALUES (p_id, moved.version, p_at, p_kind, old_state, p_to, p_reason, p_actor, p_call_id, moved.due_at);
    RETURN NEXT moved;
END $$;

-- Quartz.NET 4.7 ADO job store tables (table prefix qrtz_), adapted from the create_postgres.sql
-- that Quartz embeds (AdoJobStore runs it itself with SchemaProvisioning.CreateIfMissing; CtiBridge
-- owns its schema instead and starts Quartz with SchemaProvisioning.Validate). A Quartz upgrade
-- that changes its schema needs a new migration here.
CREATE TABLE qrtz_job_details (
  sched_name text not null,
  job_name text not null,
  job_group text not null,
  description text null,
  job_class_name text not null,
  is_durable bool not null,
  is_nonconcurrent bool not null,
  is_update_data bool not null,
  requests_recovery bool not null,
  job_data bytea null,
  primary key (sched_name,job_name,job_group)
);
CREATE TABLE qrtz_triggers (
  sched_name text not null,
  trigger_name text not null,
  trigger_group text not null,
  job_name text not null,
  job_group text not null,
  description text null,
  next_fire_time bigint null,
  prev_fire_time bigint null,
  priority integer null,
  trigger_state text not null,
  trigger_type text not null,
  start_time bigint not null,
  end_time bigint null,
  calendar_name text null,
  misfire_instr smallint null,
  misfire_orig_fire_time bigint null,
  execution_group varchar(200) null,
  preferred_node varchar(200) null,
  preferred_node_auto bool not null default false,
  retry_policy varchar(250) null,
  retry_attempt integer null,
  continues_trigger_name text null,
  continues_trigger_group text null,
  continuation_condition integer null,
  overlap_policy integer null,
  pause_reason varchar(250) null,
  paused_by varchar(200) null,
  paused_at bigint null,
  misfire_threshold bigint null,
  fixed_delay bool null,
  job_data bytea null,
  primary key (sched_name,trigger_name,trigger_group),
  foreign key (sched_name,job_name,job_group) references qrtz_job_details (sched_name,job_name,job_group)
);
CREATE TABLE qrtz_simple_triggers (
  sched_name text not null,
  trigger_name text not null,
  trigger_group text not null,
  repeat_count bigint not null,
  repeat_interval bigint not null,
  times_triggered bigint not null,
  primary key (sched_name,trigger_name,trigger_group),
  foreign key (sched_name,trigger_name,trigger_group) references qrtz_triggers (sched_name,trigger_name,trigger_group) on delete cascade
);
CREATE TABLE qrtz_cron_triggers (
  sched_name text not null,
  trigger_name text not null,
  trigger_group text not null,
  cron_expression text not null,
  time_zone_id text,
  primary key (sched_name,trigger_name,trigger_group),
  foreign key (sched_name,trigger_name,trigger_group) references qrtz_triggers (sched_name,trigger_name,trigger_group) on delete cascade
);
CREATE TABLE qrtz_simprop_triggers (
  sched_name text not null,
  trigger_name text not null,
  trigger_group text not null,
  str_prop_1 text null,
  str_prop_2 text null,
  str_prop_3 text null,
  int_prop_1 integer null,
  int_prop_2 integer null,
  long_prop_1 bigint null,
  long_prop_2 bigint null,
  dec_prop_1 numeric null,
  dec_prop_2 numeric null,
  bool_prop_1 bool null,
  bool_prop_2 bool null,
  time_zone_id text null,
  primary key (sched_name,trigger_name,trigger_group),
  foreign key (sched_name,trigger_name,trigger_group) references qrtz_triggers (sched_name,trigger_name,trigger_group) on delete cascade
);
CREATE TABLE qrtz_blob_triggers (
  sched_name text not null,
  trigger_name text not null,
  trigger_group text not null,
  blob_data bytea null,
  primary key (sched_name,trigger_name,trigger_group),
  foreign key (sched_name,trigger_name,trigger_group) references qrtz_triggers (sched_name,trigger_name,trigger_group) on delete cascade
);
CREATE TABLE qrtz_calendars (
  sched_name text not null,
  calendar_name text not null,
  calendar bytea not null,
  primary key (sched_name,calendar_name)
);
CREATE TABLE qrtz_paused_trigger_grps (
  sched_name text not null,
  trigger_group text not null,
  pause_reason varchar(250) null,
  paused_by varchar(200) null,
  paused_at bigint null,
  primary key (sched_name,trigger_group)
);
CREATE TABLE qrtz_paused_job_grps (
  sched_name text not null,
  job_group text not null,
  pause_reason varchar(250) null,
  paused_by varchar(200) null,
  paused_at bigint null,
  primary key (sched_name,job_group)
);
CREATE TABLE qrtz_fired_triggers (
  sched_name text not null,
  entry_id text not null,
  trigger_name text not null,
  trigger_group text not null,
  instance_name text not null,
  fired_time bigint not null,
  sched_time bigint not null,
  priority integer not null,
  state text not null,
  job_name text null,
  job_group text null,
  is_nonconcurrent bool not null,
  requests_recovery bool null,
  execution_group varchar(200) null,
  progress integer null,
  progress_message varchar(250) null,
  interrupt_requested_time bigint null,
  primary key (sched_name,entry_id)
);
CREATE TABLE qrtz_scheduler_state (
  sched_name text not null,
  instance_name text not null,
  last_checkin_time bigint not null,
  checkin_interval bigint not null,
  quartz_version varchar(20) null,
  primary key (sched_name,instance_name)
);
CREATE TABLE qrtz_locks (
  sched_name text not null,
  lock_name text not null,
  primary key (sched_name,lock_name)
);
CREATE TABLE qrtz_execution_history (
  sched_name text not null,
  entry_id text not null,
  instance_name text not null,
  job_name text not null,
  job_group text not null,
  trigger_name text not null,
  trigger_group text not null,
  fired_time bigint not null,
  run_time bigint not null,
  succeeded bool not null,
  error_message text null,
  retry_attempt integer not null default 0,
  retry_scheduled bool not null default false,
  execution_log text null,
  result integer null,
  summary text null,
  metrics text null,
  manual bool null,
  fire_instance_id text null,
  job_input text null,
  job_input_too_large bool null,
  primary key (sched_name,entry_id)
);
CREATE TABLE qrtz_misfire_history (
  sched_name text not null,
  entry_id text not null,
  instance_name text not null,
  trigger_name text not null,
  trigger_group text not null,
  job_name text null,
  job_group text null,
  misfire_time bigint not null,
  sched_time bigint null,
  reason integer null,
  primary key (sched_name,entry_id)
);
CREATE TABLE qrtz_job_status (
  sched_name text not null,
  job_group text not null,
  job_name text not null,
  first_fired_time bigint not null,
  last_fired_time bigint not null,
  last_result integer not null,
  last_run_time bigint not null,
  last_instance_name text not null,
  last_entry_id text null,
  last_summary text null,
  last_success_time bigint null,
  last_failure_time bigint null,
  last_failure_message text null,
  consecutive_failures integer not null default 0,
  run_count bigint not null default 0,
  failure_count bigint not null default 0,
  primary key (sched_name,job_group,job_name)
);
CREATE INDEX idx_qrtz_j_g_n ON qrtz_job_details (sched_name, job_group, job_name);
CREATE INDEX idx_qrtz_t_j ON qrtz_triggers (sched_name, job_name, job_group);
CREATE INDEX idx_qrtz_t_g_n ON qrtz_triggers (sched_name, trigger_group, trigger_name);
CREATE INDEX idx_qrtz_t_c ON qrtz_triggers (sched_name, calendar_name);
CREATE INDEX idx_qrtz_t_nft_st ON qrtz_triggers (sched_name, trigger_state, next_fire_time asc, priority desc, misfire_instr);
CREATE INDEX idx_qrtz_ft_inst_job_req_rcvry ON qrtz_fired_triggers (sched_name, instance_name, requests_recovery);
CREATE INDEX idx_qrtz_ft_j_g ON qrtz_fired_triggers (sched_name, job_name, job_group);
CREATE INDEX idx_qrtz_ft_t_g ON qrtz_fired_triggers (sched_name, trigger_name, trigger_group);
CREATE INDEX idx_qrtz_eh_fired_time ON qrtz_execution_history (sched_name, fired_time);
CREATE INDEX idx_qrtz_eh_inst ON qrtz_execution_history (sched_name, instance_name);
CREATE INDEX idx_qrtz_mh_misfire_time ON qrtz_misfire_history (sched_name, misfire_time);
CREATE INDEX idx_qrtz_mh_inst ON qrtz_misfire_history (sched_name, instance_name);
CREATE INDEX idx_qrtz_eh_job_time ON qrtz_execution_history (sched_name, job_group, job_name, fired_time);
CREATE INDEX idx_qrtz_eh_fire_inst ON qrtz_execution_history (sched_name, fire_instance_id);
CREATE INDEX idx_qrtz_eh_trig_time ON qrtz_execution_history (sched_name, trigger_group, trigger_name, fired_time);

-- Dialer reports (issue 9 "dialer and callback reports", docs/reports.md): attempts and contacts
-- per campaign and interval from dialer_attempts, and the compliance view of the ledger — the
-- abandon rate per day and over the rolling 30 days the US TSR measures (16 CFR 310.4(b)(4)(i):
-- abandoned / live-answered calls, per campaign, over the campaign when shorter than 30 days or
-- each successive 30-day period), with the other TSR checks: the recorded message played on every
-- abandon, and no unanswered call given up before 15 s of ringing.

-- Attempts per campaign and interval of dial time.
CREATE FUNCTION report_dialer_campaign(p_from timestamptz, p_to timestamptz, p_interval text DEFAULT '1d', p_campaign text DEFAULT NULL)
RETURNS TABLE (
    interval_start timestamptz, campaign_id text, attempts bigint, leads_dialed bigint,
    answered bigint, human_answers bigint, machine_answers bigint, busy bigint, no_answer bigint,
    congestion bigint, rejected bigint, invalid_number bigint, failed bigint,
    agent_connected bigint, abandoned bigint, contact_rate double precision, abandon_rate double precision,
    avg_connect_delay_seconds double precision, avg_talk_seconds double precision)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    tz text := setting_text('reports.time_zone');
BEGIN
    PERFORM report_check_args(p_from, p_to, p_interval);
    RETURN QUERY
    SELECT report_bucket(a.dialed_at, p_interval, tz), a.campaign_id,
           count(*), count(DISTINCT a.lead_id),
           count(*) FILTER (WHERE a.outcome IN ('HumanAnswer', 'Machine')),
           count(*) FILTER (WHERE a.outcome = 'HumanAnswer'),
           count(*) FILTER (WHERE a.outcome = 'Machine'),
           count(*) FILTER (WHERE a.outcome = 'Busy'),
           count(*) FILTER (WHERE a.outcome = 'NoAnswer'),
           count(*) FILTER (WHERE a.outcome = 'Congestion'),
           count(*) FILTER (WHERE a.outcome = 'Rejected'),
           count(*) FILTER (WHERE a.outcome = 'InvalidNumber'),
           count(*) FILTER (WHERE a.outcome IN ('Failed', 'LostReply')),
           count(*) FILTER (WHERE a.agent_connected_at IS NOT NULL),
           count(*) FILTER (WHERE a.abandoned),
           (count(*) FILTER (WHERE a.outcome = 'HumanAnswer'))::float8 / nullif(count(*), 0),
           (count(*) FILTER (WHERE a.abandoned))::float8 / nullif(count(*) FILTER (WHERE a.outcome = 'HumanAnswer'), 0),
           avg(extract(epoch FROM a.agent_connected_at - a.answered_at)) FILTER (WHERE a.agent_connected_at IS NOT NULL AND a.answered_at IS NOT NULL)::float8,
           avg(extract(epoch FROM a.ended_at - a.agent_connected_at)) FILTER (WHERE a.agent_connected_at IS NOT NULL AND a.ended_at IS NOT NULL)::float8
    FROM dialer_attempts a
    WHERE a.dialed_at >= p_from AND a.dialed_at < p_to AND (p_campaign IS NULL OR a.campaign_id = p_campaign)
    GROUP BY 1, 2
    ORDER BY 1, 2;
END $$;
ALTER FUNCTION report_dialer_campaign(timestamptz, timestamptz, text, text) SET jit = off;

-- The compliance ledger per campaign and day (report time zone), with the rolling 30-day figure
-- ending that day (or the campaign to date when it is younger: the ledger starts with it).
CREATE FUNCTION report_dialer_compliance(p_from timestamptz, p_to timestamptz, p_campaign text DEFAULT NULL)
RETURNS TABLE (
    day date, campaign_id text, live_answered bigint, connected bigint, abandoned bigint,
    abandon_rate double precision, rolling_30d_live_answered bigint, rolling_30d_abandoned bigint,
    rolling_30d_abandon_rate double precision, messages_played bigint, abandoned_without_message bigint,
    machine_answers bigint, unanswered bigint, unanswered_under_15s bigint, longest_connect_delay_ms integer)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    tz text := setting_text('reports.time_zone');
BEGIN
    PERFORM report_check_args(p_from, p_to, NULL);
    RETURN QUERY
    WITH ledger AS (
        SELECT (l.at AT TIME ZONE tz)::date AS d, l.*
        FROM dialer_ledger l
        -- 29 days before the window feed the rolling figure of its first days.
        WHERE l.at >= ((p_from AT TIME ZONE tz)::date - 29)::timestamp AT TIME ZONE tz AND l.at < p_to
          AND (p_campaign IS NULL OR l.campaign_id = p_campaign)),
    messages AS (SELECT DISTINCT campaign_id, call_id FROM ledger WHERE kind = 'MessagePlayed'),
    daily AS (
        SELECT l.d, l.campaign_id,
               count(*) FILTER (WHERE l.kind IN ('LiveAnswerConnected', 'Abandoned')) AS live,
               count(*) FILTER (WHERE l.kind = 'LiveAnswerConnected') AS conn,
               count(*) FILTER (WHERE l.kind = 'Abandoned') AS ab,
               count(*) FILTER (WHERE l.kind = 'MessagePlayed') AS msg,
               count(*) FILTER (WHERE l.kind = 'Abandoned' AND m.call_id IS NULL) AS ab_no_msg,
               count(*) FILTER (WHERE l.kind = 'MachineAnswer') AS machine,
               count(*) FILTER (WHERE l.kind = 'Unanswered') AS unans,
               count(*) FILTER (WHERE l.kind = 'Unanswered' AND l.ring_ms < 15000) AS unans_short,
               max(l.connect_delay_ms) AS longest
        FROM ledger l
        LEFT JOIN messages m ON l.kind = 'Abandoned' AND m.campaign_id = l.campaign_id AND m.call_id = l.call_id
        GROUP BY 1, 2),
    rolling AS (
        SELECT x.d, x.campaign_id, x.live, x.conn, x.ab, x.msg, x.ab_no_msg, x.machine, x.unans, x.unans_short, x.longest,
               (SELECT sum(y.live) FROM daily y WHERE y.campaign_id = x.campaign_id AND y.d BETWEEN x.d - 29 AND x.d)::bigint AS live30,
               (SELECT sum(y.ab) FROM daily y WHERE y.campaign_id = x.campaign_id AND y.d BETWEEN x.d - 29 AND x.d)::bigint AS ab30
        FROM daily x)
    SELECT r.d, r.campaign_id, r.live, r.conn, r.ab, r.ab::float8 / nullif(r.live, 0),
           r.live30, r.ab30, r.ab30::float8 / nullif(r.live30, 0),
           r.msg, r.ab_no_msg, r.machine, r.unans, r.unans_short, r.longest
    FROM rolling r
    WHERE r.d >= (p_from AT TIME ZONE tz)::date AND r.d <= ((p_to - interval '1 microsecond') AT TIME ZONE tz)::date
    ORDER BY 1, 2;
END $$;
ALTER FUNCTION report_dialer_compliance(timestamptz, timestamptz, text) SET jit = off;

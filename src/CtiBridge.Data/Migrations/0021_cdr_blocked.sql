-- The cdr view showed a blocked (blacklisted) caller as NO ANSWER. That was not what happened: call
-- control answers the caller's channel before the customer lookup, plays the blocked prompt and
-- releases the caller, which Asterisk's own CDR records as ANSWERED (Answer, Playback, Hangup) with
-- the whole call as billable time. The view now says so: disposition ANSWERED, billsec = duration,
-- lastapp Playback; userfield keeps 'blocked', so a CDR reader can still tell these calls apart.
-- Same columns as 0003's view (CREATE OR REPLACE keeps grants and dependants).
CREATE OR REPLACE VIEW cdr AS
SELECT c.started_at AS calldate,
       format('"%s" <%s>', coalesce(c.caller, ''), coalesce(c.caller, '')) AS clid,
       coalesce(c.caller, '') AS src,
       coalesce(c.callee, c.did, '') AS dst,
       coalesce(c.queues[1], CASE c.direction WHEN 'inbound' THEN 'inbound' ELSE 'outbound' END) AS dcontext,
       coalesce(cust.channel, '') AS channel,
       coalesce(ag.channel, '') AS dstchannel,
       CASE WHEN cardinality(c.queues) > 0 THEN 'Queue'
            WHEN c.disposition = 'blocked' THEN 'Playback'
            ELSE 'Dial' END AS lastapp,
       coalesce(c.queues[1], '') AS lastdata,
       floor(extract(epoch FROM c.ended_at - c.started_at))::integer AS duration,
       CASE WHEN c.disposition = 'blocked' THEN floor(extract(epoch FROM c.ended_at - c.started_at))::integer
            WHEN c.answered_at IS NULL THEN 0
            ELSE floor(extract(epoch FROM c.ended_at - c.answered_at))::integer END AS billsec,
       CASE WHEN c.disposition IN ('answered', 'ivr_completed', 'voicemail', 'blocked') THEN 'ANSWERED'
            WHEN c.disposition = 'busy' THEN 'BUSY'
            WHEN c.disposition IN ('failed', 'system_lost') THEN 'FAILED'
            ELSE 'NO ANSWER' END AS disposition,
       3 AS amaflags,
       coalesce(c.account_code, '') AS accountcode,
       c.call_id AS uniqueid,
       c.disposition AS userfield,
       c.call_id AS linkedid,
       coalesce(c.agent_id, '') AS agent
FROM calls c
LEFT JOIN LATERAL (SELECT l.channel FROM call_legs l WHERE l.call_id = c.call_id AND l.party = 'customer' ORDER BY l.started_at LIMIT 1) cust ON true
LEFT JOIN LATERAL (SELECT l.channel FROM call_legs l WHERE l.call_id = c.call_id AND l.party = 'agent' ORDER BY l.answered_at NULLS LAST, l.started_at LIMIT 1) ag ON true;
COMMENT ON VIEW cdr IS 'Asterisk cdr_pgsql-compatible view of calls (amaflags 3 = DOCUMENTATION; userfield = CtiBridge disposition; a blocked caller was answered, heard the blocked prompt and was released: ANSWERED).';

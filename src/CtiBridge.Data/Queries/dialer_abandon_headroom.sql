-- A campaign's abandon figures for one pacing decision, read under the campaign's lock (0045): live answers and
-- abandons to date over every instance, those of the abandon window (live answers of the days wholly inside it,
-- abandons of every day it touches: never more headroom than the exact window has), and the lines other live
-- instances could still lose as abandons (an instance without a heartbeat for the claim lease no longer counts:
-- its calls are adopted or swept, and what they counted is in the ledger).
SELECT coalesce(sum(d.live_answers), 0)::bigint AS live_answers,
       coalesce(sum(d.abandons), 0)::bigint AS abandons,
       coalesce(sum(d.live_answers) FILTER (WHERE d.day > @window_from_day), 0)::bigint AS window_live_answers,
       coalesce(sum(d.abandons) FILTER (WHERE d.day >= @window_from_day), 0)::bigint AS window_abandons,
       (SELECT coalesce(sum(e.lines), 0)::integer
        FROM dialer_abandon_exposure e
        JOIN dialer_instances i ON i.instance_id = e.instance_id
        WHERE e.campaign_id = @campaign_id
          AND e.instance_id <> @instance_id
          AND i.heartbeat_at >= @stale_before) AS exposed_elsewhere
FROM dialer_ledger_days d
WHERE d.campaign_id = @campaign_id

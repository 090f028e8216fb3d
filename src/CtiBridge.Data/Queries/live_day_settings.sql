-- The live statistics' day (docs/metrics.md §2): where the daily report cuts the day containing @now
-- (reports.time_zone, report_bucket's rule), the thresholds the reports count with, and the
-- targets the wallboard colours its figures against.
SELECT setting_text('reports.time_zone') AS time_zone,
       date_trunc('day', @now AT TIME ZONE setting_text('reports.time_zone')) AT TIME ZONE setting_text('reports.time_zone') AS day_start,
       (date_trunc('day', @now AT TIME ZONE setting_text('reports.time_zone')) + interval '1 day') AT TIME ZONE setting_text('reports.time_zone') AS day_end,
       setting_numeric('metrics.service_level_seconds') AS service_level_seconds,
       setting_numeric('metrics.short_abandon_seconds') AS short_abandon_seconds,
       setting_numeric('metrics.service_level_target') AS service_level_target,
       setting_numeric('metrics.aht_target_seconds') AS aht_target_seconds

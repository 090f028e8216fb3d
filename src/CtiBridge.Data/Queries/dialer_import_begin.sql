INSERT INTO dialer_lead_imports (campaign_id, file_name, started_at, finished_at, imported_by, all_or_nothing, committed,
                                 rows_read, rows_imported, rows_invalid, duplicates, dnc_hits)
VALUES (@campaign_id, @file_name, @now, @now, @imported_by, @all_or_nothing, false, 0, 0, 0, 0, 0)
RETURNING import_id

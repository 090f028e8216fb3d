UPDATE dialer_lead_imports
SET finished_at = @now, committed = @committed, rows_read = @rows_read, rows_imported = @rows_imported,
    rows_invalid = @rows_invalid, duplicates = @duplicates, dnc_hits = @dnc_hits
WHERE import_id = @import_id

INSERT INTO dialer_import_rejects (import_id, line, column_name, kind, reason, raw)
SELECT @import_id, r.line, r.column_name, r.kind, r.reason, r.raw
FROM unnest(@line::integer[], @column_name::text[], @kind::text[], @reason::text[], @raw::text[]) AS r(line, column_name, kind, reason, raw)

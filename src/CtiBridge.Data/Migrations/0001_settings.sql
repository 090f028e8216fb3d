-- Operator settings that the service and the report queries both read, kept in the database so
-- every CtiBridge instance on it agrees (e.g. how long call records are kept).
CREATE TABLE settings (
    key         text        PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'),
    value       jsonb       NOT NULL,
    description text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE settings IS 'Operator settings shared by all CtiBridge instances on this database.';

INSERT INTO settings (key, value, description) VALUES
    ('records.retention_months', '25'::jsonb,
     'Months of call records, queue events and agent-state intervals kept; older monthly partitions are dropped.');

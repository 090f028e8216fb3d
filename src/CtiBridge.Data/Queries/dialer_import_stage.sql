CREATE TEMPORARY TABLE lead_import_stage (
    line          integer PRIMARY KEY,
    phone_number  text NOT NULL,
    time_zone     text,
    custom_fields jsonb NOT NULL,
    raw           text NOT NULL,
    kind          text,
    reason        text
) ON COMMIT DROP

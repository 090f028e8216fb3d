-- Customers known by their phone number, for the customer lookup from the database
-- (callControl.customerLookup.source = "database", docs/call-control.md): VIP, member (会员),
-- blacklist, own agent (所属坐席) and prompt language, looked up when a call enters.
CREATE TABLE customers (
    number          text        PRIMARY KEY CHECK (number ~ '^\+?[0-9]{1,32}$'),
    customer_id     text,
    vip             boolean     NOT NULL DEFAULT false,
    member          boolean     NOT NULL DEFAULT false,
    blocked         boolean     NOT NULL DEFAULT false,
    assigned_agent  text,
    language        text        CHECK (language ~ '^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})?$'),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE customers IS 'Callers by phone number as the caller ID gives it: VIP, member, blacklisted, own agent, language (customer lookup from the database).';

-- Adds or replaces a customer by number.
INSERT INTO customers (number, customer_id, vip, member, blocked, assigned_agent, language, updated_at)
VALUES (@number, @customer_id, @vip, @member, @blocked, @assigned_agent, @language, now())
ON CONFLICT (number) DO UPDATE SET
    customer_id = excluded.customer_id, vip = excluded.vip, member = excluded.member, blocked = excluded.blocked,
    assigned_agent = excluded.assigned_agent, language = excluded.language, updated_at = excluded.updated_at

-- A page of customers in number order (after the last number of the previous page), optionally only blacklisted or not.
SELECT number, customer_id, vip, member, blocked, assigned_agent, language
FROM customers
WHERE (@after::text IS NULL OR number > @after::text) AND (@blocked::boolean IS NULL OR blocked = @blocked::boolean)
ORDER BY number
LIMIT @limit

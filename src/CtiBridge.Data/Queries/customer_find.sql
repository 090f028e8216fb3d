-- The customer lookup of an entering call: one row by the caller's number, or none (unknown caller).
SELECT customer_id, vip, member, blocked, assigned_agent, language FROM customers WHERE number = @number

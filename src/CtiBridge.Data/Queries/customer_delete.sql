-- Removes a customer by number (the caller is unknown from then on).
DELETE FROM customers WHERE number = @number

-- At most one write per key per minute, so authentication does not write on every request.
UPDATE api_keys SET last_used_at = @used_at
WHERE id = @id AND (last_used_at IS NULL OR last_used_at < @used_at - interval '1 minute')

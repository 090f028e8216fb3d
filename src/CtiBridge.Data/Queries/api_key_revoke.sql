UPDATE api_keys SET revoked_at = @revoked_at
WHERE (id::text = @key OR name = @key) AND revoked_at IS NULL
RETURNING id

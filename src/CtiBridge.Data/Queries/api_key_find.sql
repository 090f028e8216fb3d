SELECT id, name, role, agent_id, secret_hash, created_at, created_by, revoked_at, last_used_at
FROM api_keys
WHERE id = @id

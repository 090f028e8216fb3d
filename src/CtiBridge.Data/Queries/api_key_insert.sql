INSERT INTO api_keys (id, name, role, agent_id, secret_hash, created_at, created_by)
VALUES (@id, @name, @role, @agent_id, @secret_hash, @created_at, @created_by)

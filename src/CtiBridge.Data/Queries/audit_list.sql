SELECT id, at, actor, role, action, target, outcome, remote_address, detail::text
FROM audit_log
WHERE at >= @from AND at < @to AND (@actor::text IS NULL OR actor = @actor)
ORDER BY at DESC, id DESC
LIMIT @limit

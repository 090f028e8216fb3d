UPDATE webhook_dead_letters
SET replayed_at = @at, replayed_by = @by, attempts = attempts + 1
WHERE id = @id AND replayed_at IS NULL

UPDATE webhook_dead_letters
SET attempts = attempts + 1, last_error = @last_error
WHERE id = @id

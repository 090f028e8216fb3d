-- Callbacks for the lists of the API/CLI: by state (null for all), queue and owner (null for any),
-- number (null for any), due before (null for any), soonest due first.
SELECT * FROM callbacks
WHERE (@states::text[] IS NULL OR state = ANY (@states::text[]))
  AND (@queue::text IS NULL OR queue = @queue::text)
  AND (@owner::text IS NULL OR owner_agent_id = @owner::text)
  AND (@number::text IS NULL OR number = @number::text)
  AND (@due_before::timestamptz IS NULL OR due_at < @due_before::timestamptz)
ORDER BY due_at, callback_id
LIMIT @limit

SELECT callback_id, merged FROM callback_request(
    @id, @number, @source, @queue, @owner, @mode, @priority, @reason, @at, @promised, @due, @deadline,
    @place, @max_attempts, @origin_call, @customer_name, @voicemail, @campaign, @lead, @skills, @note, @actor)

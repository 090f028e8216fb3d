SELECT * FROM callbacks WHERE callback_id = @id

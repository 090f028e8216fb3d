DELETE FROM dnc_numbers WHERE scope = @scope AND phone_number = @phone_number

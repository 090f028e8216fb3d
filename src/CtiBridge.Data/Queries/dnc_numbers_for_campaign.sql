SELECT phone_number FROM dnc_numbers WHERE scope = '*' OR scope = @campaign_id

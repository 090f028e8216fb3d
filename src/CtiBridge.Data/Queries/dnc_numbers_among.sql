SELECT DISTINCT phone_number FROM dnc_numbers
WHERE phone_number = ANY(@numbers) AND (scope = '*' OR scope = @campaign_id)

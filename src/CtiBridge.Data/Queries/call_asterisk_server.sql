SELECT asterisk_server FROM calls WHERE call_id = @call_id

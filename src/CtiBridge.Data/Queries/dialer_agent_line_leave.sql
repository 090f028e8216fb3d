-- An agent left the line this instance held (a row another instance wrote since stays).
DELETE FROM dialer_agent_lines WHERE agent_id = @agent_id AND instance_id = @instance_id

SELECT * FROM callbacks WHERE number = @number AND state IN ('scheduled', 'due', 'dialing', 'retry')

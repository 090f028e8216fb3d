-- A full import (replace): removes every customer whose number is not in the imported file.
DELETE FROM customers WHERE NOT (number = ANY(@numbers))

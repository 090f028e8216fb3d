SELECT count(DISTINCT client_addr::text || ':' || coalesce(client_hostname, '') || ':' || application_name)
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND (application_name IN ('ctibridge', 'ctibridge-callbacks') OR application_name LIKE 'ctibridge-lease:%')

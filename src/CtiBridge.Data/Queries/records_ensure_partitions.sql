-- Creates the monthly record partitions (migration 0002) covering @from to @to that do not exist yet.
SELECT records_ensure_partitions(@from, @to)

-- Landed lines still waiting for their day (a crash came between their landing's commit and the dating).
SELECT count(*) AS lines FROM raw.landed_lines WHERE partition_date IS NULL

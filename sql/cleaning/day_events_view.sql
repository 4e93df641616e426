CREATE OR REPLACE TEMP VIEW day_events AS SELECT * FROM ranked_events WHERE copy_rank = 1

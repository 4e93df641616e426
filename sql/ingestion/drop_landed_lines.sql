-- Lines of a superseded file version leave the parse store (the next cut of their days drops them).
DELETE FROM raw.landed_lines WHERE file_id = $old_file_id

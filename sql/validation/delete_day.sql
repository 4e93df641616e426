DELETE FROM {table} WHERE day = $day

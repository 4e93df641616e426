-- The slices the examples of [start_day, end_day) are built in: consecutive rowid ranges of clean.events
-- holding about $slice_rows impressions of the range each (whole blocks of $slice_rows / 16 rowids), so a
-- slice reads only its own rows. Their number is also the number of person and item slices.
WITH blocks AS (
    SELECT rowid // greatest($slice_rows // 16, 1) AS block, count(*) AS impressions
    FROM clean.events
    WHERE event_type = 'impression' AND event_date >= $start_day AND event_date < $end_day
    GROUP BY block
),

placed AS (
    SELECT block,
           (sum(impressions) OVER (ORDER BY block ROWS UNBOUNDED PRECEDING) - impressions)
           // greatest($slice_rows, 1) AS slice
    FROM blocks
)

SELECT min(block) * greatest($slice_rows // 16, 1) AS first_row,
       (max(block) + 1) * greatest($slice_rows // 16, 1) AS end_row
FROM placed
GROUP BY slice
ORDER BY slice

-- Actual vs predicted click-through over the mature examples of [start_day, end_day), by model and
-- by model x category and model x position bucket. log_loss: mean binary cross-entropy of the
-- predictions (clipped to [1e-6, 1 - 1e-6]); normalized_entropy: log_loss divided by the entropy of
-- the actual CTR (He et al. 2014): above 1 the model predicts worse than the constant actual rate.
WITH scored AS (
    SELECT model_version, category, position_bucket, label,
           greatest(least(predicted_ctr, 1 - 1e-6), 1e-6) AS p
    FROM labels.ctr_examples
    WHERE event_date >= $start_day AND event_date < $end_day AND label_status = 'mature'
),

grouped AS (
    SELECT
        CASE WHEN grouping(category) = 0 THEN 'category' WHEN grouping(position_bucket) = 0 THEN 'position'
             ELSE 'model' END AS breakdown,
        model_version, coalesce(category, position_bucket, '*') AS slice,
        count(*) AS impressions, sum(label) AS clicks, avg(label) AS actual_ctr, avg(p) AS predicted_ctr,
        -avg(label * ln(p) + (1 - label) * ln(1 - p)) AS log_loss
    FROM scored
    GROUP BY GROUPING SETS ((model_version), (model_version, category), (model_version, position_bucket))
)

SELECT breakdown, model_version, slice, impressions, clicks,
       round(actual_ctr, 5) AS actual_ctr, round(predicted_ctr, 5) AS predicted_ctr,
       round(actual_ctr / nullif(predicted_ctr, 0), 4) AS calibration_ratio,
       round(log_loss, 5) AS log_loss,
       CASE WHEN actual_ctr > 0 AND actual_ctr < 1 THEN
           round(log_loss / -(actual_ctr * ln(actual_ctr) + (1 - actual_ctr) * ln(1 - actual_ctr)), 4)
       END AS normalized_entropy  -- undefined when every example has the same label
FROM grouped
ORDER BY breakdown DESC, model_version, slice

SELECT label_source, label, count(*) AS reviews, round(avg(label_confidence), 4) AS mean_confidence
FROM labels.review_examples GROUP BY ALL ORDER BY ALL

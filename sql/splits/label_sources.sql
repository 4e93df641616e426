SELECT label_source, count(*) FROM labels.review_examples GROUP BY 1 ORDER BY 2 DESC

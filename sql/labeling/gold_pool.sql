-- Gold items and how often each was already hidden in a batch (the least shown go first).
SELECT g.review_id, count(t.review_id) AS times_shown
FROM labels.gold g
LEFT JOIN labels.tasks t ON t.review_id = g.review_id AND t.selection = 'gold'
GROUP BY g.review_id
ORDER BY times_shown, g.review_id

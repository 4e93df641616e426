SELECT review_id, label_index FROM labels.gold

SELECT review_id, category FROM labels.reviews

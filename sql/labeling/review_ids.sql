SELECT review_id FROM labels.reviews

SELECT label, label_source, label_confidence, rater_count, label_model FROM labels.review_examples WHERE review_id = $id

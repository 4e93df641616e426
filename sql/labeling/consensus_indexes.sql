SELECT review_id, label_index FROM labels.human_consensus WHERE label_index >= 0

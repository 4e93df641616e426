DELETE FROM labels.annotations

DELETE FROM labels.gold

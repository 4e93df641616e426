INSERT INTO splits.export_reissues VALUES ($dataset, $old_version, $new_version, $request_id, $removed, $at)

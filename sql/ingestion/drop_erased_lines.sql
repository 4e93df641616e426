-- The stubs of an erased subject's lines (they keep no content) leave the parse store before the file's
-- transaction commits; the count returned is the file's erased_subject.
DELETE FROM raw.landed_lines WHERE file_id = $file_id AND reason = 'erased_subject'

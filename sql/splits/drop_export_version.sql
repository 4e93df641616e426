-- A version whose files are deleted leaves the registry (splits.export_reissues keeps what replaced it).
DELETE FROM splits.exports WHERE dataset = $dataset AND version = $old_version

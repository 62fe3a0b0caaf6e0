-- The file sweep asks, for each stored file, whether any row still names its content.
CREATE INDEX task_files_by_sha256 ON task_files (sha256);
CREATE INDEX signing_requests_by_sha256 ON signing_requests (document_sha256);

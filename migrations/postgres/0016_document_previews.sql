-- Page images of signing documents, so a client can read what they sign on any device.
-- Rendered once per content (named by its SHA-256, like the stored file) by one gateway at a
-- time: the row is the claim. state: 'rendering' (since started_at), 'ready' (the first
-- `rendered` of `page_count` pages are stored) or 'failed' (not tried again). The file sweep
-- removes the previews of content no signing request names any more.
CREATE TABLE document_previews (
    sha256      TEXT PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('rendering', 'ready', 'failed')),
    page_count  BIGINT,
    rendered    BIGINT NOT NULL DEFAULT 0,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT
);

CREATE TABLE document_pages (
    sha256 TEXT NOT NULL REFERENCES document_previews (sha256) ON DELETE CASCADE,
    page   BIGINT NOT NULL,
    image  BYTEA NOT NULL,
    PRIMARY KEY (sha256, page)
);

-- Documents clients upload to tasks, and documents staff send to be signed with their audit
-- trail. The bytes live on disk under PORTICO_DATA_DIR/files/, named by their SHA-256, so a
-- stored document cannot change without its hash changing.

CREATE TABLE task_files (
    id           TEXT PRIMARY KEY,
    firm_id      TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    task_id      TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    -- The contact who uploaded it (kept for the record if the contact is deleted).
    contact_id   TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX task_files_by_task ON task_files (firm_id, task_id, created_at);

CREATE TABLE signing_requests (
    id              TEXT PRIMARY KEY,
    firm_id         TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    contact_id      TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    title           TEXT NOT NULL,
    document_name   TEXT NOT NULL,
    document_size   BIGINT NOT NULL,
    -- Set once at creation; the stored bytes are checked against it at every view and signing.
    document_sha256 TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'signed', 'declined')),
    signed_name     TEXT,
    decline_reason  TEXT,
    completed_at    BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX signing_requests_by_contact ON signing_requests (firm_id, contact_id, status, created_at);
CREATE INDEX signing_requests_by_firm_created ON signing_requests (firm_id, created_at, id);

-- The audit trail: append-only, in order.
CREATE TABLE signing_events (
    request_id      TEXT NOT NULL REFERENCES signing_requests(id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('created', 'viewed', 'signed', 'declined')),
    -- The signer for viewed/signed/declined; NULL for created (staff, through the API).
    contact_id      TEXT,
    typed_name      TEXT,
    reason          TEXT,
    ip              TEXT,
    user_agent      TEXT,
    -- SHA-256 of the stored bytes, recomputed when the event happened.
    document_sha256 TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (request_id, seq)
);

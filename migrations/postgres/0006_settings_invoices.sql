-- Client settings (display name lives in contacts.name), invoices, and the firm's logo.

-- NULL: the client has not chosen; pages follow the browser's Accept-Language.
ALTER TABLE contacts ADD COLUMN language TEXT;
-- Which emails the client wants; all on until they say otherwise.
ALTER TABLE contacts ADD COLUMN notify_task_shared BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE contacts ADD COLUMN notify_signature_requested BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE contacts ADD COLUMN notify_request_reply BOOLEAN NOT NULL DEFAULT TRUE;

CREATE TABLE invoices (
    id           TEXT PRIMARY KEY,
    firm_id      TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    contact_id   TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    number       TEXT NOT NULL,
    -- Integer minor units of the currency (cents), never floating point.
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    -- ISO 4217 code, upper case.
    currency     TEXT NOT NULL,
    -- ISO dates, YYYY-MM-DD.
    issued_date  TEXT NOT NULL,
    due_date     TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'void')),
    pay_url      TEXT,
    description  TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (firm_id, number)
);
CREATE INDEX invoices_by_firm_created ON invoices (firm_id, created_at, id);
CREATE INDEX invoices_by_contact ON invoices (firm_id, contact_id, due_date);

-- One logo per firm; firms.logo_sha256 names the current one, so pages can link it with a
-- version without reading the image.
CREATE TABLE firm_logos (
    firm_id      TEXT PRIMARY KEY REFERENCES firms(id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    sha256       TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);
ALTER TABLE firms ADD COLUMN logo_sha256 TEXT;

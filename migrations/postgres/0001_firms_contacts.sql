-- Firms, their staff and API keys, contacts with portal access, and invitations.
-- Times are Unix seconds. IDs are opaque random strings made by the application.

CREATE TABLE firms (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    brand_color TEXT NOT NULL DEFAULT '#1d4ed8',
    created_at  BIGINT NOT NULL
);

CREATE TABLE staff (
    id         TEXT PRIMARY KEY,
    firm_id    TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    email_norm TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'staff')),
    created_at BIGINT NOT NULL,
    UNIQUE (firm_id, email_norm)
);

-- Keys are shown once; only their SHA-256 is kept.
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    firm_id    TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    prefix     TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE contacts (
    id            TEXT PRIMARY KEY,
    firm_id       TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL,
    -- Lower-cased email: addresses are unique per firm and compared case-insensitively.
    email_norm    TEXT NOT NULL,
    portal_access BOOLEAN NOT NULL DEFAULT FALSE,
    -- Bumped when access is revoked or the email changes: links and sessions minted under an
    -- older epoch are refused.
    auth_epoch    BIGINT NOT NULL DEFAULT 0,
    last_login_at BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (firm_id, email_norm)
);
CREATE INDEX contacts_by_email ON contacts (email_norm);
CREATE INDEX contacts_by_firm_created ON contacts (firm_id, created_at, id);

-- The latest invitation of each contact; resending replaces it.
CREATE TABLE invitations (
    contact_id  TEXT PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
    firm_id     TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    sent_at     BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    send_count  BIGINT NOT NULL DEFAULT 1,
    accepted_at BIGINT
);

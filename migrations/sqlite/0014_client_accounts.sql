-- Client accounts (a business or household grouping a firm's contacts) and the firm's own
-- client permission sets (SPEC §13). Every contact belongs to an account (the application
-- keeps that invariant; this migration gives each existing contact a personal account of its
-- own, named after it, whose `client_manager` it becomes). Tasks, invoices, conversations and
-- signing requests may be shared with an account as a whole (`account_id`; NULL: not shared).

CREATE TABLE client_accounts (
    id         TEXT PRIMARY KEY,
    firm_id    TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    -- The name as searched and sorted (trimmed, lower-cased by the application).
    name_norm  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX client_accounts_by_name ON client_accounts (firm_id, name_norm, id);

-- Built-in sets (`client_manager`, `client_staff`) live in code (shared/src/client_access.rs);
-- a custom set is one of them with capabilities switched off.
CREATE TABLE permission_sets (
    id         TEXT PRIMARY KEY,
    firm_id    TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    base       TEXT NOT NULL CHECK (base IN ('client_manager', 'client_staff')),
    -- JSON array of the capability names switched off.
    off        TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (firm_id, name)
);

-- `permission_set` names a built-in set or a `permission_sets.id`; the application refuses to
-- delete a set a contact holds.
ALTER TABLE contacts ADD COLUMN account_id TEXT REFERENCES client_accounts(id);
ALTER TABLE contacts ADD COLUMN permission_set TEXT NOT NULL DEFAULT 'client_manager';

-- One personal account per existing contact, under a fresh id (the shape `ClientAccountId`
-- reads: `ca_` and 22 characters): the accounts first, then the contacts that name them.
CREATE TEMPORARY TABLE personal_accounts AS
SELECT id AS contact_id, 'ca_' || lower(hex(randomblob(11))) AS account_id FROM contacts;
INSERT INTO client_accounts (id, firm_id, name, name_norm, created_at, updated_at)
SELECT p.account_id, c.firm_id, c.name, lower(trim(c.name)), c.created_at, c.created_at
FROM contacts c JOIN personal_accounts p ON p.contact_id = c.id;
UPDATE contacts SET account_id =
    (SELECT p.account_id FROM personal_accounts p WHERE p.contact_id = contacts.id);
DROP TABLE personal_accounts;

ALTER TABLE tasks ADD COLUMN account_id TEXT REFERENCES client_accounts(id) ON DELETE SET NULL;
ALTER TABLE invoices ADD COLUMN account_id TEXT REFERENCES client_accounts(id) ON DELETE SET NULL;
ALTER TABLE conversations ADD COLUMN account_id TEXT
    REFERENCES client_accounts(id) ON DELETE SET NULL;
ALTER TABLE signing_requests ADD COLUMN account_id TEXT
    REFERENCES client_accounts(id) ON DELETE SET NULL;

-- "The contacts of this account" and "the items shared with this account", each one range of
-- an index in the order the portal reads them, like the per-contact indexes beside them.
CREATE INDEX contacts_by_account ON contacts (firm_id, account_id, id);
CREATE INDEX tasks_by_account ON tasks (firm_id, account_id, id);
CREATE INDEX invoices_by_account ON invoices (firm_id, account_id, due_date);
CREATE INDEX conversations_by_account ON conversations (firm_id, account_id, last_message_at);
CREATE INDEX signing_requests_by_account
    ON signing_requests (firm_id, account_id, status, created_at, id);

-- The kept home pages (migration 0010): a set's capabilities, and which account a contact is
-- in and with which set, change what a page shows (a manager's page shows colleagues' items).
-- The item tables' own triggers already cover their new `account_id`.
CREATE TRIGGER permission_sets_portal_version_insert AFTER INSERT ON permission_sets
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
END;

CREATE TRIGGER permission_sets_portal_version_update AFTER UPDATE ON permission_sets
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
END;

CREATE TRIGGER permission_sets_portal_version_delete AFTER DELETE ON permission_sets
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = OLD.firm_id;
END;

CREATE TRIGGER contacts_access_portal_version AFTER UPDATE OF account_id, permission_set
ON contacts
WHEN OLD.account_id IS NOT NEW.account_id OR OLD.permission_set IS NOT NEW.permission_set
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
END;

-- The staff console's team: members with roles (replacing `staff`), the firm's own roles,
-- team invitations, contacts assigned to members, API keys with a name, a role and the member
-- they act for, the member who wrote a staff reply, and the client activity the dashboard shows.
-- Built-in roles (`owner`, `co_owner`, `team`) live in code (shared/src/policy.rs); a role id
-- names one of them or a row of `roles`.

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    firm_id     TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    -- {AREA: {"actions": [...], "scope": "all"|"assigned"}}, as the API shows it.
    permissions TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (firm_id, name)
);

CREATE TABLE members (
    id            TEXT PRIMARY KEY,
    firm_id       TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    name          TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL,
    email_norm    TEXT NOT NULL,
    role_id       TEXT NOT NULL,
    -- Bumped when the member's email changes: their sessions and links end.
    auth_epoch    BIGINT NOT NULL DEFAULT 0,
    last_login_at BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (firm_id, email_norm)
);
-- Exactly one Owner per firm (at most one here; the code never leaves a firm without one).
CREATE UNIQUE INDEX members_one_owner ON members (firm_id) WHERE role_id = 'owner';
CREATE INDEX members_by_role ON members (firm_id, role_id);

-- Each staff row becomes a member with its id: the earliest owner (or, without one, the
-- earliest row) the Owner, other owners Co-owners, staff Team members.
INSERT INTO members (id, firm_id, name, email, email_norm, role_id, created_at, updated_at)
SELECT s.id, s.firm_id, '', s.email, s.email_norm,
       CASE
           WHEN s.id = (SELECT o.id FROM staff o WHERE o.firm_id = s.firm_id
                        ORDER BY CASE WHEN o.role = 'owner' THEN 0 ELSE 1 END, o.created_at, o.id
                        LIMIT 1) THEN 'owner'
           WHEN s.role = 'owner' THEN 'co_owner'
           ELSE 'team'
       END,
       s.created_at, s.created_at
FROM staff s;
DROP TABLE staff;

CREATE TABLE team_invitations (
    id          TEXT PRIMARY KEY,
    firm_id     TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    email_norm  TEXT NOT NULL,
    role_id     TEXT NOT NULL,
    invited_by  TEXT REFERENCES members(id) ON DELETE SET NULL,
    -- Bumped when the invitation is corrected or resent: links sent before are refused.
    version     BIGINT NOT NULL DEFAULT 0,
    send_count  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    sent_at     BIGINT,
    expires_at  BIGINT,
    accepted_at BIGINT,
    revoked_at  BIGINT
);
-- One open invitation per address and firm.
CREATE UNIQUE INDEX team_invitations_open ON team_invitations (firm_id, email_norm)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX team_invitations_by_firm ON team_invitations (firm_id, created_at, id);

-- Which members look after which contacts (the scope "assigned clients only").
CREATE TABLE contact_members (
    contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    member_id  TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    firm_id    TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    PRIMARY KEY (contact_id, member_id)
);
CREATE INDEX contact_members_by_member ON contact_members (member_id, contact_id);

-- Existing keys: named `legacy`, the Owner role, acting for the firm's Owner.
ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT 'legacy';
ALTER TABLE api_keys ADD COLUMN role_id TEXT NOT NULL DEFAULT 'owner';
ALTER TABLE api_keys ADD COLUMN member_id TEXT REFERENCES members(id) ON DELETE CASCADE;
UPDATE api_keys SET member_id =
    (SELECT m.id FROM members m WHERE m.firm_id = api_keys.firm_id AND m.role_id = 'owner');
CREATE INDEX api_keys_by_firm ON api_keys (firm_id, created_at, id);

-- The member who wrote a staff reply (NULL for clients' messages and earlier replies).
ALTER TABLE messages ADD COLUMN member_id TEXT REFERENCES members(id) ON DELETE SET NULL;

-- What clients did, newest first on the dashboard; each client action writes its row in the
-- action's own transaction.
CREATE TABLE activity (
    id         TEXT PRIMARY KEY,
    firm_id    TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('signed_in', 'task_completed', 'document_uploaded',
                                             'signed', 'declined', 'request_sent')),
    -- The task, signing request or conversation acted on, and its title when it happened.
    subject_id TEXT,
    subject    TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX activity_by_firm ON activity (firm_id, created_at, id);
CREATE INDEX activity_by_contact ON activity (contact_id, created_at);

-- Staff previews of a contact's portal ("view as"): who looked, at whom, why, and when. A
-- record lets its member browse the contact's portal read-only for a short while; after that
-- the console asks for a reason again. Records outlive the member who made them (an audit
-- trail), so the member's name is kept as it was, and the link to the member may go.
CREATE TABLE previews (
    id           TEXT PRIMARY KEY,
    firm_id      TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    contact_id   TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    member_id    TEXT REFERENCES members(id) ON DELETE SET NULL,
    member_label TEXT NOT NULL,
    reason       TEXT NOT NULL,
    -- "Try it out": the permission set the contact was shown as holding (a built-in set's
    -- name or a custom set's id, as contacts.permission_set); NULL for their own.
    as_set       TEXT,
    -- The contact's previews in the order they were made (1, 2, …): several in one second
    -- still list newest first.
    seq          BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
-- The contact page's list (newest first), and a member's current preview of a contact.
CREATE UNIQUE INDEX previews_by_contact ON previews (firm_id, contact_id, seq);
CREATE INDEX previews_by_member ON previews (member_id, contact_id, created_at);

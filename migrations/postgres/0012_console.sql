-- The staff console's lists, read through indexes that bound every page by its size, never by
-- the firm's: contacts searched by a prefix of their name or email and filtered by access and
-- invitation status; conversations waiting for the firm's answer; open tasks by due date;
-- pending signing requests.

-- A contact's name as searched (lower-cased by the application when it writes the name; here,
-- for the rows already there, by the database's lower()), and where their invitation stands:
-- 'none' (never invited), 'invited' (sent, not yet used), 'accepted' (signed in through it).
ALTER TABLE contacts ADD COLUMN name_norm TEXT COLLATE "C" NOT NULL DEFAULT '';
-- Prefixes are ranges in code-point order, whatever the database's default collation.
ALTER TABLE contacts ALTER COLUMN email_norm TYPE TEXT COLLATE "C";
ALTER TABLE contacts ADD COLUMN invite_state TEXT NOT NULL DEFAULT 'none'
    CHECK (invite_state IN ('none', 'invited', 'accepted'));
UPDATE contacts SET name_norm = lower(name);
UPDATE contacts SET invite_state = CASE
    WHEN (SELECT i.accepted_at FROM invitations i WHERE i.contact_id = contacts.id) IS NOT NULL
        THEN 'accepted'
    ELSE 'invited' END
WHERE EXISTS (SELECT 1 FROM invitations i WHERE i.contact_id = contacts.id);
-- Every combination of the two filters is one exact range of each index, ordered by the key
-- the list shows (name) or searches (email).
CREATE INDEX contacts_console_name
    ON contacts (firm_id, portal_access, invite_state, name_norm, id);
CREATE INDEX contacts_console_email
    ON contacts (firm_id, portal_access, invite_state, email_norm, id);

-- Whether the last message of a conversation is the client's: it waits for the firm's answer.
ALTER TABLE conversations ADD COLUMN awaiting_reply BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE conversations SET awaiting_reply = COALESCE((
    SELECT m.author = 'client' FROM messages m WHERE m.conversation_id = conversations.id
    ORDER BY m.seq DESC LIMIT 1), FALSE);
CREATE INDEX conversations_by_activity ON conversations (firm_id, last_message_at, id);
CREATE INDEX conversations_waiting ON conversations (firm_id, awaiting_reply, last_message_at, id);

CREATE INDEX tasks_by_due ON tasks (firm_id, status, due_date, id);
CREATE INDEX signing_requests_by_status ON signing_requests (firm_id, status, created_at, id);

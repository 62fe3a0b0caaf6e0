-- Requests a client sends to the firm, and the conversation that follows.

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    firm_id         TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    contact_id      TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    subject         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at      BIGINT NOT NULL,
    last_message_at BIGINT NOT NULL
);
CREATE INDEX conversations_by_contact ON conversations (firm_id, contact_id, last_message_at);
CREATE INDEX conversations_by_firm_created ON conversations (firm_id, created_at, id);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    -- Order within the conversation (timestamps tie within a second).
    seq             BIGINT NOT NULL,
    -- 'client' (the conversation's contact) or 'staff'
    author          TEXT NOT NULL CHECK (author IN ('client', 'staff')),
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_by_conversation ON messages (conversation_id, seq);

-- Tasks staff share to the portal, who they are assigned to, and their checklists.

CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    firm_id      TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    -- ISO date, YYYY-MM-DD (sorts as text in both backends).
    due_date     TEXT,
    -- Shared to the portal: only shared tasks are ever shown to clients.
    portal       BOOLEAN NOT NULL DEFAULT FALSE,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed')),
    completed_at BIGINT,
    completed_by TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX tasks_by_firm_created ON tasks (firm_id, created_at, id);

CREATE TABLE task_assignees (
    task_id    TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    firm_id    TEXT NOT NULL REFERENCES firms(id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, contact_id)
);
-- The portal's question: "which tasks of this firm are assigned to this contact?"
CREATE INDEX task_assignees_by_contact ON task_assignees (firm_id, contact_id, task_id);

CREATE TABLE checklist_items (
    id       TEXT PRIMARY KEY,
    task_id  TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    label    TEXT NOT NULL,
    done     BOOLEAN NOT NULL DEFAULT FALSE,
    done_at  BIGINT,
    done_by  TEXT,
    UNIQUE (task_id, position)
);

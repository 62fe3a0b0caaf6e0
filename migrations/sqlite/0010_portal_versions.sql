-- Version of each firm's portal content, for the rendered-page cache of the client's home page
-- (gateway/src/page_cache.rs). A cached page is served only while its firm's version is the
-- one it was rendered under; the version is read in the same statement that checks the session
-- on every request. The triggers below bump it in the same transaction as every insert, update
-- and delete of a row the home page shows (tasks, with their checklist counts; assignments;
-- requests; signing requests), whatever code path writes, so an unshared task, a removed
-- assignee or a new signing request is on the next page.

CREATE TABLE portal_versions (
    firm_id TEXT PRIMARY KEY REFERENCES firms(id) ON DELETE CASCADE,
    version BIGINT NOT NULL DEFAULT 0
) WITHOUT ROWID;

INSERT INTO portal_versions (firm_id) SELECT id FROM firms;

CREATE TRIGGER firms_portal_version AFTER INSERT ON firms
BEGIN
    INSERT INTO portal_versions (firm_id) VALUES (NEW.id);
END;

CREATE TRIGGER tasks_portal_version_insert AFTER INSERT ON tasks
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
END;

CREATE TRIGGER tasks_portal_version_update AFTER UPDATE ON tasks
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
END;

CREATE TRIGGER tasks_portal_version_delete AFTER DELETE ON tasks
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = OLD.firm_id;
END;

CREATE TRIGGER task_assignees_portal_version_insert AFTER INSERT ON task_assignees
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
END;

CREATE TRIGGER task_assignees_portal_version_update AFTER UPDATE ON task_assignees
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
END;

CREATE TRIGGER task_assignees_portal_version_delete AFTER DELETE ON task_assignees
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = OLD.firm_id;
END;

CREATE TRIGGER conversations_portal_version_insert AFTER INSERT ON conversations
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
END;

CREATE TRIGGER conversations_portal_version_update AFTER UPDATE ON conversations
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
END;

CREATE TRIGGER conversations_portal_version_delete AFTER DELETE ON conversations
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = OLD.firm_id;
END;

CREATE TRIGGER signing_requests_portal_version_insert AFTER INSERT ON signing_requests
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
END;

CREATE TRIGGER signing_requests_portal_version_update AFTER UPDATE ON signing_requests
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
END;

CREATE TRIGGER signing_requests_portal_version_delete AFTER DELETE ON signing_requests
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = OLD.firm_id;
END;

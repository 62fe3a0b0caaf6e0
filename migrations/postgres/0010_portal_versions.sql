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
);

INSERT INTO portal_versions (firm_id) SELECT id FROM firms;

CREATE FUNCTION firms_portal_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO portal_versions (firm_id) VALUES (NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER firms_portal_version AFTER INSERT ON firms
FOR EACH ROW EXECUTE FUNCTION firms_portal_version();

-- Deferred to the commit: the firm's version row is locked last, after every row the
-- transaction writes, so two transactions writing in one firm wait for each other's commit at
-- most, and never deadlock over it.
CREATE FUNCTION bump_portal_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE portal_versions SET version = version + 1 WHERE firm_id = OLD.firm_id;
    ELSE
        UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER tasks_portal_version AFTER INSERT OR UPDATE OR DELETE ON tasks
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_portal_version();

CREATE CONSTRAINT TRIGGER task_assignees_portal_version AFTER INSERT OR UPDATE OR DELETE ON task_assignees
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_portal_version();

CREATE CONSTRAINT TRIGGER conversations_portal_version AFTER INSERT OR UPDATE OR DELETE ON conversations
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_portal_version();

CREATE CONSTRAINT TRIGGER signing_requests_portal_version AFTER INSERT OR UPDATE OR DELETE ON signing_requests
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_portal_version();

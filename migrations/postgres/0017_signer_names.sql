-- A client manager's home page names the signer of each colleague's signing request, so a
-- contact's name now shows on other contacts' kept home pages (migration 0010): renaming a
-- contact bumps the firm's portal version, as moving one between accounts does (0014).
CREATE CONSTRAINT TRIGGER contacts_name_portal_version
AFTER UPDATE OF name ON contacts
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (OLD.name IS DISTINCT FROM NEW.name)
EXECUTE FUNCTION bump_portal_version();

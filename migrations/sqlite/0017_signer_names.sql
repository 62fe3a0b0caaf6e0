-- A client manager's home page names the signer of each colleague's signing request, so a
-- contact's name now shows on other contacts' kept home pages (migration 0010): renaming a
-- contact bumps the firm's portal version, as moving one between accounts does (0014).
CREATE TRIGGER contacts_name_portal_version AFTER UPDATE OF name ON contacts
WHEN OLD.name IS NOT NEW.name
BEGIN
    UPDATE portal_versions SET version = version + 1 WHERE firm_id = NEW.firm_id;
END;

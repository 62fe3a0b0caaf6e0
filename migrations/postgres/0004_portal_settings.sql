-- A firm's portal settings, edited through PATCH /api/v1/portal.
ALTER TABLE firms ADD COLUMN display_name TEXT;
-- JSON array of {"label": ..., "url": "https://..."}
ALTER TABLE firms ADD COLUMN menu_links TEXT NOT NULL DEFAULT '[]';
ALTER TABLE firms ADD COLUMN billing_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE firms ADD COLUMN esign_enabled BOOLEAN NOT NULL DEFAULT TRUE;

-- 005_access_host_keys: the SSH host keys the provider's agent reported with a rental's access (issue 14),
-- one "type base64" line each, joined by newlines, so a renter's client can pin them. Reports made before
-- this version carry none ('').
ALTER TABLE access_reports ADD COLUMN host_keys TEXT COLLATE "C" NOT NULL DEFAULT '';

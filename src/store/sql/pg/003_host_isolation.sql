-- 003_host_isolation: how a host isolates its rentals (issue 12) -- 'container' (an instance of an image
-- the renter picks) or 'account' (a Unix account) -- and the instance images it allows, comma separated,
-- the default first ('' for account hosts). Hosts registered before this version are account hosts.
ALTER TABLE hosts ADD COLUMN isolation TEXT COLLATE "C" NOT NULL DEFAULT 'account' CHECK (isolation IN ('account', 'container'));
ALTER TABLE hosts ADD COLUMN images TEXT COLLATE "C" NOT NULL DEFAULT '' CHECK (length(images) < 160);

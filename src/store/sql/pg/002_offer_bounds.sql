-- 002_offer_bounds: what an offer signs since the audit (issue 8): how many rentals of its machine may be
-- live at once, the monitor key it accepts and the highest platform fee it accepts. Rows listed before
-- this version cannot be opened on an escrow that checks them; they keep these neutral defaults and
-- expire as they are.
ALTER TABLE offers ADD COLUMN capacity BIGINT NOT NULL DEFAULT 1 CHECK (capacity BETWEEN 1 AND 65535);
ALTER TABLE offers ADD COLUMN monitor TEXT COLLATE "C" NOT NULL DEFAULT '0x0000000000000000000000000000000000000000';
ALTER TABLE offers ADD COLUMN max_fee_bps BIGINT NOT NULL DEFAULT 0 CHECK (max_fee_bps BETWEEN 0 AND 10000);

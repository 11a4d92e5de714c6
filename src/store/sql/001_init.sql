-- 001_init.sql — first schema of the marketplace store (SQLite dialect).
--
-- Conventions: money = TEXT decimal of a uint256; times = INTEGER unix
-- seconds; addresses = TEXT "0x" + 40 lowercase hex; hashes = TEXT "0x" + 64
-- lowercase hex; uint64 ids that may exceed 2^63 (machine_id) are stored as
-- their int64 bit pattern. Inputs are checked by src/store/store.c before
-- they get here; the CHECKs below are a second line. STRICT tables refuse
-- values of the wrong type. docs/store.md explains each table.

CREATE TABLE providers (
	address        TEXT PRIMARY KEY,
	first_seen     INTEGER NOT NULL,
	last_heartbeat INTEGER NOT NULL,
	endpoint       TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE hosts (
	machine_id     INTEGER PRIMARY KEY,
	provider       TEXT NOT NULL REFERENCES providers(address),
	country        TEXT NOT NULL DEFAULT '',
	region         TEXT NOT NULL DEFAULT '',
	net_up_mbps    INTEGER NOT NULL DEFAULT 0,
	net_down_mbps  INTEGER NOT NULL DEFAULT 0,
	cpu_cores      INTEGER NOT NULL DEFAULT 0,
	ram_gib        INTEGER NOT NULL DEFAULT 0,
	disk_gib       INTEGER NOT NULL DEFAULT 0,
	driver_version TEXT NOT NULL DEFAULT '',
	cuda_version   TEXT NOT NULL DEFAULT '',
	simulated      INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
	updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX hosts_provider ON hosts(provider);

CREATE TABLE gpus (
	machine_id     INTEGER NOT NULL REFERENCES hosts(machine_id) ON DELETE CASCADE,
	idx            INTEGER NOT NULL CHECK (idx BETWEEN 0 AND 63),
	model          TEXT NOT NULL,
	vram_mib       INTEGER NOT NULL,
	fp32_mtflops   INTEGER NOT NULL,
	fp16_mtflops   INTEGER NOT NULL,
	mem_bw_gbps    INTEGER NOT NULL,
	bench_verified INTEGER NOT NULL DEFAULT 0 CHECK (bench_verified IN (0, 1)),
	bench_at       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (machine_id, idx)
) STRICT;

-- A signed EIP-712 Offer (docs/escrow.md); rate and nonce as decimal text.
CREATE TABLE offers (
	offer_hash     TEXT PRIMARY KEY,
	machine_id     INTEGER NOT NULL,
	provider       TEXT NOT NULL,
	payout         TEXT NOT NULL,
	token          TEXT NOT NULL,
	arbiter        TEXT NOT NULL,
	rate           TEXT NOT NULL,
	min_secs       INTEGER NOT NULL,
	max_secs       INTEGER NOT NULL,
	interruptible  INTEGER NOT NULL CHECK (interruptible IN (0, 1)),
	notice_secs    INTEGER NOT NULL,
	grace_secs     INTEGER NOT NULL,
	dispute_secs   INTEGER NOT NULL,
	spec_hash      TEXT NOT NULL,
	expiry         INTEGER NOT NULL,
	nonce          TEXT NOT NULL,
	signature      TEXT NOT NULL,
	token_symbol   TEXT NOT NULL,
	token_decimals INTEGER NOT NULL CHECK (token_decimals BETWEEN 0 AND 36),
	status         TEXT NOT NULL CHECK (status IN ('active', 'cancelled', 'expired')),
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX offers_status_expiry ON offers(status, expiry);
CREATE INDEX offers_provider_nonce ON offers(provider, nonce);

-- SIWE (EIP-4361) nonces: single use, expiring.
CREATE TABLE auth_nonces (
	nonce          TEXT PRIMARY KEY,
	issued_at      INTEGER NOT NULL,
	expires_at     INTEGER NOT NULL,
	used_at        INTEGER
) STRICT;
CREATE INDEX auth_nonces_expires ON auth_nonces(expires_at);

-- Sessions: only the SHA-256 of the bearer token is kept.
CREATE TABLE sessions (
	token_hash     TEXT PRIMARY KEY,
	address        TEXT NOT NULL,
	created_at     INTEGER NOT NULL,
	expires_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_expires ON sessions(expires_at);

-- Mirror of on-chain rentals, rebuilt from rental_events.
CREATE TABLE rentals (
	chain_id       INTEGER NOT NULL,
	id             INTEGER NOT NULL,
	offer_hash     TEXT,
	renter         TEXT NOT NULL,
	provider       TEXT NOT NULL,
	payout         TEXT NOT NULL,
	token          TEXT NOT NULL,
	rate           TEXT NOT NULL,
	fee_bps        INTEGER NOT NULL CHECK (fee_bps BETWEEN 0 AND 10000),
	deposited      TEXT NOT NULL,
	claimed        TEXT NOT NULL,
	provider_paid  TEXT NOT NULL,
	fee_paid       TEXT NOT NULL,
	refunded       TEXT NOT NULL,
	state          TEXT NOT NULL
		CHECK (state IN ('open', 'ended', 'disputed', 'resolved', 'closed')),
	opened_at      INTEGER NOT NULL,
	paid_until     INTEGER NOT NULL,
	ended_at       INTEGER NOT NULL DEFAULT 0,
	opened_block   INTEGER NOT NULL,
	opened_tx      TEXT NOT NULL,
	last_block     INTEGER NOT NULL,
	extra          TEXT NOT NULL DEFAULT '{}',
	PRIMARY KEY (chain_id, id)
) STRICT;
CREATE INDEX rentals_renter ON rentals(chain_id, renter, opened_at, id);
CREATE INDEX rentals_provider ON rentals(chain_id, provider, opened_at, id);

-- Journal of escrow logs; (chain_id, tx_hash, log_index) identifies a log.
CREATE TABLE rental_events (
	chain_id       INTEGER NOT NULL,
	block_number   INTEGER NOT NULL,
	block_hash     TEXT NOT NULL,
	block_time     INTEGER NOT NULL,
	tx_hash        TEXT NOT NULL,
	log_index      INTEGER NOT NULL,
	rental_id      INTEGER NOT NULL DEFAULT 0,
	kind           TEXT NOT NULL,
	data           TEXT NOT NULL DEFAULT '{}',
	PRIMARY KEY (chain_id, tx_hash, log_index)
) STRICT;
CREATE INDEX rental_events_rental ON rental_events(chain_id, rental_id, block_number, log_index);
CREATE INDEX rental_events_block ON rental_events(chain_id, block_number);

CREATE TABLE indexer_progress (
	chain_id       INTEGER NOT NULL,
	contract       TEXT NOT NULL,
	block_number   INTEGER NOT NULL,
	block_hash     TEXT NOT NULL,
	updated_at     INTEGER NOT NULL,
	PRIMARY KEY (chain_id, contract)
) STRICT;

CREATE TABLE recent_blocks (
	chain_id       INTEGER NOT NULL,
	number         INTEGER NOT NULL,
	hash           TEXT NOT NULL,
	PRIMARY KEY (chain_id, number)
) STRICT;

CREATE TABLE ratings (
	chain_id       INTEGER NOT NULL,
	rental_id      INTEGER NOT NULL,
	renter         TEXT NOT NULL,
	stars          INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
	comment        TEXT NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	PRIMARY KEY (chain_id, rental_id)
) STRICT;

CREATE TABLE probes (
	id             INTEGER PRIMARY KEY,
	target         TEXT NOT NULL,
	at             INTEGER NOT NULL,
	ok             INTEGER NOT NULL CHECK (ok IN (0, 1)),
	latency_ms     INTEGER NOT NULL,
	period_s       INTEGER NOT NULL CHECK (period_s BETWEEN 1 AND 86400)
) STRICT;
CREATE INDEX probes_target_at ON probes(target, at);

CREATE TABLE access_reports (
	chain_id       INTEGER NOT NULL,
	rental_id      INTEGER NOT NULL,
	granted_at     INTEGER NOT NULL,
	host           TEXT NOT NULL,
	port           INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
	user           TEXT NOT NULL,
	PRIMARY KEY (chain_id, rental_id)
) STRICT;

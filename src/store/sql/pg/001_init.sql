-- 001_init.sql — first schema of the marketplace store (PostgreSQL dialect: src/store/sql/001_init.sql in PostgreSQL's words).
--
-- Conventions: money = TEXT decimal of a uint256; times = BIGINT unix
-- seconds; addresses = TEXT "0x" + 40 lowercase hex; hashes = TEXT "0x" + 64
-- lowercase hex; uint64 ids that may exceed 2^63 (machine_id) are stored as
-- their int64 bit pattern. Inputs are checked by src/store/store.c before
-- they get here; the CHECKs below are a second line. Every integer is BIGINT
-- (SQLite's INTEGER is 64-bit); `user` is quoted (a reserved word here).
-- Text compares byte-wise (COLLATE "C"), as SQLite's BINARY does, so both
-- backends order alike. docs/store.md explains each table.

CREATE TABLE providers (
	address        TEXT COLLATE "C" PRIMARY KEY,
	first_seen     BIGINT NOT NULL,
	last_heartbeat BIGINT NOT NULL,
	endpoint       TEXT COLLATE "C" NOT NULL DEFAULT ''
);

CREATE TABLE hosts (
	machine_id     BIGINT PRIMARY KEY,
	provider       TEXT COLLATE "C" NOT NULL REFERENCES providers(address),
	country        TEXT COLLATE "C" NOT NULL DEFAULT '',
	region         TEXT COLLATE "C" NOT NULL DEFAULT '',
	net_up_mbps    BIGINT NOT NULL DEFAULT 0,
	net_down_mbps  BIGINT NOT NULL DEFAULT 0,
	cpu_cores      BIGINT NOT NULL DEFAULT 0,
	ram_gib        BIGINT NOT NULL DEFAULT 0,
	disk_gib       BIGINT NOT NULL DEFAULT 0,
	driver_version TEXT COLLATE "C" NOT NULL DEFAULT '',
	cuda_version   TEXT COLLATE "C" NOT NULL DEFAULT '',
	simulated      BIGINT NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
	updated_at     BIGINT NOT NULL
);
CREATE INDEX hosts_provider ON hosts(provider);

CREATE TABLE gpus (
	machine_id     BIGINT NOT NULL REFERENCES hosts(machine_id) ON DELETE CASCADE,
	idx            BIGINT NOT NULL CHECK (idx BETWEEN 0 AND 63),
	model          TEXT COLLATE "C" NOT NULL,
	vram_mib       BIGINT NOT NULL,
	fp32_mtflops   BIGINT NOT NULL,
	fp16_mtflops   BIGINT NOT NULL,
	mem_bw_gbps    BIGINT NOT NULL,
	bench_verified BIGINT NOT NULL DEFAULT 0 CHECK (bench_verified IN (0, 1)),
	bench_at       BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (machine_id, idx)
);

-- A signed EIP-712 Offer (docs/escrow.md); rate and nonce as decimal text.
CREATE TABLE offers (
	offer_hash     TEXT COLLATE "C" PRIMARY KEY,
	machine_id     BIGINT NOT NULL,
	provider       TEXT COLLATE "C" NOT NULL,
	payout         TEXT COLLATE "C" NOT NULL,
	token          TEXT COLLATE "C" NOT NULL,
	arbiter        TEXT COLLATE "C" NOT NULL,
	rate           TEXT COLLATE "C" NOT NULL,
	min_secs       BIGINT NOT NULL,
	max_secs       BIGINT NOT NULL,
	interruptible  BIGINT NOT NULL CHECK (interruptible IN (0, 1)),
	notice_secs    BIGINT NOT NULL,
	grace_secs     BIGINT NOT NULL,
	dispute_secs   BIGINT NOT NULL,
	spec_hash      TEXT COLLATE "C" NOT NULL,
	expiry         BIGINT NOT NULL,
	nonce          TEXT COLLATE "C" NOT NULL,
	signature      TEXT COLLATE "C" NOT NULL,
	token_symbol   TEXT COLLATE "C" NOT NULL,
	token_decimals BIGINT NOT NULL CHECK (token_decimals BETWEEN 0 AND 36),
	status         TEXT COLLATE "C" NOT NULL CHECK (status IN ('active', 'cancelled', 'expired')),
	created_at     BIGINT NOT NULL,
	updated_at     BIGINT NOT NULL
);
CREATE INDEX offers_status_expiry ON offers(status, expiry);
CREATE INDEX offers_provider_nonce ON offers(provider, nonce);

-- SIWE (EIP-4361) nonces: single use, expiring.
CREATE TABLE auth_nonces (
	nonce          TEXT COLLATE "C" PRIMARY KEY,
	issued_at      BIGINT NOT NULL,
	expires_at     BIGINT NOT NULL,
	used_at        BIGINT
);
CREATE INDEX auth_nonces_expires ON auth_nonces(expires_at);

-- Sessions: only the SHA-256 of the bearer token is kept.
CREATE TABLE sessions (
	token_hash     TEXT COLLATE "C" PRIMARY KEY,
	address        TEXT COLLATE "C" NOT NULL,
	created_at     BIGINT NOT NULL,
	expires_at     BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- Mirror of on-chain rentals, rebuilt from rental_events.
CREATE TABLE rentals (
	chain_id       BIGINT NOT NULL,
	id             BIGINT NOT NULL,
	offer_hash     TEXT COLLATE "C",
	renter         TEXT COLLATE "C" NOT NULL,
	provider       TEXT COLLATE "C" NOT NULL,
	payout         TEXT COLLATE "C" NOT NULL,
	token          TEXT COLLATE "C" NOT NULL,
	rate           TEXT COLLATE "C" NOT NULL,
	fee_bps        BIGINT NOT NULL CHECK (fee_bps BETWEEN 0 AND 10000),
	deposited      TEXT COLLATE "C" NOT NULL,
	claimed        TEXT COLLATE "C" NOT NULL,
	provider_paid  TEXT COLLATE "C" NOT NULL,
	fee_paid       TEXT COLLATE "C" NOT NULL,
	refunded       TEXT COLLATE "C" NOT NULL,
	state          TEXT COLLATE "C" NOT NULL
		CHECK (state IN ('open', 'ended', 'disputed', 'resolved', 'closed')),
	opened_at      BIGINT NOT NULL,
	paid_until     BIGINT NOT NULL,
	ended_at       BIGINT NOT NULL DEFAULT 0,
	opened_block   BIGINT NOT NULL,
	opened_tx      TEXT COLLATE "C" NOT NULL,
	last_block     BIGINT NOT NULL,
	extra          TEXT COLLATE "C" NOT NULL DEFAULT '{}',
	PRIMARY KEY (chain_id, id)
);
CREATE INDEX rentals_renter ON rentals(chain_id, renter, opened_at, id);
CREATE INDEX rentals_provider ON rentals(chain_id, provider, opened_at, id);

-- Journal of escrow logs; (chain_id, tx_hash, log_index) identifies a log.
CREATE TABLE rental_events (
	chain_id       BIGINT NOT NULL,
	block_number   BIGINT NOT NULL,
	block_hash     TEXT COLLATE "C" NOT NULL,
	block_time     BIGINT NOT NULL,
	tx_hash        TEXT COLLATE "C" NOT NULL,
	log_index      BIGINT NOT NULL,
	rental_id      BIGINT NOT NULL DEFAULT 0,
	kind           TEXT COLLATE "C" NOT NULL,
	data           TEXT COLLATE "C" NOT NULL DEFAULT '{}',
	PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX rental_events_rental ON rental_events(chain_id, rental_id, block_number, log_index);
CREATE INDEX rental_events_block ON rental_events(chain_id, block_number);

CREATE TABLE indexer_progress (
	chain_id       BIGINT NOT NULL,
	contract       TEXT COLLATE "C" NOT NULL,
	block_number   BIGINT NOT NULL,
	block_hash     TEXT COLLATE "C" NOT NULL,
	updated_at     BIGINT NOT NULL,
	PRIMARY KEY (chain_id, contract)
);

CREATE TABLE recent_blocks (
	chain_id       BIGINT NOT NULL,
	number         BIGINT NOT NULL,
	hash           TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (chain_id, number)
);

CREATE TABLE ratings (
	chain_id       BIGINT NOT NULL,
	rental_id      BIGINT NOT NULL,
	renter         TEXT COLLATE "C" NOT NULL,
	stars          BIGINT NOT NULL CHECK (stars BETWEEN 1 AND 5),
	comment        TEXT COLLATE "C" NOT NULL DEFAULT '',
	created_at     BIGINT NOT NULL,
	PRIMARY KEY (chain_id, rental_id)
);

CREATE TABLE probes (
	id             BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	target         TEXT COLLATE "C" NOT NULL,
	at             BIGINT NOT NULL,
	ok             BIGINT NOT NULL CHECK (ok IN (0, 1)),
	latency_ms     BIGINT NOT NULL,
	period_s       BIGINT NOT NULL CHECK (period_s BETWEEN 1 AND 86400)
);
CREATE INDEX probes_target_at ON probes(target, at);

CREATE TABLE access_reports (
	chain_id       BIGINT NOT NULL,
	rental_id      BIGINT NOT NULL,
	granted_at     BIGINT NOT NULL,
	host           TEXT COLLATE "C" NOT NULL,
	port           BIGINT NOT NULL CHECK (port BETWEEN 1 AND 65535),
	"user"         TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (chain_id, rental_id)
);

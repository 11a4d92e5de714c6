-- 006_replicas: what several server processes on one database share (issue 15); see
-- src/store/sql/006_replicas.sql. Appends to `changes` take a table lock to their commit
-- (postgres.c), so `seq` order is commit order and a reader polling `seq > last` misses none.
CREATE TABLE changes (
	seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	provider       TEXT COLLATE "C" NOT NULL,
	origin         TEXT COLLATE "C" NOT NULL,
	at             BIGINT NOT NULL
);
CREATE INDEX changes_at ON changes(at);

CREATE TABLE server_secrets (
	name           TEXT COLLATE "C" PRIMARY KEY,
	value          TEXT COLLATE "C" NOT NULL
);

-- 006_replicas: what several server processes on one database share (issue 15). `changes`: a log of
-- whose listing changed (a provider address, or '*' for everything), appended by the replica that made
-- the change and read by the others in `seq` order so their in-memory search follows within a second;
-- `origin` is the appending process's random id (it skips its own). Rows older than an hour are purged.
-- `server_secrets`: keys every replica must agree on (the SIWE nonce MAC key), made once by the first.
CREATE TABLE changes (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	provider       TEXT NOT NULL,
	origin         TEXT NOT NULL,
	at             INTEGER NOT NULL
) STRICT;
CREATE INDEX changes_at ON changes(at);

CREATE TABLE server_secrets (
	name           TEXT PRIMARY KEY,
	value          TEXT NOT NULL
) STRICT;

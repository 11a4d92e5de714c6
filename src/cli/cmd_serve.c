/*
 * cmd_serve.c — `flopmarket serve`: runs the marketplace server (src/server) until SIGINT/SIGTERM.
 *
 *   flopmarket [--rpc-url URL] serve [--listen ADDR:PORT] [--db URL] [--deployment FILE]
 *       [--escrow 0xADDR --chain-id N --start-block N] [--confirmations N] [--batch-blocks N]
 *       [--token-usd SYM=PRICE,...] [--price-feeds SYM=0xFEED,...] [--feed-max-age-s N]
 *       [--tokens 0xADDR,...] [--native-symbol SYM]
 *       [--monitor-keystore FILE] [--monitor-interval-ms N] [--indexer-poll-ms N]
 *       [--siwe-domain HOST:PORT] [--siwe-origin URL] [--body-max BYTES] [--rate-per-min N]
 *       [--max-conns N] [--threads N] [--min-dispute-secs N] [--session-ttl-s N] [--nonce-ttl-s N]
 *       [--cache-max-age-s N] [--web-dir DIR] [--chain-name NAME] [--public-rpc-url URL] [--explorer-url URL]
 *       [--tls-cert FILE --tls-key FILE]
 *       [--relayer-keystore FILE [--relayer-journal FILE] [--relay-margin-pct N] [--relay-pending-max N]
 *        [--relay-hourly-max N] [--relay-min-deadline-s N] [--relay-stuck-ms N]]
 *
 * Each flag may also come from the environment as FLOPMARKET_SERVE_<FLAG> (dashes as underscores).
 * The escrow address, chain id, start block and fee come from the deployment file (escrow deploy);
 * accepted tokens are the native coin plus every other contract of the deployment and --tokens, their
 * symbol and decimals read from chain at startup; USD prices are fixed per symbol (--token-usd,
 * exact to 6 decimals) or, for receipts, read from a Chainlink-AggregatorV3-shaped feed per symbol at
 * each payment's block (--price-feeds; a feed wins over a fixed price). The monitor key is read from a v3 keystore whose passphrase comes from
 * FLOPMARKET_MONITOR_PASSPHRASE (never argv). With --relayer-keystore the server also relays gasless
 * rentals (src/server/relayer.h), paying gas from that account (passphrase: FLOPMARKET_RELAYER_PASSPHRASE)
 * and charging its fee in the rental's token. With port 0 the bound port is printed on stdout as
 * `listening on http://ADDR:PORT` (tests read it).
 */
#include "core/file.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/u256.h"
#include "escrow/client.h"
#include "escrow/deploy.h"
#include "escrow/escrow.h"
#include "eth/keystore.h"
#include "eth/rpc.h"
#include "eth/secp.h"
#include "server/pricefeed.h"
#include "server/server.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cfg_key serve_keys[] = {
	{ "listen", "127.0.0.1:8080", "address:port to listen on (port 0: any free port)" },
	{ "db", "sqlite:flopmarket.db", "store URL (sqlite:PATH)" },
	{ "deployment", NULL, "deployment file written by the escrow deploy" },
	{ "escrow", NULL, "escrow address (without a deployment file)" },
	{ "chain_id", NULL, "chain id (without a deployment file)" },
	{ "start_block", NULL, "first block to index (default: the deployment's block)" },
	{ "fee_bps", NULL, "platform fee shown in prices (default: the deployment's)" },
	{ "confirmations", "2", "blocks on top of an event before it is indexed" },
	{ "batch_blocks", "2000", "blocks per eth_getLogs batch" },
	{ "token_usd", "", "fixed USD prices: SYMBOL=PRICE,..." },
	{ "price_feeds", "", "USD price feeds (AggregatorV3) for receipts: SYMBOL=0xFEED,... (over token_usd)" },
	{ "feed_max_age_s", "86400", "a feed round older than this at the payment block is stale" },
	{ "tokens", "", "more accepted ERC-20 tokens: 0xADDR,..." },
	{ "native_symbol", "ETH", "symbol of the native coin (18 decimals)" },
	{ "monitor_keystore", NULL, "v3 keystore of the monitor key (passphrase: FLOPMARKET_MONITOR_PASSPHRASE)" },
	{ "monitor_interval_ms", "30000", "uptime probe period (0: monitor off)" },
	{ "indexer_poll_ms", "1000", "indexer pause when caught up" },
	{ "siwe_domain", "", "expected SIWE domain (default: the listen address)" },
	{ "siwe_origin", "", "expected SIWE URI origin (default: http://domain)" },
	{ "body_max", "65536", "request body cap, bytes" },
	{ "rate_per_min", "600", "requests per client address per minute (0: unlimited)" },
	{ "max_conns", "512", "concurrent connections" },
	{ "threads", "4", "HTTP worker threads" },
	{ "min_dispute_secs", "0", "offers must give at least this dispute window" },
	{ "offer_stale_s", "180", "offers leave search this long after their host's last heartbeat" },
	{ "session_ttl_s", "86400", "session lifetime" },
	{ "nonce_ttl_s", "600", "SIWE nonce lifetime" },
	{ "cache_max_age_s", "0", "Cache-Control max-age of search and detail answers (0: revalidate each time)" },
	{ "web_dir", "", "serve the web UI from this folder (development) instead of the embedded files" },
	{ "chain_name", "", "the chain's name shown by the web UI and given to wallets adding it" },
	{ "public_rpc_url", "", "an RPC URL of the chain that wallets may add (web UI; not the server's own)" },
	{ "explorer_url", "", "block explorer base URL: the web UI links transactions as URL/tx/HASH" },
	{ "tls_cert", "", "serve HTTPS: the certificate chain (PEM file)" },
	{ "tls_key", "", "serve HTTPS: its private key (PEM file)" },
	{ "relayer_keystore", NULL, "relay gasless rentals, paying gas from this v3 keystore's account"
				    " (passphrase: FLOPMARKET_RELAYER_PASSPHRASE)" },
	{ "relayer_journal", "", "the relayer's queue and transaction journal (default: DB.relay beside a SQLite db)" },
	{ "relay_margin_pct", "25", "relayer fee above its gas cost at the current fee level, percent" },
	{ "relay_pending_max", "3", "relayed intents in flight per renter" },
	{ "relay_hourly_max", "30", "relayed intents per renter per hour" },
	{ "relay_min_deadline_s", "120", "an intent must stay valid at least this long when it arrives" },
	{ "relay_stuck_ms", "0", "replace a relayed transaction unmined this long (0: 90 s)" },
};
#define N_SERVE_KEYS (sizeof serve_keys / sizeof serve_keys[0])

static int serve_usage(void)
{
	fprintf(stderr, "usage: flopmarket serve [--FLAG VALUE]...\n\nflags (env FLOPMARKET_SERVE_<FLAG>):\n");
	for (size_t i = 0; i < N_SERVE_KEYS; i++)
		fprintf(stderr, "  --%-20s %s\n", serve_keys[i].name, serve_keys[i].help);
	return EXIT_USAGE;
}

static int get_u64(const struct cfg *c, const char *k, uint64_t *out, uint64_t max, struct err *e)
{
	int rc = cfg_get_u64(c, k, out, e);
	if (!rc && *out > max)
		return err_set(e, ERR_RANGE, "%s: at most %" PRIu64, k, max);
	return rc;
}

/* Reads symbol() and decimals() of an ERC-20 into t. */
static int token_read(struct rpc *r, struct srv_token *t, struct err *e)
{
	struct buf cd, ret;
	u256 dec;
	uint64_t d;
	int rc;

	buf_init(&cd, ESCROW_CD_MAX);
	buf_init(&ret, ESCROW_RET_MAX);
	if ((rc = erc20_cd_getter(&cd, "symbol", e)) ||
	    (rc = escrow_eth_call(r, &ret, NULL, &t->address, cd.data, cd.len, e)) ||
	    (rc = escrow_ret_string(t->symbol, sizeof t->symbol, ret.data, ret.len, e)))
		goto out;
	buf_reset(&cd);
	if ((rc = erc20_cd_getter(&cd, "decimals", e)) || (rc = escrow_call_u256(r, &dec, &t->address, &cd, e)))
		goto out;
	if (u256_to_u64(&d, &dec) || d > 36) {
		rc = err_set(e, ERR_RANGE, "token decimals above 36");
		goto out;
	}
	t->decimals = (uint8_t)d;
out:
	buf_release(&cd);
	buf_release(&ret);
	return rc;
}

/* Applies "SYM=PRICE,..." to the tokens' usd_micro. */
static int apply_prices(struct srv_config *c, const char *spec, struct err *e)
{
	char buf[CFG_VALUE_MAX + 1];
	char *save = NULL;

	snprintf(buf, sizeof buf, "%s", spec);
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		u256 v;
		uint64_t micro;
		bool found = false;
		int rc;
		if (!eq)
			return err_set(e, ERR_INVALID, "token_usd: '%s' is not SYMBOL=PRICE", item);
		*eq = '\0';
		if ((rc = u256_parse_units(&v, eq + 1, 6, e)) || u256_to_u64(&micro, &v)) {
			err_wrap(e, "token_usd %s", item);
			return rc ? rc : ERR_RANGE;
		}
		for (size_t i = 0; i < c->n_tokens; i++)
			if (strcasecmp(c->tokens[i].symbol, item) == 0) {
				c->tokens[i].usd_micro = micro;
				found = true;
			}
		if (!found)
			log_warn("token_usd: no accepted token with this symbol", "symbol=%s", item);
	}
	return 0;
}

/* Applies "SYM=0xFEED,..." to the tokens' feed (src/server/pricefeed.h). */
static int apply_feeds(struct srv_config *c, const char *spec, struct err *e)
{
	struct pricefeed_entry f[PRICEFEED_SPEC_MAX];
	size_t n = 0;
	int rc;

	if ((rc = pricefeed_parse_spec(f, PRICEFEED_SPEC_MAX, &n, spec, e)))
		return rc;
	for (size_t k = 0; k < n; k++) {
		bool found = false;
		for (size_t i = 0; i < c->n_tokens; i++)
			if (strcasecmp(c->tokens[i].symbol, f[k].symbol) == 0) {
				c->tokens[i].feed = f[k].feed;
				c->tokens[i].has_feed = true;
				found = true;
			}
		if (!found)
			log_warn("price_feeds: no accepted token with this symbol", "symbol=%s", f[k].symbol);
	}
	return 0;
}

/* 0 when the escrow lets new rentals use `token` (tokenAllowed); ERR_STATE with a message otherwise. */
static int token_allowed(struct rpc *r, const struct eth_address *escrow, const struct srv_token *t,
			 struct err *e)
{
	struct buf cd;
	u256 v;
	int rc;

	buf_init(&cd, ESCROW_CD_MAX);
	rc = escrow_cd_token_allowed(&cd, &t->address, e);
	if (!rc)
		rc = escrow_call_u256(r, &v, escrow, &cd, e);
	buf_release(&cd);
	if (!rc && u256_is_zero(&v))
		rc = err_set(e, ERR_STATE, "%s is not allowed by the escrow (its owner allows tokens with "
			     "setTokenAllowed; docs/escrow.md \"Tokens\")", t->symbol);
	return rc;
}

/* Reads the escrow's current monitor() into c (offers must name it). */
static int read_escrow_monitor(struct srv_config *c, struct rpc *r, struct err *e)
{
	struct buf cd, ret;
	int rc;

	buf_init(&cd, ESCROW_CD_MAX);
	buf_init(&ret, ESCROW_RET_MAX);
	rc = escrow_cd_getter(&cd, "monitor", e);
	if (!rc)
		rc = escrow_eth_call(r, &ret, NULL, &c->escrow, cd.data, cd.len, e);
	if (!rc)
		rc = escrow_ret_address(&c->escrow_monitor, ret.data, ret.len, e);
	if (!rc)
		c->has_escrow_monitor = true;
	else
		err_wrap(e, "escrow monitor()");
	buf_release(&cd);
	buf_release(&ret);
	return rc;
}

static int add_token(struct srv_config *c, struct rpc *r, const struct eth_address *a, struct err *e)
{
	struct srv_token t;
	int rc;

	if (c->n_tokens == SRV_TOKENS_MAX)
		return err_set(e, ERR_TOO_BIG, "tokens: at most %d", SRV_TOKENS_MAX);
	memset(&t, 0, sizeof t);
	t.address = *a;
	if ((rc = token_read(r, &t, e)) || (rc = token_allowed(r, &c->escrow, &t, e))) {
		char at[ADDRESS_STR_MAX];
		address_to_checksum(at, a);
		err_wrap(e, "token %s", at);
		return rc;
	}
	c->tokens[c->n_tokens++] = t;
	return 0;
}

/* Decrypts the v3 keystore at `path` with the passphrase in env `pass_env` into key (and its address). */
static int load_key(uint8_t key[32], struct eth_address *addr, const char *path, const char *what,
		    const char *pass_env, struct err *e)
{
	const char *pass = getenv(pass_env);
	struct buf text;
	int rc;

	if (!pass)
		return err_set(e, ERR_INVALID, "%s: set %s", what, pass_env);
	buf_init(&text, KEYSTORE_JSON_MAX);
	if ((rc = file_read(&text, path, e))) {
		buf_release(&text);
		err_wrap(e, "%s", what);
		return rc;
	}
	rc = keystore_decrypt(key, buf_cstr(&text), text.len, pass, e);
	buf_release(&text);
	if (rc || (rc = secp_address(addr, key, e))) {
		sodium_memzero(key, 32);
		err_wrap(e, "%s", what);
		return rc;
	}
	return 0;
}

static int load_monitor(struct srv_config *c, const char *path, struct err *e)
{
	int rc = load_key(c->monitor_seckey, &c->monitor, path, "monitor_keystore", "FLOPMARKET_MONITOR_PASSPHRASE", e);

	c->has_monitor_key = rc == 0;
	return rc;
}

/* The gasless relayer: its key, its journal (default: next to a SQLite store), its knobs. */
static int relayer_config(struct srv_config *c, const struct cfg *sc, struct err *e)
{
	const char *ks = cfg_get(sc, "relayer_keystore"), *j = cfg_get(sc, "relayer_journal");
	struct eth_address a;
	uint64_t v;
	int rc;

	if (!ks)
		return 0;
	if (!c->rpc_url[0])
		return err_set(e, ERR_INVALID, "relayer_keystore: the relayer needs the chain (rpc_url)");
	if ((rc = load_key(c->relay_seckey, &a, ks, "relayer_keystore", "FLOPMARKET_RELAYER_PASSPHRASE", e)))
		return rc;
	if (!j || !j[0]) {
		if (strncmp(c->db_url, "sqlite:", 7) != 0)
			return err_set(e, ERR_INVALID, "relayer_journal: required with a PostgreSQL store");
		if (snprintf(c->relay_journal, sizeof c->relay_journal, "%s.relay", c->db_url + 7) >=
		    (int)sizeof c->relay_journal)
			return err_set(e, ERR_TOO_BIG, "relayer_journal: path too long");
	} else if (snprintf(c->relay_journal, sizeof c->relay_journal, "%s", j) >= (int)sizeof c->relay_journal) {
		return err_set(e, ERR_TOO_BIG, "relayer_journal: path too long");
	}
#define KNOB(name, field, max)                                                                     \
	if ((rc = get_u64(sc, name, &v, max, e)))                                                  \
		return rc;                                                                         \
	c->field = (unsigned)v;
	KNOB("relay_margin_pct", relay_margin_pct, 1000);
	KNOB("relay_pending_max", relay_pending_max, 1000);
	KNOB("relay_hourly_max", relay_hourly_max, 100000);
	KNOB("relay_min_deadline_s", relay_min_deadline_s, 3600);
	KNOB("relay_stuck_ms", relay_stuck_ms, 3600000);
#undef KNOB
	if (c->relay_pending_max == 0 || c->relay_hourly_max == 0)
		return err_set(e, ERR_RANGE, "relay_pending_max / relay_hourly_max: at least 1");
	c->relay_on = true;
	return 0;
}

/* --listen ADDRESS:PORT into c->listen_addr and c->port. */
static int listen_parse(struct srv_config *c, const char *listen, struct err *e)
{
	const char *colon = listen ? strrchr(listen, ':') : NULL;
	char *end;
	unsigned long p;

	if (!colon || (size_t)(colon - listen) >= sizeof c->listen_addr)
		return err_set(e, ERR_INVALID, "listen: ADDRESS:PORT expected");
	memcpy(c->listen_addr, listen, (size_t)(colon - listen));
	c->listen_addr[colon - listen] = '\0';
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || p > 65535)
		return err_set(e, ERR_INVALID, "listen: bad port");
	c->port = (uint16_t)p;
	return 0;
}

/*
 * The store, the node and the escrow: --db, --rpc-url, the deployment file (into *d, *have_dep) or
 * --escrow and --chain-id, the start block, fee, confirmations and batch size.
 */
static int chain_config(struct srv_config *c, struct escrow_deployment *d, bool *have_dep, const struct cfg *sc,
			const struct cfg *g, struct err *e)
{
	const char *v;
	uint64_t u;
	int rc;

	if (strlen(cfg_get(sc, "db")) >= sizeof c->db_url)
		return err_set(e, ERR_TOO_BIG, "db: too long");
	snprintf(c->db_url, sizeof c->db_url, "%s", cfg_get(sc, "db"));
	v = cfg_get(g, "rpc_url");
	if (v && v[0]) {
		if (strlen(v) > RPC_URL_MAX)
			return err_set(e, ERR_TOO_BIG, "rpc_url: too long");
		snprintf(c->rpc_url, sizeof c->rpc_url, "%s", v);
	}
	if ((v = cfg_get(sc, "deployment"))) {
		if ((rc = escrow_deployment_load(d, v, e)) ||
		    (rc = escrow_deployment_find(&c->escrow, d, "RentalEscrow", e)))
			return rc;
		*have_dep = true;
		c->chain_id = d->chain_id;
		c->fee_bps = d->fee_bps;
		for (size_t i = 0; i < d->n; i++)
			if (strcmp(d->c[i].name, "RentalEscrow") == 0)
				c->start_block = d->c[i].block;
	}
	if ((v = cfg_get(sc, "escrow")) && (rc = address_parse(&c->escrow, v, e))) {
		err_wrap(e, "escrow");
		return rc;
	}
	if (cfg_get(sc, "chain_id") && (rc = get_u64(sc, "chain_id", &c->chain_id, INT64_MAX, e)))
		return rc;
	if (!*have_dep && (!cfg_get(sc, "escrow") || !cfg_get(sc, "chain_id")))
		return err_set(e, ERR_INVALID, "give --deployment FILE, or --escrow and --chain-id");
	if (cfg_get(sc, "start_block") && (rc = get_u64(sc, "start_block", &c->start_block, INT64_MAX, e)))
		return rc;
	if (cfg_get(sc, "fee_bps")) {
		if ((rc = get_u64(sc, "fee_bps", &u, ESCROW_MAX_FEE_BPS, e)))
			return rc;
		c->fee_bps = (uint16_t)u;
	}
	if ((rc = get_u64(sc, "confirmations", &c->confirmations, 1000, e)) ||
	    (rc = get_u64(sc, "batch_blocks", &c->batch_blocks, 100000, e)))
		return rc;
	if (c->batch_blocks == 0)
		return err_set(e, ERR_RANGE, "batch_blocks: at least 1");
	return 0;
}

/* True when s is an http(s) URL of printable ASCII without blanks, quotes or angle brackets. */
static bool url_ok(const char *s)
{
	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
		return false;
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '<' || *p == '>' || *p == '\\')
			return false;
	return true;
}

/* Reads a PEM file (a TLS certificate chain or key) into out, NUL-terminated. */
static int read_pem(char *out, size_t cap, const char *what, const char *path, struct err *e)
{
	struct buf b;
	int rc;

	buf_init(&b, cap - 1);
	if ((rc = file_read(&b, path, e))) {
		buf_release(&b);
		err_wrap(e, what);
		return rc;
	}
	if (!b.data || !strstr((const char *)b.data, "-----BEGIN ")) {
		sodium_memzero(b.data, b.len);
		buf_release(&b);
		return err_set(e, ERR_INVALID, "%s: %s is not a PEM file", what, path);
	}
	memcpy(out, b.data, b.len + 1);
	sodium_memzero(b.data, b.len);
	buf_release(&b);
	return 0;
}

/* HTTPS: both --tls-cert and --tls-key, or neither. */
static int tls_config(struct srv_config *c, const struct cfg *sc, struct err *e)
{
	const char *cert = cfg_get(sc, "tls_cert"), *key = cfg_get(sc, "tls_key");
	int rc;

	if (!cert[0] && !key[0])
		return 0;
	if (!cert[0] || !key[0])
		return err_set(e, ERR_INVALID, "give both --tls-cert and --tls-key");
	if ((rc = read_pem(c->tls_cert_pem, sizeof c->tls_cert_pem, "tls_cert", cert, e)))
		return rc;
	return read_pem(c->tls_key_pem, sizeof c->tls_key_pem, "tls_key", key, e);
}

/* The web UI's settings: its folder (development), and the chain facts the page shows wallets. */
static int web_config(struct srv_config *c, const struct cfg *sc, struct err *e)
{
	const char *dir = cfg_get(sc, "web_dir"), *name = cfg_get(sc, "chain_name");
	const char *rpc = cfg_get(sc, "public_rpc_url"), *explorer = cfg_get(sc, "explorer_url");

	if (strlen(dir) >= sizeof c->web_dir)
		return err_set(e, ERR_TOO_BIG, "web_dir: longer than %zu bytes", sizeof c->web_dir - 1);
	if (strlen(name) >= sizeof c->chain_name)
		return err_set(e, ERR_TOO_BIG, "chain_name: longer than %zu bytes", sizeof c->chain_name - 1);
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return err_set(e, ERR_INVALID, "chain_name: no control characters");
	if ((rpc[0] && (strlen(rpc) >= sizeof c->public_rpc_url || !url_ok(rpc))) ||
	    (explorer[0] && (strlen(explorer) >= sizeof c->explorer_url || !url_ok(explorer))))
		return err_set(e, ERR_INVALID, "public_rpc_url / explorer_url: an http(s) URL under %zu bytes",
			       sizeof c->explorer_url);
	snprintf(c->web_dir, sizeof c->web_dir, "%s", dir);
	snprintf(c->chain_name, sizeof c->chain_name, "%s", name);
	snprintf(c->public_rpc_url, sizeof c->public_rpc_url, "%s", rpc);
	snprintf(c->explorer_url, sizeof c->explorer_url, "%s", explorer);
	return tls_config(c, sc, e);
}

/* The numeric limits and periods, each with its cap, and the SIWE domain and origin. */
static int limits_config(struct srv_config *c, const struct cfg *sc, struct err *e)
{
	uint64_t u;
	int rc;

#define U32(key, field, max)                                                                          \
	do {                                                                                          \
		if ((rc = get_u64(sc, key, &u, max, e)))                                              \
			return rc;                                                                    \
		c->field = (__typeof__(c->field))u;                                                   \
	} while (0)
	U32("monitor_interval_ms", monitor_interval_ms, 86400000);
	U32("indexer_poll_ms", indexer_poll_ms, 600000);
	U32("body_max", body_max, 16 << 20);
	U32("rate_per_min", rate_per_min, 1000000);
	U32("max_conns", max_conns, 100000);
	U32("threads", threads, 256);
	U32("min_dispute_secs", min_dispute_secs, UINT32_MAX);
	U32("offer_stale_s", offer_stale_s, 30 * 86400);
	U32("session_ttl_s", session_ttl_s, 365 * 86400);
	U32("nonce_ttl_s", nonce_ttl_s, 86400);
	U32("feed_max_age_s", feed_max_age_s, 365 * 86400);
	U32("cache_max_age_s", cache_max_age_s, 3600);
#undef U32
	if (c->threads == 0 || c->max_conns == 0 || c->body_max == 0)
		return err_set(e, ERR_RANGE, "threads, max_conns and body_max must be positive");
	if (strlen(cfg_get(sc, "siwe_domain")) >= sizeof c->siwe_domain ||
	    strlen(cfg_get(sc, "siwe_origin")) >= sizeof c->siwe_origin)
		return err_set(e, ERR_TOO_BIG, "siwe_domain / siwe_origin too long");
	snprintf(c->siwe_domain, sizeof c->siwe_domain, "%s", cfg_get(sc, "siwe_domain"));
	snprintf(c->siwe_origin, sizeof c->siwe_origin, "%s", cfg_get(sc, "siwe_origin"));
	return web_config(c, sc, e);
}

/*
 * What needs the node: it is on the escrow's chain, the escrow's monitor, and the accepted tokens
 * beyond the native coin (the deployment's other contracts and --tokens, their symbol and decimals
 * read from chain).
 */
static int chain_tokens(struct srv_config *c, const struct escrow_deployment *d, bool have_dep,
			const struct cfg *sc, struct err *e)
{
	char list[CFG_VALUE_MAX + 1], *save = NULL;
	struct rpc r;
	uint64_t chain;
	int rc;

	if ((rc = rpc_init(&r, c->rpc_url, NULL, e)))
		return rc;
	if ((rc = rpc_chain_id(&r, &chain, e)))
		goto out;
	if (chain != c->chain_id) {
		rc = err_set(e, ERR_STATE, "wrong network: the node is chain %" PRIu64 ", the escrow is on %" PRIu64,
			     chain, c->chain_id);
		goto out;
	}
	if ((rc = read_escrow_monitor(c, &r, e)))
		goto out;
	for (size_t i = 0; have_dep && i < d->n; i++) {
		if (strcmp(d->c[i].name, "RentalEscrow") == 0 || strcmp(d->c[i].name, "DevPriceFeed") == 0)
			continue;
		if ((rc = add_token(c, &r, &d->c[i].address, e)))
			goto out;
	}
	snprintf(list, sizeof list, "%s", cfg_get(sc, "tokens"));
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct eth_address a;
		if ((rc = address_parse(&a, t, e))) {
			err_wrap(e, "tokens");
			goto out;
		}
		if ((rc = add_token(c, &r, &a, e)))
			goto out;
	}
out:
	rpc_release(&r);
	return rc;
}

/* Builds the server configuration from the serve settings and the global ones. */
static int build_config(struct srv_config *c, const struct cfg *sc, const struct cfg *g, struct err *e)
{
	struct escrow_deployment d;
	bool have_dep = false;
	const char *v;
	int rc;

	srv_config_defaults(c);
	if ((rc = listen_parse(c, cfg_get(sc, "listen"), e)) || (rc = chain_config(c, &d, &have_dep, sc, g, e)) ||
	    (rc = limits_config(c, sc, e)))
		return rc;
	/* Tokens: the native coin, then (with a node) the deployment's other contracts and --tokens. */
	memset(&c->tokens[0], 0, sizeof c->tokens[0]);
	v = cfg_get(sc, "native_symbol");
	if (!v || !v[0] || strlen(v) >= sizeof c->tokens[0].symbol)
		return err_set(e, ERR_INVALID, "native_symbol: 1..11 characters");
	snprintf(c->tokens[0].symbol, sizeof c->tokens[0].symbol, "%s", v);
	c->tokens[0].decimals = 18;
	c->n_tokens = 1;
	if (c->rpc_url[0] && (rc = chain_tokens(c, &d, have_dep, sc, e)))
		return rc;
	if ((rc = apply_prices(c, cfg_get(sc, "token_usd"), e)) ||
	    (rc = apply_feeds(c, cfg_get(sc, "price_feeds"), e)))
		return rc;
	if ((v = cfg_get(sc, "monitor_keystore")) && (rc = load_monitor(c, v, e)))
		return rc;
	return relayer_config(c, sc, e);
}

int cmd_serve(int argc, char **argv, struct cfg *cfg)
{
	struct cfg sc;
	struct srv_config *c = NULL;
	struct server *s = NULL;
	struct err e = { 0 };
	sigset_t set;
	int sig = 0, rc;

	if (cfg_init(&sc, serve_keys, N_SERVE_KEYS))
		return EXIT_FAIL;
	for (int i = 1; i < argc; i++) {
		char key[64];
		if (strcmp(argv[i], "--help") == 0 || strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
			cfg_release(&sc);
			return serve_usage();
		}
		snprintf(key, sizeof key, "%s", argv[i] + 2);
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_';
		if (cfg_set(&sc, key, argv[++i], CFG_FLAG, &e)) {
			fprintf(stderr, "flopmarket serve: --%s: %s\n", argv[i - 1] + 2, e.msg);
			cfg_release(&sc);
			return EXIT_USAGE;
		}
	}
	if (cfg_load_env(&sc, "FLOPMARKET_SERVE_", &e)) {
		fprintf(stderr, "flopmarket serve: %s\n", e.msg);
		cfg_release(&sc);
		return EXIT_INPUT;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		cfg_release(&sc);
		return EXIT_FAIL;
	}
	rc = build_config(c, &sc, cfg, &e);
	cfg_release(&sc);
	if (rc) {
		fprintf(stderr, "flopmarket serve: %s\n", e.msg);
		sodium_memzero(c->monitor_seckey, sizeof c->monitor_seckey);
		sodium_memzero(c->tls_key_pem, sizeof c->tls_key_pem);
		sodium_memzero(c->relay_seckey, sizeof c->relay_seckey);
		free(c);
		return cli_exit_for(rc);
	}
	/* Block the stop signals in every thread; the main thread waits for them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = server_start(&s, c, &e);
	sodium_memzero(c->monitor_seckey, sizeof c->monitor_seckey);
	sodium_memzero(c->tls_key_pem, sizeof c->tls_key_pem);
	sodium_memzero(c->relay_seckey, sizeof c->relay_seckey);
	free(c);
	if (rc) {
		fprintf(stderr, "flopmarket serve: %s\n", e.msg);
		return cli_exit_for(rc);
	}
	printf("listening on %s://%s:%u\n", s->cfg.tls_cert_pem[0] ? "https" : "http", s->cfg.listen_addr,
	       (unsigned)s->bound_port);
	fflush(stdout);
	sigwait(&set, &sig);
	log_info("stopping", "signal=%d", sig);
	server_stop(s);
	server_free(s);
	return EXIT_OK;
}

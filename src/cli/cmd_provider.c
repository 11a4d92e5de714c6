/*
 * cmd_provider.c — `flopmarket provider ...`: the provider's commands besides the agent daemon.
 *
 *   provider offer --gpu-price AMOUNT --token USDC|USDT|DAI|native|0xADDR [--max-hours N]
 *       [--min-hours N] [--interruptible] [--notice-mins N] [--grace-mins N] [--dispute-hours N]
 *       [--expires-days N] [--payout 0xADDR] [--arbiter 0xADDR] [--nonce N] [--spec FILE]
 *       [--machine-id N] [--server URL] [--dry-run] [--wallet NAME] [--deployment FILE]
 *     Signs the EIP-712 Offer (escrow.h) with the wallet and publishes it (POST /offers). AMOUNT is
 *     the price per GPU-hour in the token's units ("0.80" USDC; for USD-pegged tokens that is USD).
 *     The rate is rounded up so that the contract's cost(3600) is exactly AMOUNT.
 *   provider earnings [--json]       per rental, from the chain: paid, fee, claimable now, held
 *   provider claim [RENTAL]          sends claim for every rental with something claimable (or one)
 *   provider reclaim RENTAL          interruptible rentals: starts the notice (the agent warns the renter)
 *   provider gpu-check [...]         this host's GPUs benchmarked beside their published peaks (cmd_gpu_check.c)
 *
 * Amounts are read from the escrow's events and predicted with the mirror (escrow/mirror.h), never
 * computed in floating point. Exit codes: see cli.h.
 */
#include "core/file.h"
#include "cli/cli.h"
#include "cli/server_client.h"
#include "cli/session.h"
#include "agent/agent.h"
#include "agent/gpu.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/client.h"
#include "escrow/mirror.h"
#include "eth/keccak.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROVIDER_TX_TIMEOUT_MS 120000
#define PROVIDER_SPEC_MAX ((size_t)64 << 10)

struct provider_args {
	const char *wallet, *price, *token, *payout, *arbiter, *spec, *server;
	uint64_t max_hours, min_hours, notice_mins, grace_mins, dispute_hours, expires_days, nonce;
	uint64_t machine_id, capacity, max_fee_bps;
	bool interruptible, dry_run, json, has_notice, has_max_fee;
	const char *rental;
};

static void provider_usage(FILE *f)
{
	fprintf(f,
		"usage: flopmarket provider offer --gpu-price AMOUNT --token USDC|USDT|DAI|native|0xADDR\n"
		"           [--max-hours N] [--min-hours N] [--interruptible] [--notice-mins N] [--grace-mins N]\n"
		"           [--dispute-hours N] [--expires-days N] [--payout 0xADDR] [--arbiter 0xADDR]\n"
		"           [--nonce N] [--spec FILE] [--machine-id N] [--capacity N] [--max-fee-bps N]\n"
		"           [--server URL] [--dry-run]\n"
		"       flopmarket provider earnings [--json]\n"
		"       flopmarket provider claim [RENTAL]\n"
		"       flopmarket provider reclaim RENTAL\n"
		"       flopmarket provider gpu-check [--gpubench PATH] [--nvidia-smi PATH] [--timeout-s N]\n"
		"common: [--wallet NAME] [--deployment FILE]\n");
}

static int num(uint64_t *out, const char *flag, const char *s, uint64_t hi)
{
	struct err e = { 0 };
	int rc = cli_parse_uint(out, flag, s, 0, hi, &e);

	if (rc)
		fprintf(stderr, "flopmarket provider: %s\n", e.msg);
	return rc;
}

static int parse_args(struct provider_args *a, int argc, char **argv, struct cfg *cfg)
{
	struct err e = { 0, "" };

	memset(a, 0, sizeof *a);
	a->max_hours = 24;
	a->grace_mins = 10;
	a->expires_days = 7;
	a->capacity = 1;
	a->server = cfg_get(cfg, "server_url");
	for (int i = 2; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int r = 0;

		if (strcmp(f, "--interruptible") == 0) { a->interruptible = true; continue; }
		if (strcmp(f, "--dry-run") == 0) { a->dry_run = true; continue; }
		if (strcmp(f, "--json") == 0) { a->json = true; continue; }
		if (strncmp(f, "--", 2) != 0) {
			if (a->rental) {
				fprintf(stderr, "flopmarket provider: unexpected argument %s\n", f);
				return EXIT_USAGE;
			}
			a->rental = f;
			continue;
		}
		if (!v) {
			fprintf(stderr, "flopmarket provider: %s needs a value\n", f);
			return EXIT_USAGE;
		}
		i++;
		if (strcmp(f, "--wallet") == 0) a->wallet = v;
		else if (strcmp(f, "--gpu-price") == 0) a->price = v;
		else if (strcmp(f, "--token") == 0) a->token = v;
		else if (strcmp(f, "--payout") == 0) a->payout = v;
		else if (strcmp(f, "--arbiter") == 0) a->arbiter = v;
		else if (strcmp(f, "--spec") == 0) a->spec = v;
		else if (strcmp(f, "--server") == 0) a->server = v;
		else if (strcmp(f, "--max-hours") == 0) r = num(&a->max_hours, f, v, 24 * 365);
		else if (strcmp(f, "--min-hours") == 0) r = num(&a->min_hours, f, v, 24 * 365);
		else if (strcmp(f, "--notice-mins") == 0) { r = num(&a->notice_mins, f, v, 7 * 1440); a->has_notice = true; }
		else if (strcmp(f, "--grace-mins") == 0) r = num(&a->grace_mins, f, v, 7 * 1440);
		else if (strcmp(f, "--dispute-hours") == 0) r = num(&a->dispute_hours, f, v, 24 * 90);
		else if (strcmp(f, "--expires-days") == 0) r = num(&a->expires_days, f, v, 3650);
		else if (strcmp(f, "--nonce") == 0) r = num(&a->nonce, f, v, UINT64_MAX - 1);
		else if (strcmp(f, "--machine-id") == 0) r = num(&a->machine_id, f, v, INT64_MAX);
		else if (strcmp(f, "--capacity") == 0) {
			r = num(&a->capacity, f, v, 65535);
			if (!r && a->capacity == 0) {
				fprintf(stderr, "flopmarket provider: --capacity must be at least 1\n");
				return EXIT_INPUT;
			}
		} else if (strcmp(f, "--max-fee-bps") == 0) {
			r = num(&a->max_fee_bps, f, v, ESCROW_MAX_FEE_BPS);
			a->has_max_fee = true;
		}
		else if (strcmp(f, "--deployment") == 0) {
			if (cfg_set(cfg, "deployment", v, CFG_FLAG, &e)) {
				fprintf(stderr, "flopmarket provider: --deployment: %s\n", e.msg);
				return EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "flopmarket provider: unknown flag %s\n", f);
			provider_usage(stderr);
			return EXIT_USAGE;
		}
		if (r)
			return EXIT_INPUT;
	}
	return 0;
}

/* ------------------------------------------------------------------ offer */

static int resolve_token(struct eth_address *out, const struct cli_session *s, const char *name, struct err *e)
{
	static const struct { const char *sym, *contract; } dev[] = {
		{ "USDC", "DevUSDC" }, { "USDT", "DevUSDT" }, { "DAI", "DevDAI" },
	};

	if (!name)
		return err_set(e, ERR_INVALID, "--token is required (USDC, USDT, DAI, native or 0xADDRESS)");
	if (strcasecmp(name, "native") == 0 || strcasecmp(name, cli_native_symbol(s->chain_id)) == 0) {
		memset(out, 0, sizeof *out);
		return 0;
	}
	if (hex_has_prefix(name))
		return address_parse(out, name, e);
	for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
		if (strcasecmp(name, dev[i].sym) == 0)
			return escrow_deployment_find(out, &s->dep, dev[i].contract, e) == 0 ? 0 :
			       err_set(e, ERR_NOT_FOUND, "--token %s: this deployment has no %s; give its 0x address",
				       name, dev[i].sym);
	return err_set(e, ERR_INVALID, "--token %s: use USDC, USDT, DAI, native or a 0x address", name);
}

/*
 * keccak256 of "machine=<id>\n" followed by the spec file, else by the detected GPUs ("name|vram_mib"
 * lines). The machine id makes the hash name this machine, so the escrow's capacity count of (provider,
 * specHash) covers every offer of the machine (a re-priced offer cannot rent the same GPU twice).
 */
static int spec_hash(uint8_t out32[32], uint64_t *machine_id, uint64_t forced_id, const char *spec,
		     struct err *e)
{
	struct gpu_detect_opts go = { .spec_path = spec };
	struct gpu_host *gh = calloc(1, sizeof *gh);
	struct buf b;
	int rc;

	if (!gh)
		return err_set(e, ERR_NOMEM, "out of memory");
	buf_init(&b, PROVIDER_SPEC_MAX + 64);
	if ((rc = gpu_detect(gh, &go, e)))
		goto out;
	*machine_id = forced_id ? forced_id : agent_machine_id(gh->facts.machine_id);
	if ((rc = buf_printf(&b, "machine=%" PRIu64 "\n", *machine_id)))
		goto out;
	if (spec) {
		struct buf f;
		buf_init(&f, PROVIDER_SPEC_MAX);
		if ((rc = file_read(&f, spec, e)))
			err_wrap(e, "--spec");
		else
			rc = buf_append(&b, f.data, f.len);
		buf_release(&f);
	} else {
		for (size_t i = 0; i < gh->gpu_count && !rc; i++)
			rc = buf_printf(&b, "%s|%llu\n", gh->gpus[i].name, (unsigned long long)gh->gpus[i].vram_mib);
	}
	if (!rc)
		keccak256(out32, b.data, b.len);
out:
	buf_release(&b);
	free(gh);
	return rc;
}

/*
 * What the offer signs beyond the price: its capacity, the escrow's current monitor (the escrow opens an
 * offer only with the monitor it names) and the highest fee accepted (--max-fee-bps, default the
 * escrow's fee now; an owner who raises it later cannot charge this offer's renters more).
 */
static int offer_bounds(struct escrow_offer *o, struct cli_session *s, const struct provider_args *a,
			struct err *e)
{
	struct buf cd;
	u256 fee;
	uint64_t f;
	int rc;

	buf_init(&cd, ESCROW_CD_MAX);
	o->capacity = (uint16_t)a->capacity;
	rc = escrow_cd_getter(&cd, "monitor", e);
	if (!rc)
		rc = escrow_call_address(&s->rpc, &o->monitor, &s->escrow, &cd, e);
	buf_reset(&cd);
	if (!rc)
		rc = escrow_cd_getter(&cd, "feeBps", e);
	if (!rc)
		rc = escrow_call_u256(&s->rpc, &fee, &s->escrow, &cd, e);
	buf_release(&cd);
	if (rc)
		return err_wrap(e, "reading the escrow's monitor and fee"), rc;
	if (u256_to_u64(&f, &fee) || f > ESCROW_MAX_FEE_BPS)
		return err_set(e, ERR_RANGE, "the escrow's feeBps is out of range");
	o->max_fee_bps = a->has_max_fee ? (uint16_t)a->max_fee_bps : (uint16_t)f;
	if (o->max_fee_bps < f)
		return err_set(e, ERR_INVALID, "--max-fee-bps %u is below the escrow's fee (%" PRIu64 " bps): renters "
			       "could not open the offer", (unsigned)o->max_fee_bps, f);
	return 0;
}

static int cmd_offer(struct provider_args *a, struct cfg *cfg)
{
	struct cli_session s;
	struct cli_token tok;
	struct escrow_offer o;
	struct err e = { 0, "" };
	u256 price, scale = u256_from_u64(UINT64_C(1000000000000000000)), hour = u256_from_u64(3600), rem;
	uint8_t sig[65];
	char hx[140], addr[ADDRESS_STR_MAX], rate_s[80], amount[128];
	uint64_t mid = 0;
	json_t *body, *off, *res = NULL;
	int rc;

	if (!a->price) {
		fprintf(stderr, "flopmarket provider offer: --gpu-price is required\n");
		return EXIT_USAGE;
	}
	if (a->min_hours > a->max_hours || a->max_hours == 0) {
		fprintf(stderr, "flopmarket provider offer: need 0 <= --min-hours <= --max-hours, --max-hours >= 1\n");
		return EXIT_INPUT;
	}
	if (!a->server && !a->dry_run) {
		fprintf(stderr, "flopmarket provider offer: no server to publish to (give --server URL, or --dry-run)\n");
		return EXIT_USAGE;
	}
	if ((rc = cli_session_open(&s, cfg, a->wallet, SESSION_WALLET_UNLOCK, &e)))
		return cli_fail(rc, &e);
	memset(&o, 0, sizeof o);
	o.provider = s.address;
	o.payout = s.address;
	if ((rc = resolve_token(&o.token, &s, a->token, &e)) || (rc = cli_token_info(&tok, &s, &o.token, &e)) ||
	    (a->payout && (rc = address_parse(&o.payout, a->payout, &e))) ||
	    (a->arbiter && (rc = address_parse(&o.arbiter, a->arbiter, &e))))
		goto out;
	if ((rc = u256_parse_units(&price, a->price, tok.decimals, &e))) {
		err_wrap(&e, "--gpu-price");
		goto out;
	}
	if (u256_is_zero(&price)) {
		rc = err_set(&e, ERR_INVALID, "--gpu-price must be above 0");
		goto out;
	}
	/* rate = ceil(price * 1e18 / 3600): cost(3600) = floor(rate * 3600 / 1e18) == price */
	if ((rc = u256_mul(&o.rate, &price, &scale)) || (rc = u256_divmod(&o.rate, &rem, &o.rate, &hour))) {
		err_set(&e, rc, "--gpu-price: too large");
		goto out;
	}
	if (!u256_is_zero(&rem)) {
		u256 one = u256_from_u64(1);
		u256_add(&o.rate, &o.rate, &one);
	}
	o.min_secs = (uint32_t)(a->min_hours * 3600);
	o.max_secs = (uint32_t)(a->max_hours * 3600);
	o.interruptible = a->interruptible;
	o.notice_secs = (uint32_t)((a->has_notice ? a->notice_mins : (a->interruptible ? 10 : 0)) * 60);
	o.grace_secs = (uint32_t)(a->grace_mins * 60);
	o.dispute_secs = (uint32_t)(a->dispute_hours * 3600);
	o.expiry = (uint64_t)(clock_wall_ms() / 1000) + a->expires_days * 86400;
	o.nonce = a->nonce ? a->nonce : (uint64_t)clock_wall_ms();
	if ((rc = spec_hash(o.spec_hash, &mid, a->machine_id, a->spec, &e)) ||
	    (rc = offer_bounds(&o, &s, a, &e)))
		goto out;
	if ((rc = escrow_offer_sign(sig, s.chain_id, &s.escrow, &o, s.seckey, &e)))
		goto out;

	off = json_object();
	address_to_lower(addr, &o.provider);
	json_object_set_new(off, "provider", json_string(addr));
	address_to_lower(addr, &o.payout);
	json_object_set_new(off, "payout", json_string(addr));
	address_to_lower(addr, &o.token);
	json_object_set_new(off, "token", json_string(addr));
	address_to_lower(addr, &o.arbiter);
	json_object_set_new(off, "arbiter", json_string(addr));
	u256_to_dec(rate_s, &o.rate);
	json_object_set_new(off, "rate", json_string(rate_s));
	json_object_set_new(off, "minSecs", json_integer(o.min_secs));
	json_object_set_new(off, "maxSecs", json_integer(o.max_secs));
	json_object_set_new(off, "interruptible", json_boolean(o.interruptible));
	json_object_set_new(off, "noticeSecs", json_integer(o.notice_secs));
	json_object_set_new(off, "graceSecs", json_integer(o.grace_secs));
	json_object_set_new(off, "disputeSecs", json_integer(o.dispute_secs));
	hex_encode_0x(hx, o.spec_hash, 32);
	json_object_set_new(off, "specHash", json_string(hx));
	json_object_set_new(off, "capacity", json_integer(o.capacity));
	address_to_lower(addr, &o.monitor);
	json_object_set_new(off, "monitor", json_string(addr));
	json_object_set_new(off, "maxFeeBps", json_integer(o.max_fee_bps));
	json_object_set_new(off, "expiry", json_integer((json_int_t)o.expiry));
	json_object_set_new(off, "nonce", json_id(o.nonce));
	hex_encode_0x(hx, sig, 65);
	body = json_pack("{s:o, s:s, s:o}", "machine_id", json_id(mid), "signature", hx, "offer", off);
	cli_token_format(amount, sizeof amount, &tok, &price);
	if (a->dry_run) {
		char *t = json_dumps(body, JSON_COMPACT);
		printf("%s\n", t ? t : "{}");
		free(t);
	} else {
		struct api_client c;
		char *t = json_dumps(body, JSON_COMPACT);
		rc = t ? api_client_init(&c, a->server, &e) : err_set(&e, ERR_NOMEM, "out of memory");
		if (!rc) {
			rc = api_request(&c, &res, NULL, "POST", "/offers", t, &e);
			api_client_release(&c);
		}
		free(t);
		if (!rc) {
			const char *h = NULL;
			json_get_str(&h, res, "offer_hash", 80, NULL);
			printf("offer published: %s\n  price %s per GPU-hour, %" PRIu64 "..%" PRIu64
			       " hours%s, expires in %" PRIu64 " days, machine %" PRIu64 "\n",
			       h ? h : "?", amount, a->min_hours, a->max_hours,
			       o.interruptible ? ", interruptible" : "", a->expires_days, mid);
		}
	}
	json_decref(body);
	json_decref(res);
out:
	cli_session_release(&s);
	return rc ? cli_fail(rc, &e) : EXIT_OK;
}

/* ------------------------------------------------------------------ earnings / claim / reclaim */

static const char *phase_name(const struct agent_rental *r, const struct escrow_view *v)
{
	if (r->closed)
		return "closed";
	switch (v->phase) {
	case ESCROW_PHASE_ACTIVE: return v->stop_at ? "reclaimed" : "open";
	case ESCROW_PHASE_ENDED: return "ended";
	case ESCROW_PHASE_DISPUTED: return "disputed";
	}
	return "?";
}

static int latest_time(struct cli_session *s, uint64_t *now, struct err *e)
{
	struct rpc_block b;
	int rc = rpc_get_block(&s->rpc, &b, "latest", e);

	if (!rc)
		*now = b.timestamp;
	return rc;
}

static uint64_t escrow_block(const struct cli_session *s)
{
	for (size_t i = 0; i < s->dep.n; i++)
		if (strcmp(s->dep.c[i].name, "RentalEscrow") == 0)
			return s->dep.c[i].block;
	return 0;
}

static int cmd_earnings(struct provider_args *a, struct cfg *cfg)
{
	struct cli_session s;
	struct err e = { 0, "" };
	struct agent_rental *v = NULL;
	size_t n = 0;
	uint64_t now = 0;
	json_t *arr = json_array();
	int rc;

	if ((rc = cli_session_open(&s, cfg, a->wallet, SESSION_WALLET_ADDRESS, &e)))
		return cli_fail(rc, &e);
	if ((rc = agent_scan_rentals(&v, &n, &s.rpc, &s.escrow, &s.address, escrow_block(&s), 0, &e)) ||
	    (rc = latest_time(&s, &now, &e)))
		goto out;
	if (!a->json)
		printf("%-8s %-9s %-26s %-26s %-26s %-26s\n", "RENTAL", "STATE", "PAID (NET)", "FEE",
		       "CLAIMABLE NOW (NET)", "HELD");
	for (size_t i = 0; i < n; i++) {
		struct escrow_view view;
		struct escrow_quote q;
		struct cli_token tok;
		char paid[128], fee[128], cl[128], held[128];

		memset(&q, 0, sizeof q);
		if ((rc = escrow_state_view(&view, &v[i].t, &v[i].word, &e)) ||
		    (rc = cli_token_info(&tok, &s, &v[i].t.token, &e)))
			goto out;
		if (!v[i].closed)
			escrow_mirror_quote(&q, &v[i].t, &v[i].word, now, NULL);
		if (v[i].closed)
			memset(&view.held, 0, sizeof view.held);
		if (a->json) {
			char d1[80], d2[80], d3[80], d4[80];
			u256_to_dec(d1, &v[i].provider_paid);
			u256_to_dec(d2, &v[i].fee_paid);
			u256_to_dec(d3, &q.claimable_net);
			u256_to_dec(d4, v[i].closed ? &q.held : &view.held);
			json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "rental_id",
							     (json_int_t)v[i].id, "state", phase_name(&v[i], &view),
							     "token", tok.symbol, "provider_paid", d1, "fee_paid", d2,
							     "claimable_net", d3, "held", d4));
			continue;
		}
		cli_token_format(paid, sizeof paid, &tok, &v[i].provider_paid);
		cli_token_format(fee, sizeof fee, &tok, &v[i].fee_paid);
		cli_token_format(cl, sizeof cl, &tok, &q.claimable_net);
		cli_token_format(held, sizeof held, &tok, &view.held);
		printf("%-8" PRIu64 " %-9s %-26s %-26s %-26s %-26s\n", v[i].id, phase_name(&v[i], &view), paid, fee,
		       cl, held);
	}
	if (a->json) {
		char *t = json_dumps(arr, JSON_COMPACT);
		printf("%s\n", t ? t : "[]");
		free(t);
	} else if (!n) {
		printf("no rentals yet\n");
	}
out:
	json_decref(arr);
	free(v);
	cli_session_release(&s);
	return rc ? cli_fail(rc, &e) : EXIT_OK;
}

static int send_rental_call(struct cli_session *s, struct rpc_receipt *rc_out, const struct escrow_terms *t,
			    enum escrow_rental_fn fn, struct err *e)
{
	struct buf cd;
	int rc;

	buf_init(&cd, ESCROW_CD_MAX);
	rc = escrow_cd_rental(&cd, fn, t, e);
	if (!rc)
		rc = escrow_send(&s->rpc, rc_out, s->chain_id, s->seckey, &s->escrow, NULL, cd.data, cd.len,
				 PROVIDER_TX_TIMEOUT_MS, e);
	buf_release(&cd);
	return rc;
}

static int cmd_claim(struct provider_args *a, struct cfg *cfg, bool reclaim)
{
	struct cli_session s;
	struct err e = { 0, "" };
	struct agent_rental *v = NULL;
	size_t n = 0;
	uint64_t now = 0, want = 0;
	unsigned sent = 0;
	int rc;

	if (reclaim && !a->rental) {
		fprintf(stderr, "flopmarket provider reclaim: which rental?\n");
		return EXIT_USAGE;
	}
	if ((rc = cli_session_open(&s, cfg, a->wallet, SESSION_WALLET_UNLOCK, &e)))
		return cli_fail(rc, &e);
	if ((a->rental && (rc = cli_parse_rental_id(&want, a->rental, &e))) ||
	    (rc = agent_scan_rentals(&v, &n, &s.rpc, &s.escrow, &s.address, escrow_block(&s), 0, &e)) ||
	    (rc = latest_time(&s, &now, &e)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct escrow_outcome out;
		struct escrow_call c = { .op = reclaim ? ESCROW_OP_RECLAIM : ESCROW_OP_CLAIM, .now = now + 1 };
		struct rpc_receipt rcpt;
		struct escrow_event ev;
		struct cli_token tok;
		char amt[128], hx[67];

		if ((want && v[i].id != want) || v[i].closed)
			continue;
		if (escrow_mirror_apply(&out, &v[i].t, &v[i].word, &c, &e)) {
			if (want) {
				rc = ERR_REVERT;
				err_wrap(&e, "rental %" PRIu64 ": %s would revert", want, reclaim ? "reclaim" : "claim");
				goto out;
			}
			err_clear(&e);
			continue;
		}
		if ((rc = cli_token_info(&tok, &s, &v[i].t.token, &e)) ||
		    (rc = send_rental_call(&s, &rcpt, &v[i].t, reclaim ? ESCROW_FN_RECLAIM : ESCROW_FN_CLAIM, &e))) {
			err_wrap(&e, "rental %" PRIu64, v[i].id);
			goto out;
		}
		hex_encode_0x(hx, rcpt.tx_hash, 32);
		if (reclaim) {
			struct escrow_view view;
			if (!escrow_receipt_event(&ev, &rcpt, &s.escrow, ESCROW_EV_RECLAIMED, NULL) &&
			    !escrow_state_view(&view, &v[i].t, &ev.state, NULL))
				printf("rental %" PRIu64 " reclaimed: access ends at %" PRIu64
				       " (in %" PRIu64 " s); the agent warns the renter's sessions now and near the end\n"
				       "  tx %s\n", v[i].id, view.stop_at, view.stop_at > now ? view.stop_at - now : 0, hx);
		} else {
			u256 paid = { 0 };
			if (!escrow_receipt_event(&ev, &rcpt, &s.escrow, ESCROW_EV_CLAIMED, NULL) ||
			    !escrow_receipt_event(&ev, &rcpt, &s.escrow, ESCROW_EV_SETTLED, NULL))
				paid = ev.payout.provider_amount;
			cli_token_format(amt, sizeof amt, &tok, &paid);
			printf("rental %" PRIu64 ": claimed %s (net)  tx %s\n", v[i].id, amt, hx);
		}
		rpc_receipt_release(&rcpt);
		sent++;
	}
	if (want && !sent) {
		rc = err_set(&e, ERR_NOT_FOUND, "rental %" PRIu64 " is not an open rental of %s", want, "this wallet");
		goto out;
	}
	if (!sent)
		printf("nothing to claim right now\n");
out:
	free(v);
	cli_session_release(&s);
	return rc ? cli_fail(rc, &e) : EXIT_OK;
}

int cmd_provider(int argc, char **argv, struct cfg *cfg)
{
	struct provider_args a;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		provider_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (strcmp(argv[1], "gpu-check") == 0)
		return cmd_gpu_check(argc - 1, argv + 1);
	if ((rc = parse_args(&a, argc, argv, cfg)))
		return rc;
	if (strcmp(argv[1], "offer") == 0)
		return a.rental ? (provider_usage(stderr), EXIT_USAGE) : cmd_offer(&a, cfg);
	if (strcmp(argv[1], "earnings") == 0)
		return cmd_earnings(&a, cfg);
	if (strcmp(argv[1], "claim") == 0)
		return cmd_claim(&a, cfg, false);
	if (strcmp(argv[1], "reclaim") == 0)
		return cmd_claim(&a, cfg, true);
	fprintf(stderr, "flopmarket provider: unknown subcommand %s\n", argv[1]);
	provider_usage(stderr);
	return EXIT_USAGE;
}

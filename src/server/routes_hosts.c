/*
 * routes_hosts.c — providers register their hosts and GPUs and send heartbeats, signed in with SIWE as
 * the provider address: POST /hosts, POST /providers/heartbeat; and the public reads GET /hosts/{id}
 * and GET /providers/{address} (with the computed reputation).
 *
 * A host (machine_id) belongs to the first provider that registers it; another provider gets 409.
 * The whole registration (provider, host, GPUs) is one store transaction: any bad field answers 4xx
 * and nothing is written. `bench_verified` is never taken from the provider (operator only).
 */
#include "server/server.h"

#include "core/err.h"
#include "core/json.h"
#include "eth/address.h"
#include "market/offer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST_GPUS_MAX (STORE_GPU_INDEX_MAX + 1)

/* Optional string field into out (room cap); absent = "". */
static int opt_str(char *out, size_t cap, const json_t *o, const char *f, struct err *e)
{
	const char *v;
	int rc = json_get_str(&v, o, f, cap - 1, e);
	if (rc == ERR_NOT_FOUND) {
		out[0] = '\0';
		return 0;
	}
	if (rc)
		return rc;
	snprintf(out, cap, "%s", v);
	return 0;
}

/* Optional uint32 field; absent = 0. */
static int opt_u32(uint32_t *out, const json_t *o, const char *f, uint32_t max, struct err *e)
{
	uint64_t v;
	int rc = json_get_uint(&v, o, f, e);
	if (rc == ERR_NOT_FOUND) {
		*out = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (v > max)
		return err_set(e, ERR_RANGE, "%s: at most %" PRIu32, f, max);
	*out = (uint32_t)v;
	return 0;
}

static int field_of(const struct err *e, char *field, size_t cap)
{
	/* Messages from core/json.h start with the field name in quotes or before ':' */
	const char *q = strchr(e->msg, '\'');
	if (q) {
		const char *q2 = strchr(q + 1, '\'');
		if (q2 && (size_t)(q2 - q - 1) < cap) {
			memcpy(field, q + 1, (size_t)(q2 - q - 1));
			field[q2 - q - 1] = '\0';
			return 0;
		}
	}
	size_t n = strcspn(e->msg, ": ");
	if (n >= cap)
		n = cap - 1;
	memcpy(field, e->msg, n);
	field[n] = '\0';
	return 0;
}

static bool charset_ok(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      strchr(extra, *s)))
			return false;
	return true;
}

/* Checks the free-form host fields against their charsets (the search index needs them clean). */
static int host_check(const struct store_host *h, const char *endpoint, struct err *e)
{
	if (h->country[0] && !(h->country[0] >= 'A' && h->country[0] <= 'Z' && h->country[1] >= 'A' &&
			       h->country[1] <= 'Z' && h->country[2] == '\0'))
		return err_set(e, ERR_INVALID, "'country': two upper-case letters (ISO 3166-1 alpha-2)");
	if (strlen(h->region) > 31 || !charset_ok(h->region, "_-"))
		return err_set(e, ERR_INVALID, "'region': [A-Za-z0-9_-]{0,31}");
	for (const char *v = h->driver_version, *f = "driver_version"; v; v = v == h->driver_version ?
	     (f = "cuda_version", h->cuda_version) : NULL) {
		int dots = 0;
		for (const char *c = v; *c; c++) {
			if (*c == '.')
				dots++;
			else if (*c < '0' || *c > '9')
				return err_set(e, ERR_INVALID, "'%s': digits and dots, like 550.54.15", f);
		}
		if (dots > 2 || (v[0] && (v[0] == '.' || v[strlen(v) - 1] == '.')))
			return err_set(e, ERR_INVALID, "'%s': digits and dots, like 550.54.15", f);
	}
	if (endpoint[0]) {
		if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)
			return err_set(e, ERR_INVALID, "'endpoint': an http:// or https:// URL");
		if (!charset_ok(endpoint, ":/._-~[]@%?&=+"))
			return err_set(e, ERR_INVALID, "'endpoint': unexpected character in the URL");
	}
	return 0;
}

/*
 * "isolation": "container" | "account" (absent: account) and "images": the instance image names renters
 * may choose (container hosts only, 1..16, the default first), stored joined by commas.
 */
static int isolation_parse(struct store_host *h, const json_t *body, struct err *e)
{
	const json_t *iso = json_object_get(body, "isolation"), *imgs = json_object_get(body, "images");
	size_t i, len = 0;
	json_t *v;

	snprintf(h->isolation, sizeof h->isolation, "account");
	h->images[0] = '\0';
	if (iso && (!json_is_string(iso) || (strcmp(json_string_value(iso), "container") != 0 &&
					     strcmp(json_string_value(iso), "account") != 0)))
		return err_set(e, ERR_INVALID, "'isolation': \"container\" or \"account\"");
	if (iso)
		snprintf(h->isolation, sizeof h->isolation, "%s", json_string_value(iso));
	if (imgs && (!json_is_array(imgs) || json_array_size(imgs) > 16))
		return err_set(e, ERR_INVALID, "'images': an array of at most 16 image names");
	json_array_foreach(imgs, i, v) {
		const char *n = json_string_value(v);
		size_t k = n ? strlen(n) : 0;
		if (!n || !offer_image_name_ok(n, k))
			return err_set(e, ERR_INVALID, "'images': item %zu is not an image name (1..32 of a-z 0-9 . _ -)", i);
		if (len + k + 2 > sizeof h->images)
			return err_set(e, ERR_TOO_BIG, "'images': the names take more than %zu bytes", sizeof h->images - 1);
		len += (size_t)snprintf(h->images + len, sizeof h->images - len, "%s%s", len ? "," : "", n);
	}
	if (!offer_images_ok(h->images))
		return err_set(e, ERR_INVALID, "'images': a name is listed twice");
	if ((strcmp(h->isolation, "container") == 0) != (h->images[0] != '\0'))
		return err_set(e, ERR_INVALID, "'images': a container host lists 1..16 images, an account host none");
	return 0;
}

/* The host's own fields from the registration body (GPUs apart). */
static int host_parse(struct store_host *h, struct store_provider *p, const json_t *body, struct err *e)
{
	int rc;

	if ((rc = json_get_id(&h->machine_id, body, "machine_id", e)) ||
	    (rc = opt_str(h->country, sizeof h->country, body, "country", e)) ||
	    (rc = opt_str(h->region, sizeof h->region, body, "region", e)) ||
	    (rc = opt_u32(&h->net_up_mbps, body, "net_up_mbps", 10000000, e)) ||
	    (rc = opt_u32(&h->net_down_mbps, body, "net_down_mbps", 10000000, e)) ||
	    (rc = opt_u32(&h->cpu_cores, body, "cpu_cores", 65536, e)) ||
	    (rc = opt_u32(&h->ram_gib, body, "ram_gib", 1u << 30, e)) ||
	    (rc = opt_u32(&h->disk_gib, body, "disk_gib", 1u << 30, e)) ||
	    (rc = opt_str(h->driver_version, sizeof h->driver_version, body, "driver_version", e)) ||
	    (rc = opt_str(h->cuda_version, sizeof h->cuda_version, body, "cuda_version", e)) ||
	    (rc = opt_str(p->endpoint, sizeof p->endpoint, body, "endpoint", e)))
		return rc;
	if (json_object_get(body, "simulated") && (rc = json_get_bool(&h->simulated, body, "simulated", e)))
		return rc;
	if ((rc = isolation_parse(h, body, e)))
		return rc;
	h->jupyter = false; /* absent: no notebook (agents before issue 13 said nothing) */
	if (json_object_get(body, "jupyter") && (rc = json_get_bool(&h->jupyter, body, "jupyter", e)))
		return rc;
	if ((rc = host_check(h, p->endpoint, e)))
		return rc;
	if (h->machine_id == 0 || h->machine_id > (uint64_t)INT64_MAX)
		return err_set(e, ERR_RANGE, "machine_id: 1..2^63-1");
	return 0;
}

/* An optional benchmark figure: 0 when absent (never measured: listed unverified). */
static int opt_figure(uint64_t *out, const json_t *gj, const char *key, struct err *e)
{
	int rc = json_get_uint(out, gj, key, e);

	if (rc == ERR_NOT_FOUND) {
		*out = 0;
		return 0;
	}
	return rc;
}

/* gpus[i] of the registration body. */
static int gpu_parse(struct store_gpu *g, const json_t *gj, size_t i, struct err *e)
{
	uint64_t bench_at;
	int rc;

	g->index = (uint32_t)i;
	if ((rc = opt_str(g->model, sizeof g->model, gj, "model", e)) ||
	    (rc = opt_u32(&g->vram_mib, gj, "vram_mib", 1u << 24, e)) ||
	    (rc = opt_figure(&g->fp32_mtflops, gj, "fp32_mtflops", e)) ||
	    (rc = opt_figure(&g->fp16_mtflops, gj, "fp16_mtflops", e)) ||
	    (rc = opt_u32(&g->mem_bw_gbps, gj, "mem_bw_gbps", 1000000, e)) ||
	    (rc = opt_figure(&bench_at, gj, "bench_at", e)))
		return rc;
	g->bench_at = (int64_t)(bench_at > (uint64_t)STORE_TIME_MAX ? STORE_TIME_MAX : bench_at);
	if (!g->model[0] || g->vram_mib == 0 || g->fp32_mtflops > 100000000ull || g->fp16_mtflops > 100000000ull)
		return err_set(e, ERR_INVALID, "gpus[%zu]: model and vram_mib are required "
			       "(fp32/fp16_mtflops at most 1e8)", i);
	for (const char *c = g->model; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '-'))
			return err_set(e, ERR_INVALID, "gpus[%zu].model: only letters, digits, _ and -", i);
	return 0;
}

/* Provider, host and GPUs in one transaction. */
static int host_save(struct server *s, const struct store_provider *p, const struct store_host *h,
		     const struct store_gpu *g, size_t n_gpus, struct err *e)
{
	int rc;

	if ((rc = store_tx_begin(s->store, e)))
		return rc;
	if ((rc = store_provider_upsert(s->store, p, e)) || (rc = store_host_upsert(s->store, h, e)))
		goto rollback;
	for (size_t i = 0; i < n_gpus; i++)
		if ((rc = store_gpu_upsert(s->store, &g[i], e)))
			goto rollback;
	return store_tx_commit(s->store, e);
rollback:
	store_tx_rollback(s->store, NULL);
	return rc;
}

int route_hosts_post(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char addr[STORE_ADDR_SIZE], field[64];
	struct store_provider p;
	struct store_host h;
	struct store_gpu *g = NULL;
	size_t n_gpus = 0;
	struct err e = { 0 };
	json_t *body = NULL, *gpus;
	int64_t now = server_now();
	int rc;

	if ((rc = srv_auth(addr, s, rq, rs)))
		return rc;
	if ((rc = srv_body_object(&body, rq, rs)))
		return rc;
	memset(&h, 0, sizeof h);
	memset(&p, 0, sizeof p);
	if ((rc = host_parse(&h, &p, body, &e)))
		goto bad;
	snprintf(h.provider, sizeof h.provider, "%s", addr);
	h.updated_at = now;
	gpus = json_object_get(body, "gpus");
	if (!json_is_array(gpus) || json_array_size(gpus) == 0 || json_array_size(gpus) > HOST_GPUS_MAX) {
		json_decref(body);
		return srv_error(rs, 400, "invalid", "gpus", "gpus: an array of 1..%d GPUs is required",
				 HOST_GPUS_MAX);
	}
	n_gpus = json_array_size(gpus);
	g = calloc(n_gpus, sizeof *g);
	if (!g) {
		json_decref(body);
		return srv_error(rs, 500, "internal", NULL, "out of memory");
	}
	for (size_t i = 0; i < n_gpus; i++) {
		g[i].machine_id = h.machine_id;
		if ((rc = gpu_parse(&g[i], json_array_get(gpus, i), i, &e)))
			goto bad;
	}
	snprintf(p.address, sizeof p.address, "%s", addr);
	p.first_seen = now;
	p.last_heartbeat = now;
	if ((rc = host_save(s, &p, &h, g, n_gpus, &e)))
		goto bad;
	/* before the answer: every later read shows the new host in its offers and its host view */
	atomic_fetch_add(&s->hosts_gen, 1);
	listing_provider_view_drop(s, addr);
	if (offers_refresh_provider(s, addr, &e)) /* a registration is a heartbeat too */
		listing_everything_changed(s);
	free(g);
	json_decref(body);
	return srv_json(rs, 201, json_pack("{s:o, s:s, s:I}", "machine_id", json_id(h.machine_id),
					   "provider", addr, "gpus", (json_int_t)n_gpus));
bad:
	free(g);
	json_decref(body);
	field_of(&e, field, sizeof field);
	if (rc == ERR_CONFLICT)
		return srv_error(rs, 409, "conflict", "machine_id", "%s", e.msg);
	return srv_error_from(rs, rc == ERR_NOT_FOUND ? ERR_INVALID : rc, field, &e);
}

int route_heartbeat(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char addr[STORE_ADDR_SIZE];
	struct store_provider p, old;
	struct err e = { 0 };
	json_t *body = NULL;
	bool had, was_down;
	int rc;

	if ((rc = srv_auth(addr, s, rq, rs)))
		return rc;
	memset(&p, 0, sizeof p);
	snprintf(p.address, sizeof p.address, "%s", addr);
	p.first_seen = p.last_heartbeat = server_now();
	/* A host that was down (its offers left search) is back: list its offers again. */
	had = store_provider_get(s->store, &old, addr, NULL) == 0;
	was_down = !had || old.last_heartbeat + (int64_t)s->cfg.offer_stale_s <= p.last_heartbeat;
	if (rq->body_len) {
		if ((rc = srv_body_object(&body, rq, rs)))
			return rc;
		rc = opt_str(p.endpoint, sizeof p.endpoint, body, "endpoint", &e);
		json_decref(body);
		struct store_host none;
		memset(&none, 0, sizeof none);
		if (rc || (rc = host_check(&none, p.endpoint, &e)))
			return srv_error_from(rs, rc, "endpoint", &e);
	} else if (had) {
		memcpy(p.endpoint, old.endpoint, sizeof p.endpoint);
	}
	if ((rc = store_provider_upsert(s->store, &p, &e)))
		return srv_error_from(rs, rc, "endpoint", &e);
	if (!had || strcmp(old.endpoint, p.endpoint) != 0)
		atomic_fetch_add(&s->hosts_gen, 1); /* host views show the endpoint */
	listing_provider_view_drop(s, addr);
	if (!was_down) /* the staleness line moves on; a host that was down is re-read below */
		listing_fresh_note(s, addr, p.last_heartbeat + (int64_t)s->cfg.offer_stale_s);
	if (was_down && offers_refresh_provider(s, addr, &e))
		listing_everything_changed(s);
	return srv_json(rs, 200, json_pack("{s:s, s:I}", "provider", addr, "last_heartbeat",
					   (json_int_t)p.last_heartbeat));
}

struct gpu_list {
	json_t *arr;
};

static int gpu_to_json(void *ctx, const struct store_gpu *g)
{
	struct gpu_list *l = ctx;
	json_array_append_new(l->arr, json_pack("{s:i, s:s, s:i, s:I, s:I, s:i, s:b, s:I}", "index",
						(int)g->index, "model", g->model, "vram_mib",
						(int)g->vram_mib, "fp32_mtflops",
						(json_int_t)g->fp32_mtflops, "fp16_mtflops",
						(json_int_t)g->fp16_mtflops, "mem_bw_gbps",
						(int)g->mem_bw_gbps, "bench_verified", g->bench_verified,
						"bench_at", (json_int_t)g->bench_at));
	return 0;
}

json_t *host_json(struct server *s, const struct store_host *h)
{
	struct gpu_list l = { json_array() };
	json_t *o;

	if (!l.arr)
		return NULL;
	store_gpus_list(s->store, h->machine_id, gpu_to_json, &l, NULL);
	o = json_pack("{s:o, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:s, s:b, s:I, s:o}",
		      "machine_id", json_id(h->machine_id), "provider", h->provider, "country",
		      h->country, "region", h->region, "net_up_mbps", (int)h->net_up_mbps,
		      "net_down_mbps", (int)h->net_down_mbps, "cpu_cores", (int)h->cpu_cores, "ram_gib",
		      (int)h->ram_gib, "disk_gib", (int)h->disk_gib, "driver_version", h->driver_version,
		      "cuda_version", h->cuda_version, "simulated", h->simulated, "updated_at",
		      (json_int_t)h->updated_at, "gpus", l.arr);
	if (o) {
		json_object_set_new(o, "isolation", json_string(h->isolation[0] ? h->isolation : "account"));
		json_object_set_new(o, "images", images_json(h->images));
		json_object_set_new(o, "jupyter", json_boolean(h->jupyter));
	}
	/* Where the provider's agent listens (SSH-key delivery, browser terminal). */
	struct store_provider p;
	if (o && store_provider_get(s->store, &p, h->provider, NULL) == 0)
		json_object_set_new(o, "endpoint", json_string(p.endpoint));
	return o;
}

/*
 * GET /hosts/{id}: the host view, cached per host for the current hosts_gen (a registration or an
 * endpoint change makes every cached host view old); a hit reads no store.
 */
int route_host_get(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	struct store_host h;
	struct err e = { 0 };
	char key[32];
	uint64_t id, tag = atomic_load(&s->hosts_gen);
	struct view *v;
	json_t *j;
	int n, rc;

	if (srv_parse_id(&id, rq->arg))
		return srv_error(rs, 400, "invalid", "machine_id", "machine id: a decimal integer");
	n = snprintf(key, sizeof key, "host:%" PRIu64, id);
	if ((v = view_cache_get(s->entities, key, (size_t)n, tag)))
		return srv_view(s, rq, rs, 200, v);
	if ((rc = store_host_get(s->store, &h, id, &e)))
		return srv_error_from(rs, rc, "machine_id", &e);
	j = host_json(s, &h);
	v = view_from_json(j);
	json_decref(j);
	if (v)
		view_cache_put(s->entities, key, (size_t)n, tag, view_cache_seq(s->entities), v);
	return srv_view(s, rq, rs, 200, v);
}

/*
 * GET /providers/{address}: heartbeat and reputation, cached per provider for the current second (the
 * reputation's 30-day window slides) and dropped by every write that changes it (listing.c), before
 * that write answers.
 */
int route_provider_get(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	struct eth_address a;
	struct store_provider p;
	struct reputation rep;
	char addr[ADDRESS_STR_MAX], key[LISTING_VIEW_KEY_MAX];
	struct err e = { 0 };
	int64_t now = server_now();
	uint64_t seq = view_cache_seq(s->entities);
	struct view *v;
	json_t *j;
	size_t n;
	int rc;

	if (address_parse(&a, rq->arg, &e))
		return srv_error(rs, 400, "invalid", "address", "address: %s", e.msg);
	address_to_lower(addr, &a);
	n = listing_provider_view_key(key, addr);
	if ((v = view_cache_get(s->entities, key, n, (uint64_t)now)))
		return srv_view(s, rq, rs, 200, v);
	if ((rc = store_provider_get(s->store, &p, addr, &e)))
		return srv_error_from(rs, rc, "address", &e);
	if ((rc = reputation_get(s, &rep, addr, now, &e)))
		return srv_error_from(rs, rc, NULL, &e);
	j = json_pack("{s:s, s:I, s:I, s:s, s:o}", "address", addr, "first_seen", (json_int_t)p.first_seen,
		      "last_heartbeat", (json_int_t)p.last_heartbeat, "endpoint", p.endpoint, "reputation",
		      reputation_json(&rep));
	v = view_from_json(j);
	json_decref(j);
	if (v)
		view_cache_put(s->entities, key, n, (uint64_t)now, seq, v);
	return srv_view(s, rq, rs, 200, v);
}

/*
 * offer.c — validation, exact derived prices and column keys of an offer.
 *
 * All price math is u256 with checked operations: a product that overflows
 * or a quotient above its cap rejects the offer (ERR_RANGE) instead of
 * wrapping. Quotients are kept as ceil + exact flag; see offer.h.
 */
#include "market/offer.h"

#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/hex.h"

/* 10^n as u256, n <= 77. */
static u256 pow10_u256(unsigned n)
{
	u256 r = u256_from_u64(1), ten = u256_from_u64(10);
	for (unsigned i = 0; i < n; i++)
		(void)u256_mul(&r, &r, &ten);
	return r;
}

/*
 * ceil(num/den) into *ceil_out with *exact = (den divides num); ERR_RANGE
 * when the quotient exceeds `cap`.
 */
static int div_ceil(uint64_t *ceil_out, bool *exact, const u256 *num,
		    const u256 *den, uint64_t cap)
{
	u256 q, r;
	uint64_t q64;
	if (u256_divmod(&q, &r, num, den) != 0)
		return ERR_RANGE;
	if (u256_to_u64(&q64, &q) != 0 || q64 > cap)
		return ERR_RANGE;
	*exact = u256_is_zero(&r);
	*ceil_out = q64 + (*exact ? 0 : 1);
	return 0;
}

static bool str_ok(const char *s, size_t cap, size_t min, bool dash)
{
	size_t n = strnlen(s, cap);
	if (n >= cap || n < min)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || (dash && (c == '_' || c == '-'))))
			return false;
	}
	return true;
}

static int check_caps(const struct offer *o, struct err *e)
{
	if (!(o->country[0] >= 'A' && o->country[0] <= 'Z' &&
	      o->country[1] >= 'A' && o->country[1] <= 'Z' && o->country[2] == 0))
		return err_set(e, ERR_INVALID, "offer: country must be two upper-case letters (ISO 3166-1 alpha-2)");
	if (!str_ok(o->region, OFFER_REGION_MAX, 0, true))
		return err_set(e, ERR_INVALID, "offer: region must be [A-Za-z0-9_-]{0,%d}", OFFER_REGION_MAX - 1);
	if (!str_ok(o->gpu_model, OFFER_GPU_MAX, 1, true))
		return err_set(e, ERR_INVALID, "offer: gpu_model must be [A-Za-z0-9_-]{1,%d}", OFFER_GPU_MAX - 1);
	if (!str_ok(o->token_symbol, OFFER_TOKEN_MAX, 1, false))
		return err_set(e, ERR_INVALID, "offer: token_symbol must be [A-Za-z0-9]{1,%d}", OFFER_TOKEN_MAX - 1);
	if (o->isolation[0] && strcmp(o->isolation, "container") != 0 && strcmp(o->isolation, "account") != 0)
		return err_set(e, ERR_INVALID, "offer: isolation must be container or account");
	if (!offer_images_ok(o->images))
		return err_set(e, ERR_INVALID, "offer: images must be image names joined by commas, under %d bytes",
			       OFFER_IMAGES_MAX);
	if (o->num_gpus < 1 || o->num_gpus > OFFER_NUM_GPUS_MAX)
		return err_set(e, ERR_RANGE, "offer: num_gpus %u not in 1..%d", o->num_gpus, OFFER_NUM_GPUS_MAX);
	if (o->vram_mib > OFFER_VRAM_MIB_MAX)
		return err_set(e, ERR_RANGE, "offer: vram_mib above %u", OFFER_VRAM_MIB_MAX);
	if (o->tflops32_milli > OFFER_TFLOPS_MILLI_MAX || o->tflops16_milli > OFFER_TFLOPS_MILLI_MAX)
		return err_set(e, ERR_RANGE, "offer: tflops above %llu milli", OFFER_TFLOPS_MILLI_MAX);
	if (o->bandwidth_gbps > OFFER_BANDWIDTH_MAX)
		return err_set(e, ERR_RANGE, "offer: bandwidth_gbps above %u", OFFER_BANDWIDTH_MAX);
	if (o->net_up_mbps > OFFER_NET_MAX || o->net_down_mbps > OFFER_NET_MAX)
		return err_set(e, ERR_RANGE, "offer: net speed above %u Mbit/s", OFFER_NET_MAX);
	if (o->cpu_cores > OFFER_CPU_MAX)
		return err_set(e, ERR_RANGE, "offer: cpu_cores above %u", OFFER_CPU_MAX);
	if (o->ram_gib > OFFER_GIB_MAX || o->disk_gib > OFFER_GIB_MAX)
		return err_set(e, ERR_RANGE, "offer: ram/disk above %u GiB", OFFER_GIB_MAX);
	if (o->cuda_version > OFFER_CUDA_MAX)
		return err_set(e, ERR_RANGE, "offer: cuda_version above %u", OFFER_CUDA_MAX);
	if (o->driver_version > OFFER_DRIVER_MAX)
		return err_set(e, ERR_RANGE, "offer: driver_version above %u", OFFER_DRIVER_MAX);
	if (o->token_decimals > OFFER_DECIMALS_MAX)
		return err_set(e, ERR_RANGE, "offer: token_decimals %u above %d", o->token_decimals, OFFER_DECIMALS_MAX);
	if (o->fee_bps > 10000)
		return err_set(e, ERR_RANGE, "offer: fee_bps %u above 10000", o->fee_bps);
	if (o->token_usd_micro > OFFER_USD_MICRO_MAX)
		return err_set(e, ERR_RANGE, "offer: token_usd_micro above %llu", OFFER_USD_MICRO_MAX);
	if (o->reliability_bps > 10000)
		return err_set(e, ERR_RANGE, "offer: reliability_bps %u above 10000", o->reliability_bps);
	if (o->rating_centi > OFFER_RATING_MAX)
		return err_set(e, ERR_RANGE, "offer: rating_centi %u above %d", o->rating_centi, OFFER_RATING_MAX);
	if (o->expires_at <= 0)
		return err_set(e, ERR_RANGE, "offer: expires_at must be positive");
	return 0;
}

int offer_derive(struct offer *o, struct err *e)
{
	struct offer d;
	u256 den, num, t;
	int rc = check_caps(o, e);
	if (rc != 0)
		return rc;
	d = *o;
	den = pow10_u256(d.token_decimals);

	/* token price: rate * 10^6 / 10^decimals */
	t = u256_from_u64(1000000);
	if (u256_mul(&num, &d.rate_per_hour, &t) != 0 ||
	    div_ceil(&d.token_micro, &d.token_micro_exact, &num, &den, OFFER_TOKEN_MICRO_MAX - 1) != 0)
		return err_set(e, ERR_RANGE, "offer: rate_per_hour above %llu micro-tokens/h", OFFER_TOKEN_MICRO_MAX);

	d.renter_usd_micro = OFFER_UNKNOWN;
	d.renter_usd_exact = false;
	d.per_tflop_usd_micro = OFFER_UNKNOWN;
	d.per_tflop_usd_exact = false;
	if (d.token_usd_micro != 0) {
		t = u256_from_u64(d.token_usd_micro);
		if (u256_mul(&num, &d.rate_per_hour, &t) != 0 ||
		    div_ceil(&d.renter_usd_micro, &d.renter_usd_exact, &num, &den, OFFER_USD_MICRO_MAX - 1) != 0)
			return err_set(e, ERR_RANGE, "offer: renter price above %llu micro-USD/h", OFFER_USD_MICRO_MAX);
		uint64_t total = d.tflops32_milli * d.num_gpus;
		if (total != 0) {
			u256 k = u256_from_u64(1000), tt = u256_from_u64(total), den2;
			/* num = rate*usd*1000 fits: rate*usd <= 1e15 * 10^36 << 2^256 */
			if (u256_mul(&num, &num, &k) != 0 || u256_mul(&den2, &den, &tt) != 0 ||
			    div_ceil(&d.per_tflop_usd_micro, &d.per_tflop_usd_exact, &num, &den2,
				     OFFER_USD_MICRO_MAX * 1000) != 0)
				return err_set(e, ERR_RANGE, "offer: price per TFLOP out of range");
		}
	}
	*o = d;
	return 0;
}

/* Doubled key of a ceil value with an exact flag: 2*floor + inexact. */
static int64_t key_ceil(uint64_t ceil, bool exact)
{
	if (ceil == OFFER_UNKNOWN)
		return OFFER_KEY_UNKNOWN;
	return exact ? (int64_t)(2 * ceil) : (int64_t)(2 * ceil - 1);
}

int64_t offer_col_key(const struct offer *o, enum offer_col c)
{
	uint64_t v;
	switch (c) {
	case OCOL_NUM_GPUS: v = o->num_gpus; break;
	case OCOL_VRAM: {
		/* x = mib * 1000 / 1024 milli-GiB */
		uint64_t n = (uint64_t)o->vram_mib * 1000;
		return (int64_t)(2 * (n / 1024) + (n % 1024 != 0));
	}
	/* 0 TFLOPS is not measured (a simulated or unbenchmarked host): unknown, so it sorts last either
	 * way and no TFLOPS bound matches it */
	case OCOL_TFLOPS: v = o->tflops32_milli * o->num_gpus; if (!v) return OFFER_KEY_UNKNOWN; break;
	case OCOL_GPU_TFLOPS: v = o->tflops32_milli; if (!v) return OFFER_KEY_UNKNOWN; break;
	case OCOL_TFLOPS16: v = o->tflops16_milli * o->num_gpus; if (!v) return OFFER_KEY_UNKNOWN; break;
	case OCOL_BANDWIDTH: v = o->bandwidth_gbps; break;
	case OCOL_VERIFIED: v = o->verified; break;
	case OCOL_SIMULATED: v = o->simulated; break;
	case OCOL_PRICE: return key_ceil(o->renter_usd_micro, o->renter_usd_exact);
	case OCOL_PRICE_PER_TFLOP: return key_ceil(o->per_tflop_usd_micro, o->per_tflop_usd_exact);
	case OCOL_TOKEN_PRICE: return key_ceil(o->token_micro, o->token_micro_exact);
	case OCOL_FEE_BPS: v = o->fee_bps; break;
	case OCOL_RELIABILITY: v = o->reliability_bps; break;
	case OCOL_RENTALS: v = o->rentals_completed; break;
	case OCOL_RATING: v = o->rating_centi; break;
	case OCOL_INTERRUPTIBLE: v = o->interruptible; break;
	case OCOL_JUPYTER: v = o->jupyter; break;
	case OCOL_NET_UP: v = o->net_up_mbps; break;
	case OCOL_NET_DOWN: v = o->net_down_mbps; break;
	case OCOL_CPU_CORES: v = o->cpu_cores; break;
	case OCOL_RAM: v = o->ram_gib; break;
	case OCOL_DISK: v = o->disk_gib; break;
	case OCOL_DRIVER: v = o->driver_version; break;
	case OCOL_CUDA: v = o->cuda_version; break;
	default: return OFFER_KEY_UNKNOWN;
	}
	return (int64_t)(2 * v);
}

const char *offer_col_str(char out[OFFER_STR_MAX], const struct offer *o,
			  enum offer_str c)
{
	const char *s = "";
	switch (c) {
	case OSTR_GPU: s = o->gpu_model; break;
	case OSTR_COUNTRY: s = o->country; break;
	case OSTR_REGION: s = o->region; break;
	case OSTR_TOKEN: s = o->token_symbol; break;
	case OSTR_ISOLATION: s = o->isolation[0] ? o->isolation : "account"; break;
	case OSTR_IMAGES: s = o->images; break;
	case OSTR_PROVIDER:
		hex_encode_0x(out, o->provider20, 20);
		return out;
	default: break;
	}
	size_t n = strnlen(s, OFFER_STR_MAX - 1);
	memcpy(out, s, n);
	out[n] = 0;
	return out;
}

uint64_t offer_provider_net_usd_micro(const struct offer *o)
{
	u256 num, den, t, q;
	uint64_t q64;
	if (o->token_usd_micro == 0 || o->token_decimals > OFFER_DECIMALS_MAX || o->fee_bps > 10000)
		return OFFER_UNKNOWN;
	t = u256_from_u64(o->token_usd_micro);
	if (u256_mul(&num, &o->rate_per_hour, &t) != 0)
		return OFFER_UNKNOWN;
	t = u256_from_u64(10000u - o->fee_bps);
	if (u256_mul(&num, &num, &t) != 0)
		return OFFER_UNKNOWN;
	den = pow10_u256(o->token_decimals);
	t = u256_from_u64(10000);
	(void)u256_mul(&den, &den, &t);
	if (u256_divmod(&q, NULL, &num, &den) != 0 || u256_to_u64(&q64, &q) != 0)
		return OFFER_UNKNOWN;
	return q64;
}

bool offer_image_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > OFFER_IMAGE_NAME_MAX || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

bool offer_images_has(const char *images, const char *name, size_t n)
{
	for (const char *p = images; *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && memcmp(p, name, n) == 0)
			return true;
		p += k;
		if (*p == ',')
			p++;
	}
	return false;
}

/* The next word of s (words are split at '_', '-', ' ', '.'), its length in *len; NULL at the end. */
static const char *gpu_word(const char **s, const char *end, size_t *len)
{
	const char *p = *s, *w;

	while (p < end && (*p == '_' || *p == '-' || *p == ' ' || *p == '.'))
		p++;
	if (p >= end)
		return NULL;
	w = p;
	while (p < end && !(*p == '_' || *p == '-' || *p == ' ' || *p == '.'))
		p++;
	*len = (size_t)(p - w);
	*s = p;
	return w;
}

/* Whether the words of q match the words of m from m's current position on. */
static bool words_run(const char *m, const char *mend, const char *q, const char *qend)
{
	const char *qw, *mw;
	size_t ql, ml;

	while ((qw = gpu_word(&q, qend, &ql))) {
		if (!(mw = gpu_word(&m, mend, &ml)) || ml != ql || strncasecmp(mw, qw, ql) != 0)
			return false;
	}
	return true;
}

bool offer_gpu_matches(const char *model, const char *q, size_t n)
{
	const char *mend = model + strlen(model), *qend = q + n, *p = model, *w;
	size_t l;
	const char *qq = q;

	if (!gpu_word(&qq, qend, &l))
		return false; /* no word at all names nothing */
	while ((w = gpu_word(&p, mend, &l)))
		if (words_run(w, mend, q, qend))
			return true;
	return false;
}

bool offer_token_matches(const char *sym, const char *q, size_t n)
{
	size_t k = strlen(sym);

	if (k == n && strncasecmp(sym, q, n) == 0)
		return true;
	return k == n + 1 && (sym[0] == 'd' || sym[0] == 'D') && strncasecmp(sym + 1, q, n) == 0;
}

bool offer_images_ok(const char *images)
{
	size_t len = strnlen(images, OFFER_IMAGES_MAX);

	if (len >= OFFER_IMAGES_MAX)
		return false;
	for (const char *p = images; *p;) {
		size_t k = strcspn(p, ",");
		if (!offer_image_name_ok(p, k) || offer_images_has(p + k + (p[k] == ','), p, k))
			return false;
		p += k;
		if (*p == ',' && !*++p)
			return false; /* a trailing comma */
	}
	return true;
}

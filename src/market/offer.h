/*
 * offer.h — the in-memory, searchable record of one GPU offer.
 *
 * A flat struct (no pointers) so it can be copied out of the index into a
 * search result. The provider-supplied fields are checked by offer_derive,
 * which also computes the derived prices exactly in integer math:
 *
 *   renter price  [micro-USD/h]  = rate_per_hour * token_usd_micro / 10^decimals
 *   token price   [micro-token/h] = rate_per_hour * 10^6 / 10^decimals
 *   price/TFLOP   [micro-USD per fp32-TFLOPS-hour]
 *                 = renter price * 1000 / (tflops32_milli * num_gpus)
 *
 * Each is stored rounded UP (ceil) with an `exact` flag, so a displayed price
 * never understates what the renter pays and the exact rational value can
 * still be compared against a filter bound (see offer_col_key).
 *
 * Platform fee: per DESIGN.md ("Money rules") the fee is taken pro rata from
 * what the provider is paid; the renter pays exactly `rate`. So the renter
 * price above already includes the fee, and fee_bps only tells how much of it
 * the provider does not keep (see offer_provider_net_usd_micro).
 *
 * A token with no known USD price (token_usd_micro == 0) gives an unknown
 * renter price and price/TFLOP: such an offer never matches a price filter.
 */
#ifndef FLOP_MARKET_OFFER_H
#define FLOP_MARKET_OFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/u256.h"

struct err;

#define OFFER_GPU_MAX 32    /* gpu_model bytes incl. NUL: [A-Za-z0-9_-]{1,31} */
#define OFFER_REGION_MAX 32 /* region bytes incl. NUL: [A-Za-z0-9_-]{0,31} */
#define OFFER_TOKEN_MAX 12  /* token_symbol bytes incl. NUL: [A-Za-z0-9]{1,11} */
#define OFFER_ISOLATION_MAX 12 /* isolation bytes incl. NUL: "container" or "account" */
#define OFFER_IMAGE_NAME_MAX 32 /* one instance image name: [a-z0-9][a-z0-9._-]{0,31} */
#define OFFER_IMAGES_MAX 160 /* images bytes incl. NUL: the names, comma separated, default first */

/* Caps checked by offer_derive (every input has a limit). */
#define OFFER_NUM_GPUS_MAX 64
#define OFFER_VRAM_MIB_MAX (1u << 24)            /* 16 TiB per GPU */
#define OFFER_TFLOPS_MILLI_MAX 100000000ull      /* 100k TFLOPS per GPU */
#define OFFER_BANDWIDTH_MAX 1000000u             /* GB/s */
#define OFFER_NET_MAX 10000000u                  /* Mbit/s */
#define OFFER_CPU_MAX 65536u
#define OFFER_GIB_MAX (1u << 30)                 /* RAM, disk GiB */
#define OFFER_DECIMALS_MAX 36
#define OFFER_USD_MICRO_MAX 1000000000000000ull  /* 1e15: $1e9 */
#define OFFER_TOKEN_MICRO_MAX 1000000000000000000ull /* 1e18 micro-tokens/h */
#define OFFER_RATING_MAX 500                     /* 5.00 stars */
#define OFFER_CUDA_MAX 99999u                    /* 999.99 */
#define OFFER_DRIVER_MAX 999999999u              /* 999.999.999 */

/* Value of a ceil-rounded derived price whose input is unknown. */
#define OFFER_UNKNOWN UINT64_MAX

struct offer {
	/* identity */
	uint8_t id32[32];         /* offer id: EIP-712 hash of the signed offer */
	uint8_t provider20[20];   /* provider address */
	uint64_t machine_id;      /* provider's host id (not filterable) */
	/* host */
	char country[3];          /* ISO 3166-1 alpha-2, upper case, "DE" */
	char region[OFFER_REGION_MAX]; /* free-form region tag, may be "" */
	uint32_t net_up_mbps;     /* measured upload, Mbit/s */
	uint32_t net_down_mbps;   /* measured download, Mbit/s */
	uint32_t cpu_cores;       /* cores offered with the GPUs */
	uint32_t ram_gib;         /* RAM offered, GiB */
	uint32_t disk_gib;        /* disk offered, GiB */
	uint32_t driver_version;  /* major*10^6 + minor*10^3 + patch: 550.54.15 -> 550054015 */
	uint32_t cuda_version;    /* major*100 + minor: 12.2 -> 1202 */
	/* GPU */
	char gpu_model[OFFER_GPU_MAX]; /* normalised name, "RTX_4090" */
	uint32_t vram_mib;        /* memory per GPU, MiB */
	uint32_t num_gpus;        /* GPUs in the offer, 1..64 */
	uint64_t tflops32_milli;  /* fp32 per GPU, milli-TFLOPS */
	uint64_t tflops16_milli;  /* fp16 per GPU, milli-TFLOPS */
	uint32_t bandwidth_gbps;  /* memory bandwidth per GPU, GB/s */
	bool verified;            /* benchmark verified by the operator */
	bool simulated;           /* simulated GPU (demo / test host) */
	char isolation[OFFER_ISOLATION_MAX]; /* how rentals are isolated: "container" (an instance) or "account" */
	char images[OFFER_IMAGES_MAX]; /* instance images renters may choose, "a,b" (default first); "" for account */
	/* price */
	u256 rate_per_hour;       /* token smallest units per hour */
	char token_symbol[OFFER_TOKEN_MAX]; /* "USDC" */
	uint8_t token_decimals;   /* 0..36 */
	uint16_t fee_bps;         /* platform fee, 0..10000 */
	uint64_t token_usd_micro; /* USD per whole token * 10^6; 0 = unknown */
	/* derived by offer_derive (inputs above are ignored by the index) */
	uint64_t renter_usd_micro;      /* ceil micro-USD/h; OFFER_UNKNOWN */
	bool renter_usd_exact;          /* renter_usd_micro has no rounding */
	uint64_t token_micro;           /* ceil micro-tokens/h */
	bool token_micro_exact;         /* token_micro has no rounding */
	uint64_t per_tflop_usd_micro;   /* ceil micro-USD per TFLOPS-hour; OFFER_UNKNOWN */
	bool per_tflop_usd_exact;       /* per_tflop_usd_micro has no rounding */
	/* reputation */
	uint16_t reliability_bps; /* 0..10000; 0 as well when nothing was observed yet */
	bool reliability_observed; /* false: no probes yet, shown as "new" (filters see 0) */
	uint32_t rentals_completed; /* finished rentals */
	uint16_t rating_centi;    /* average rating * 100, 0..500 */
	bool interruptible;       /* the provider may stop the rental */
	bool jupyter;             /* the host's agent serves a Jupyter notebook per rental */
	int64_t expires_at;       /* unix seconds; the offer is live while now < expires_at */
};

/*
 * Numeric columns of an offer as seen by filters and sort keys. Every column
 * has a key (offer_col_key) in "doubled" fixed point: 2*floor(x) + (x is not
 * an integer), where x is the exact value in the filter field's fixed-point
 * unit (micro-USD for price, milli-GiB for vram, ...). For an integer bound
 * v this gives exact comparisons with plain integer compares:
 *   x >= v <=> key >= 2v    x > v <=> key > 2v    x == v <=> key == 2v
 *   x <= v <=> key <= 2v    x < v <=> key < 2v
 */
enum offer_col {
	OCOL_NUM_GPUS,
	OCOL_VRAM,          /* milli-GiB per GPU (from MiB: exact rational) */
	OCOL_TFLOPS,        /* fp32 total over num_gpus, milli-TFLOPS */
	OCOL_GPU_TFLOPS,    /* fp32 per GPU, milli-TFLOPS */
	OCOL_TFLOPS16,      /* fp16 total, milli-TFLOPS */
	OCOL_BANDWIDTH,     /* GB/s */
	OCOL_VERIFIED,      /* 0/1 */
	OCOL_SIMULATED,     /* 0/1 */
	OCOL_PRICE,         /* renter micro-USD/h */
	OCOL_PRICE_PER_TFLOP, /* micro-USD per TFLOPS-hour */
	OCOL_TOKEN_PRICE,   /* micro-tokens/h */
	OCOL_FEE_BPS,
	OCOL_RELIABILITY,   /* bps = 1/10000 */
	OCOL_RENTALS,
	OCOL_RATING,        /* hundredths */
	OCOL_INTERRUPTIBLE, /* 0/1 */
	OCOL_JUPYTER,       /* 0/1 */
	OCOL_NET_UP,
	OCOL_NET_DOWN,
	OCOL_CPU_CORES,
	OCOL_RAM,
	OCOL_DISK,
	OCOL_DRIVER,
	OCOL_CUDA,
	OCOL_NUM_COUNT
};

/* String columns; matched case-insensitively. */
enum offer_str {
	OSTR_GPU,
	OSTR_COUNTRY,
	OSTR_REGION,
	OSTR_TOKEN,
	OSTR_PROVIDER,      /* "0x" + 40 lowercase hex digits */
	OSTR_ISOLATION,     /* "container" / "account" */
	OSTR_IMAGES,        /* a set: "a,b,c"; a filter value matches when it is one of them */
	OSTR_COUNT
};

/* Key of a column whose value is unknown: above every known key. */
#define OFFER_KEY_UNKNOWN INT64_MAX
/* Largest key of a known value. */
#define OFFER_KEY_KNOWN_MAX (INT64_MAX - 1)

/*
 * Checks every field of `o` against its cap and charset and fills the
 * derived prices. ERR_INVALID / ERR_RANGE name the field. On failure `o` is
 * untouched.
 */
int offer_derive(struct offer *o, struct err *e);

/* Key of numeric column `c` (see enum offer_col); needs offer_derive first. */
int64_t offer_col_key(const struct offer *o, enum offer_col c);

/*
 * Writes string column `c` into out (room OFFER_STR_MAX) as stored
 * (provider as lowercase 0x-hex) and returns out.
 */
#define OFFER_STR_MAX OFFER_IMAGES_MAX
const char *offer_col_str(char out[OFFER_STR_MAX], const struct offer *o,
			  enum offer_str c);

/*
 * Provider's share after the platform fee, micro-USD/h, rounded down (never
 * overstates what the provider gets); OFFER_UNKNOWN when the price is.
 */
uint64_t offer_provider_net_usd_micro(const struct offer *o);

/* True when s[0..n) is an instance image name: 1..32 of [a-z0-9._-], starting with a letter or digit. */
bool offer_image_name_ok(const char *s, size_t n);

/*
 * True when `images` is "" or image names joined by single commas, none twice, shorter than
 * OFFER_IMAGES_MAX.
 */
bool offer_images_ok(const char *images);

/* True when the comma-separated set `images` holds name[0..n). */
bool offer_images_has(const char *images, const char *name, size_t n);

/*
 * True when the query q (n bytes) names GPU model `model`: case-insensitively, q's words (split at '_',
 * '-', ' ' and '.') are a run of the model's words. "A100", "a100_80gb", "nvidia a100" and
 * "NVIDIA_A100_80GB" name NVIDIA_A100_80GB; "A10" does not (another GPU), nor does "80GB_A100".
 */
bool offer_gpu_matches(const char *model, const char *q, size_t n);

/*
 * True when q (n bytes) names the token whose symbol is `sym`: the same case-insensitively, or sym is
 * the dev chain's stand-in for it ("dUSDC" for "USDC"), as `rent --token` accepts.
 */
bool offer_token_matches(const char *sym, const char *q, size_t n);

#endif

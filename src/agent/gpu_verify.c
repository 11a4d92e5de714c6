/*
 * gpu_verify.c — the renter's re-check of a rental's GPUs (gpu_verify.h): the script, its output read back,
 * the comparison with the listing, the report and the evidence record.
 */
#include "agent/gpu_verify.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define VRAM_SLACK 0.02 /* drivers report a little less than the card's nominal memory */

int verify_listing_from_offer(struct verify_listing *out, const json_t *o, struct err *e)
{
	const char *hash, *gpu;
	uint64_t n, vram, f32 = 0, f16 = 0, bw = 0;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = json_get_str(&hash, o, "offer_hash", 66, e)) || (rc = json_get_str(&gpu, o, "gpu", 63, e)) ||
	    (rc = json_get_u64(&n, o, "num_gpus", e)) || (rc = json_get_u64(&vram, o, "vram_mib", e)))
		return rc;
	if (n < 1 || n > GPU_MAX)
		return err_set(e, ERR_INVALID, "offer: num_gpus %llu out of 1..%d", (unsigned long long)n, GPU_MAX);
	if (json_object_get(o, "tflops32_milli") && (rc = json_get_u64(&f32, o, "tflops32_milli", e)))
		return rc;
	if (json_object_get(o, "tflops16_milli") && (rc = json_get_u64(&f16, o, "tflops16_milli", e)))
		return rc;
	if (json_object_get(o, "bandwidth_gbps") && (rc = json_get_u64(&bw, o, "bandwidth_gbps", e)))
		return rc;
	snprintf(out->offer_hash, sizeof out->offer_hash, "%s", hash);
	snprintf(out->gpu, sizeof out->gpu, "%s", gpu);
	out->num_gpus = (unsigned)n;
	out->vram_mib = vram;
	out->fp32_tflops = (double)f32 / 1000.0;
	out->fp16_tflops = (double)f16 / 1000.0;
	out->mem_bw_gbps = (double)bw;
	out->verified = json_is_true(json_object_get(o, "verified"));
	out->simulated = json_is_true(json_object_get(o, "simulated"));
	return 0;
}

int verify_script(struct buf *out, bool upload)
{
	return buf_printf(
		out,
		"set -u\n"
		"d=$(mktemp -d 2>/dev/null) || { d=/tmp/fm-verify-$$; mkdir -m 700 \"$d\" || exit 90; }\n"
		"trap 'rm -rf \"$d\"' EXIT\n"
		"cat > \"$d/payload\"\n"
		"echo @@smi-begin\n"
		"nvidia-smi --query-gpu=index,name,memory.total,uuid,pci.bus_id,driver_version "
		"--format=csv,noheader,nounits 2>&1\n"
		"echo \"@@smi-end $?\"\n"
		"B=\n"
		"if [ %s = upload ]; then chmod 700 \"$d/payload\" && B=\"$d/payload\" && echo '@@bench-source uploaded the renter'\\''s binary'\n"
		"elif command -v nvcc >/dev/null 2>&1; then\n"
		"  mv \"$d/payload\" \"$d/gpubench.cu\"\n"
		"  if nvcc -O3 -std=c++17 -arch=native -o \"$d/gpubench\" \"$d/gpubench.cu\" >\"$d/nvcc.log\" 2>&1 ||\n"
		"     nvcc -O3 -std=c++17 -gencode arch=compute_75,code=compute_75 -gencode arch=compute_80,code=sm_80 "
		"-gencode arch=compute_90,code=sm_90 -o \"$d/gpubench\" \"$d/gpubench.cu\" >\"$d/nvcc.log\" 2>&1; then\n"
		"    B=\"$d/gpubench\"; echo \"@@bench-source compiled in the rental from this CLI's source, $(nvcc --version | tail -1)\"\n"
		"  else echo \"@@bench-source none nvcc failed: $(tail -1 \"$d/nvcc.log\")\"; fi\n"
		"elif command -v flopmarket-gpubench >/dev/null 2>&1; then\n"
		"  B=$(command -v flopmarket-gpubench); echo \"@@bench-source provider $B (the provider's binary, on the rental's PATH)\"\n"
		"else echo '@@bench-source none no nvcc and no flopmarket-gpubench in the rental (give --gpubench FILE)'; fi\n"
		"if [ -n \"$B\" ]; then\n"
		"  n=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')\n"
		"  i=0\n"
		"  while [ \"$i\" -lt \"$n\" ]; do\n"
		"    echo \"@@bench $i\"; \"$B\" \"$i\" >\"$d/out\" 2>&1; rc=$?; tail -n 3 \"$d/out\"; echo \"@@bench-end $rc\"\n"
		"    i=$((i+1))\n"
		"  done\n"
		"fi\n"
		"echo @@end\n",
		upload ? "upload" : "source");
}

/* The next line of t (up to '\n'), its length in *len; NULL at the end. */
static const char *next_line(const char **p, const char *end, size_t *len)
{
	const char *s = *p, *nl;

	if (s >= end)
		return NULL;
	nl = memchr(s, '\n', (size_t)(end - s));
	*len = (size_t)((nl ? nl : end) - s);
	if (*len && s[*len - 1] == '\r')
		(*len)--;
	*p = nl ? nl + 1 : end;
	return s;
}

static bool starts(const char *s, size_t len, const char *prefix)
{
	size_t k = strlen(prefix);
	return len >= k && memcmp(s, prefix, k) == 0;
}

/* A section's text: the CSV of nvidia-smi, or a benchmark's output. */
static void section_end(struct verify_seen *out, int kind, long idx, struct buf *sec, int status)
{
	struct err e = { 0 };

	if (kind == 1) {
		out->smi_ran = true;
		out->smi_status = status;
		if (status == 0 && gpu_smi_csv_parse(&out->smi, buf_cstr(sec), sec->len, &e) == 0)
			return;
		out->smi.gpu_count = 0;
		snprintf(out->smi_why, sizeof out->smi_why, "%.*s", (int)strcspn(buf_cstr(sec), "\n"),
			 sec->len ? buf_cstr(sec) : (e.msg[0] ? e.msg : "no output"));
		if (!out->smi_why[0])
			snprintf(out->smi_why, sizeof out->smi_why, "%.180s", e.msg[0] ? e.msg : "no output");
	} else if (kind == 2 && idx >= 0 && idx < GPU_MAX) {
		struct gpubench_result *r = &out->bench[idx];
		const char *t = buf_cstr(sec), *brace = strrchr(t, '{');
		memset(r, 0, sizeof *r);
		while (brace && brace > t && brace[-1] != '\n')
			brace--;
		if (status == 0 && brace && gpubench_parse(r, brace, strlen(brace), &e) == 0) {
			r->device = (unsigned)idx;
		} else {
			size_t l = strcspn(t, "\n");
			snprintf(r->why, sizeof r->why, "gpubench %s %d: %.*s", status ? "exited" : "output not understood,",
				 status, (int)(l > 150 ? 150 : l), t);
		}
		if ((size_t)idx + 1 > out->nbench)
			out->nbench = (size_t)idx + 1;
	}
}

int verify_parse(struct verify_seen *out, const char *text, size_t n, struct err *e)
{
	const char *p = text, *end = text + n, *s;
	struct buf sec;
	size_t len;
	int kind = 0; /* 0 none, 1 smi, 2 bench */
	long idx = -1;

	memset(out, 0, sizeof *out);
	if (n > VERIFY_OUTPUT_MAX)
		return err_set(e, ERR_TOO_BIG, "the rental printed over %zu bytes", VERIFY_OUTPUT_MAX);
	buf_init(&sec, VERIFY_OUTPUT_MAX);
	while ((s = next_line(&p, end, &len))) {
		if (starts(s, len, "@@smi-begin")) {
			kind = 1;
			buf_reset(&sec);
		} else if (starts(s, len, "@@smi-end") && kind == 1) {
			section_end(out, 1, -1, &sec, len > 10 ? atoi(s + 10) : -1);
			kind = 0;
		} else if (starts(s, len, "@@bench-source ")) {
			static const struct { const char *w; enum verify_source v; } src[] = {
				{ "uploaded", VERIFY_SRC_UPLOADED }, { "compiled", VERIFY_SRC_COMPILED },
				{ "provider", VERIFY_SRC_PROVIDER }, { "none", VERIFY_SRC_NONE } };
			const char *w = s + 15;
			size_t wl = len - 15;
			for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
				if (starts(w, wl, src[i].w)) {
					size_t k = strlen(src[i].w) + (wl > strlen(src[i].w));
					out->source = src[i].v;
					snprintf(out->source_detail, sizeof out->source_detail, "%.*s", (int)(wl - k), w + k);
				}
		} else if (starts(s, len, "@@bench-end") && kind == 2) {
			section_end(out, 2, idx, &sec, len > 12 ? atoi(s + 12) : -1);
			kind = 0;
		} else if (starts(s, len, "@@bench ")) {
			kind = 2;
			idx = strtol(s + 8, NULL, 10);
			buf_reset(&sec);
		} else if (starts(s, len, "@@end")) {
			out->complete = true;
		} else if (kind) {
			if (buf_append(&sec, s, len) || buf_append_byte(&sec, '\n'))
				break;
		}
	}
	buf_release(&sec);
	if (!out->smi_ran)
		return err_set(e, ERR_INVALID, "the rental's output has no nvidia-smi section (did the script run?)");
	return 0;
}

static void add(struct verify_result *r, const char *what, bool gap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add(struct verify_result *r, const char *what, bool gap, const char *fmt, ...)
{
	struct verify_finding *f;
	va_list ap;

	if (r->n == VERIFY_FINDINGS_MAX)
		return;
	f = &r->f[r->n++];
	snprintf(f->what, sizeof f->what, "%s", what);
	f->gap = gap;
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof f->text, fmt, ap);
	va_end(ap);
	r->gaps += gap;
}

/* One figure of GPU i against the listing's. */
static void figure(struct verify_result *r, const char *what, unsigned i, double got, double listed, const char *unit,
		   unsigned tol)
{
	double pct;

	if (!(listed > 0))
		return;
	if (!(got > 0)) {
		add(r, what, false, "GPU %u: %s not measured (the listing says %.2f %s)", i, what, listed, unit);
		return;
	}
	pct = (got - listed) / listed * 100.0;
	if (got < listed * (1.0 - tol / 100.0))
		add(r, what, true, "GPU %u: %.2f %s measured, %.2f listed (%+.0f %%): below the listing by more than %u %%",
		    i, got, unit, listed, pct, tol);
	else
		add(r, what, false, "GPU %u: %.2f %s measured, %.2f listed (%+.0f %%)", i, got, unit, listed, pct);
}

void verify_compare(struct verify_result *r, const struct verify_listing *l, const struct verify_seen *s,
		    unsigned tol)
{
	const struct gpu_host *h = &s->smi;
	bool all_measured = h->gpu_count > 0;

	memset(r, 0, sizeof *r);
	if (tol > 90)
		tol = 90;
	if (h->gpu_count < l->num_gpus)
		add(r, "gpus", true, "the listing says %u GPU(s), the rental sees %zu%s%s", l->num_gpus, h->gpu_count,
		    h->gpu_count ? "" : ": nvidia-smi says ", h->gpu_count ? "" : (s->smi_why[0] ? s->smi_why : "nothing"));
	else
		add(r, "gpus", false, "%zu GPU(s) seen, %u listed", h->gpu_count, l->num_gpus);
	if (h->gpu_count) {
		char slug[GPU_SLUG_MAX + 1];
		uint64_t vmin = UINT64_MAX;
		gpu_model_slug(slug, h->gpus[0].name);
		if (strcasecmp(slug, l->gpu) != 0)
			add(r, "model", true, "the rental has %s (%s), the listing says %s", h->gpus[0].name, slug, l->gpu);
		else
			add(r, "model", false, "%s, as listed", h->gpus[0].name);
		for (size_t i = 0; i < h->gpu_count; i++)
			if (h->gpus[i].vram_mib < vmin)
				vmin = h->gpus[i].vram_mib;
		if ((double)vmin < (double)l->vram_mib * (1.0 - VRAM_SLACK))
			add(r, "vram", true, "%llu MiB per GPU seen, %llu listed", (unsigned long long)vmin,
			    (unsigned long long)l->vram_mib);
		else
			add(r, "vram", false, "%llu MiB per GPU seen, %llu listed", (unsigned long long)vmin,
			    (unsigned long long)l->vram_mib);
	}
	if (s->source == VERIFY_SRC_NONE && h->gpu_count)
		add(r, "benchmark", false, "not run: %s", s->source_detail[0] ? s->source_detail : "no benchmark");
	for (size_t i = 0; i < h->gpu_count; i++) {
		const struct gpubench_result *b = i < s->nbench ? &s->bench[i] : NULL;
		if (!b || !b->verified) {
			all_measured = false;
			if (b && s->source != VERIFY_SRC_NONE)
				add(r, "benchmark", false, "GPU %zu: not measured: %s", i, b->why);
			continue;
		}
		figure(r, "fp32", (unsigned)i, b->fp32_tflops, l->fp32_tflops, "TFLOPS", tol);
		figure(r, "fp16", (unsigned)i, b->fp16_tflops, l->fp16_tflops, "TFLOPS", tol);
		figure(r, "memory", (unsigned)i, b->mem_bw_gbps, l->mem_bw_gbps, "GB/s", tol);
	}
	if (!(l->fp32_tflops > 0) && !(l->fp16_tflops > 0) && !(l->mem_bw_gbps > 0))
		add(r, "benchmark", false, "the listing publishes no benchmark figures (%s): only GPUs, model and VRAM are compared",
		    l->simulated ? "a simulated host" : "unverified");
	r->figures_checked = all_measured;
	r->verdict = r->gaps ? "gap" : (all_measured || !(l->fp32_tflops > 0)) && h->gpu_count ? "matches" : "inconclusive";
}

static const char *source_name(enum verify_source s)
{
	switch (s) {
	case VERIFY_SRC_UPLOADED: return "uploaded";
	case VERIFY_SRC_COMPILED: return "compiled";
	case VERIFY_SRC_PROVIDER: return "provider";
	default: return "none";
	}
}

int verify_report(struct buf *out, uint64_t rental, const struct verify_listing *l, const struct verify_seen *s,
		  const struct verify_result *r, unsigned tol)
{
	int rc = buf_printf(out, "verify: rental %llu, offer %.14s…: %u x %s, %llu MiB%s\n", (unsigned long long)rental,
			    l->offer_hash, l->num_gpus, l->gpu, (unsigned long long)l->vram_mib,
			    l->verified ? ", benchmark-verified listing" : "");

	if (!rc)
		rc = s->source == VERIFY_SRC_NONE
			     ? buf_printf(out, "  benchmark: not run: %s\n", s->source_detail[0] ? s->source_detail : "none")
			     : buf_printf(out, "  benchmark: %s %s\n", source_name(s->source), s->source_detail);
	for (size_t i = 0; i < r->n && !rc; i++)
		rc = buf_printf(out, "  %-4s %-9s %s\n", r->f[i].gap ? "GAP" : "ok", r->f[i].what, r->f[i].text);
	if (!rc)
		rc = buf_printf(out, "verdict: %s%s (tolerance %u %%)\n", r->verdict,
				!strcmp(r->verdict, "gap") ? ": the rental does not match its listing" :
				!strcmp(r->verdict, "inconclusive") ? ": the figures could not be measured" : "",
				tol);
	return rc;
}

json_t *verify_evidence(uint64_t rental, const char *server, int64_t at, const struct verify_listing *l,
			const struct verify_seen *s, const struct verify_result *r, unsigned tol, const char *raw,
			size_t raw_len)
{
	json_t *o = json_object(), *f = json_array(), *g = json_array(), *b = json_array(), *lj;

	if (!o || !f || !g || !b)
		goto fail;
	for (size_t i = 0; i < r->n; i++)
		json_array_append_new(f, json_pack("{s:s, s:b, s:s}", "what", r->f[i].what, "gap", r->f[i].gap, "text",
						   r->f[i].text));
	for (size_t i = 0; i < s->smi.gpu_count; i++)
		json_array_append_new(g, json_pack("{s:i, s:s, s:I, s:s}", "index", (int)s->smi.gpus[i].index, "name",
						   s->smi.gpus[i].name, "vram_mib", (json_int_t)s->smi.gpus[i].vram_mib,
						   "uuid", s->smi.gpus[i].uuid));
	for (size_t i = 0; i < s->nbench; i++) {
		const struct gpubench_result *x = &s->bench[i];
		json_array_append_new(b, x->verified ? json_pack("{s:i, s:s, s:f, s:f, s:f}", "device", (int)i, "name",
								  x->name, "fp32_tflops", x->fp32_tflops,
								  "fp16_tflops", x->fp16_tflops, "mem_bw_gbps",
								  x->mem_bw_gbps)
						     : json_pack("{s:i, s:s}", "device", (int)i, "not_measured", x->why));
	}
	lj = json_pack("{s:s, s:s, s:i, s:I, s:f, s:f, s:f, s:b, s:b}", "offer_hash", l->offer_hash, "gpu", l->gpu,
		       "num_gpus", (int)l->num_gpus, "vram_mib", (json_int_t)l->vram_mib, "fp32_tflops", l->fp32_tflops,
		       "fp16_tflops", l->fp16_tflops, "mem_bw_gbps", l->mem_bw_gbps, "verified", l->verified,
		       "simulated", l->simulated);
	json_object_set_new(o, "verify", json_integer(1));
	json_object_set_new(o, "rental", json_integer((json_int_t)rental));
	json_object_set_new(o, "server", json_string(server ? server : ""));
	json_object_set_new(o, "checked_at", json_integer(at));
	json_object_set_new(o, "tolerance_pct", json_integer(tol));
	json_object_set_new(o, "listing", lj ? lj : json_null());
	json_object_set_new(o, "gpus_seen", g);
	json_object_set_new(o, "benchmark_source", json_string(source_name(s->source)));
	json_object_set_new(o, "benchmark_detail", json_string(s->source_detail));
	json_object_set_new(o, "benchmarks", b);
	json_object_set_new(o, "findings", f);
	json_object_set_new(o, "verdict", json_string(r->verdict));
	{ /* printable ASCII and line breaks only, so the record is valid JSON text whatever came back */
		char *clean = malloc(raw_len + 1);
		if (!clean)
			goto fail;
		for (size_t i = 0; i < raw_len; i++) {
			unsigned char c = (unsigned char)raw[i];
			clean[i] = (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) ? (char)c : '?';
		}
		clean[raw_len] = '\0';
		json_object_set_new(o, "raw_output", json_string(clean));
		free(clean);
	}
	return o;
fail:
	json_decref(o);
	json_decref(f);
	json_decref(g);
	json_decref(b);
	return NULL;
}

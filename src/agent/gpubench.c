/*
 * gpubench.c — runs build/gpubench and parses its JSON (see gpubench.h).
 */
#include "agent/gpubench.h"

#include "agent/gpu.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"
#include "core/proc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A figure: finite, 0 <= v <= cap. */
static int figure(double *out, const json_t *obj, const char *field, double cap, bool nullable,
		  struct err *e)
{
	const json_t *v = json_object_get(obj, field);

	if (!v || json_is_null(v)) {
		if (nullable) {
			*out = 0;
			return 0;
		}
		return err_set(e, ERR_NOT_FOUND, "gpubench: field '%s' missing", field);
	}
	if (!json_is_number(v))
		return err_set(e, ERR_INVALID, "gpubench: field '%s' not a number", field);
	*out = json_number_value(v);
	if (!isfinite(*out) || *out < 0 || *out > cap)
		return err_set(e, ERR_RANGE, "gpubench: field '%s' out of range", field);
	return 0;
}

static int text_field(char *dst, size_t cap, const json_t *obj, const char *field,
		      struct err *e)
{
	const char *s;
	int rc = json_get_str(&s, obj, field, cap - 1, e);

	if (rc)
		return rc;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return err_set(e, ERR_INVALID, "gpubench: field '%s' has a bad character",
				       field);
	strcpy(dst, s);
	return 0;
}

int gpubench_parse(struct gpubench_result *out, const char *text, size_t n, struct err *e)
{
	struct gpubench_result r;
	json_t *root = NULL;
	uint64_t dev = 0, version = 0;
	int rc;

	memset(&r, 0, sizeof r);
	if ((rc = json_parse(&root, text, n, GPUBENCH_OUTPUT_MAX, e)))
		return rc;
	if (!json_is_object(root)) {
		rc = err_set(e, ERR_INVALID, "gpubench: output is not a JSON object");
		goto done;
	}
	if ((rc = json_get_u64(&version, root, "gpubench", e)))
		goto done;
	if (version != 1) {
		rc = err_set(e, ERR_UNSUPPORTED, "gpubench: output version %llu",
			     (unsigned long long)version);
		goto done;
	}
	if ((rc = json_get_u64(&dev, root, "device", e)))
		goto done;
	if (dev > 1024) {
		rc = err_set(e, ERR_RANGE, "gpubench: field 'device' out of range");
		goto done;
	}
	r.device = (unsigned)dev;
	if ((rc = text_field(r.name, sizeof r.name, root, "name", e)) ||
	    (rc = text_field(r.cc, sizeof r.cc, root, "cc", e)) ||
	    (rc = figure(&r.fp32_tflops, root, "fp32_tflops", 1e5, false, e)) ||
	    (rc = figure(&r.fp16_tflops, root, "fp16_tflops", 1e6, true, e)) ||
	    (rc = figure(&r.mem_bw_gbps, root, "mem_bw_gbps", 1e6, false, e)))
		goto done;
	r.verified = true;
	*out = r;
done:
	json_decref(root);
	return rc;
}

static void unverified(struct gpubench_result *out, const char *why)
{
	memset(out, 0, sizeof *out);
	snprintf(out->why, sizeof out->why, "%s", why);
}

int gpubench_run_argv(struct gpubench_result *out, char *const argv[], unsigned timeout_s)
{
	char why[256];
	struct buf o;
	struct err e = { 0 };
	int status = 0, rc;

	buf_init(&o, GPUBENCH_OUTPUT_MAX);
	rc = proc_run(&o, &status, argv, (timeout_s ? timeout_s : 120) * 1000u, &e);
	if (rc) {
		snprintf(why, sizeof why, "gpubench: %.200s", e.msg);
	} else if (status != 0) {
		/* stderr and stdout share the pipe: the last line is its message. */
		const char *t = buf_cstr(&o), *line = t, *p;
		size_t l;
		for (p = t; *p; p++)
			if (*p == '\n' && p[1])
				line = p + 1;
		l = strcspn(line, "\r\n");
		snprintf(why, sizeof why, "gpubench exited %d: %.*s", status,
			 (int)(l > 150 ? 150 : l), line);
	} else {
		/* stdout's JSON object is the last line; earlier lines are warnings. */
		const char *t = buf_cstr(&o), *brace = strrchr(t, '{');
		const char *start = brace;
		while (start && start > t && start[-1] != '\n')
			start--;
		if (!start || gpubench_parse(out, start, strlen(start), &e) != 0)
			snprintf(why, sizeof why, "gpubench output not understood: %.200s",
				 start ? e.msg : "no JSON");
		else
			why[0] = '\0';
	}
	buf_release(&o);
	if (why[0])
		unverified(out, why);
	return 0;
}

int gpubench_run(struct gpubench_result *out, const char *exe, unsigned device, bool has_gpu,
		 unsigned timeout_s)
{
	char dev[16], why[256];
	char *argv[3];

	if (!exe)
		exe = "build/gpubench";
	if (!has_gpu) {
		unverified(out, "no GPU on this host");
		return 0;
	}
	if (access(exe, X_OK)) {
		snprintf(why, sizeof why, "no gpubench binary at %.150s (built only where nvcc exists)",
			 exe);
		unverified(out, why);
		return 0;
	}
	snprintf(dev, sizeof dev, "%u", device);
	argv[0] = (char *)exe;
	argv[1] = dev;
	argv[2] = NULL;
	return gpubench_run_argv(out, argv, timeout_s);
}

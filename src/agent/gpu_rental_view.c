/*
 * gpu_rental_view.c — a throwaway rental account, and what nvidia-smi and the CUDA benchmark say as
 * that user (gpu_rental_view.h). Everything it makes lives in one temp dir (state, homes, the copy of
 * the benchmark) that is removed at the end; the account goes through account_teardown like a
 * rental's.
 */
#include "agent/gpu_rental_view.h"
#include "agent/account.h"
#include "agent/gpu_peak.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VIEW_OUTPUT_MAX ((size_t)64 << 10)
#define SMI_QUERY "--query-gpu=index,name,memory.total,uuid,pci.bus_id,driver_version"
/* The login shell's -c command: from the home, exec the tool with its arguments ($0 "$@"). */
#define VIEW_SHELL_CMD "cd && exec \"$0\" \"$@\""

static void skipped(struct gpu_rental_view *v, const char *why)
{
	v->ran = false;
	snprintf(v->why, sizeof v->why, "%s", why);
}

/* An absolute path for `prog`: itself when it has a '/', else the first executable in PATH. */
static int resolve(char *out, size_t cap, const char *prog)
{
	const char *path = getenv("PATH");

	if (!*prog)
		return -1;
	if (strchr(prog, '/'))
		return snprintf(out, cap, "%s", prog) < (int)cap && access(out, X_OK) == 0 ? 0 : -1;
	for (const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
		size_t l = strcspn(p, ":");
		if (l && snprintf(out, cap, "%.*s/%s", (int)l, p, prog) < (int)cap && out[0] == '/' &&
		    access(out, X_OK) == 0)
			return 0;
		p += l + (p[l] == ':');
	}
	return -1;
}

/* Copies the benchmark to `to` (0755) so the account can run it whatever the source dir's mode. */
static int copy_exe(const char *from, const char *to, struct err *e)
{
	struct buf b;
	int rc;

	buf_init(&b, (size_t)64 << 20);
	if (!(rc = file_read(&b, from, e)) && !(rc = file_write_atomic(to, b.data, b.len, 0755, e)) && chmod(to, 0755))
		rc = err_set(e, ERR_IO, "%s: %s", to, strerror(errno)); /* whatever the umask */
	buf_release(&b);
	return rc;
}

/* An authorized_keys line for a random ed25519 public key: nobody holds its private half. */
static void random_key(char *out, size_t cap)
{
	unsigned char blob[4 + 11 + 4 + 32] = { 0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1', '9',
						0, 0, 0, 32 };
	char b64[sizeof blob * 4 / 3 + 8];

	randombytes_buf(blob + 19, 32);
	sodium_bin2base64(b64, sizeof b64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, cap, "ssh-ed25519 %s flopmarket-gpu-check", b64);
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	return (type == FTW_DP ? rmdir(p) : unlink(p)) && errno != ENOENT ? -1 : 0;
}

/* Removes the (now empty) cgroup parents the account's leaves sat in; one still in use stays. */
static void rmdir_parents(const struct cgroup_set *cg)
{
	for (size_t i = 0; i < cg->count; i++) {
		char p[sizeof cg->dir[0]];
		char *slash;
		snprintf(p, sizeof p, "%s", cg->dir[i]);
		if ((slash = strrchr(p, '/')))
			*slash = '\0';
		(void)rmdir(p);
	}
}

/* argv for running tool (+ up to two arguments) as the account, through its login shell. */
static void as_account(char *argv[16], char ids[2][32], const char *setpriv, const struct account *a,
		       const char *tool, const char *a1, const char *a2)
{
	size_t i = 0;

	snprintf(ids[0], 32, "--reuid=%ld", a->uid);
	snprintf(ids[1], 32, "--regid=%ld", a->gid);
	argv[i++] = (char *)setpriv;
	argv[i++] = ids[0];
	argv[i++] = ids[1];
	argv[i++] = "--init-groups";
	argv[i++] = "--reset-env";
	argv[i++] = "--";
	argv[i++] = (char *)a->shell;
	argv[i++] = "-c";
	argv[i++] = VIEW_SHELL_CMD;
	argv[i++] = (char *)tool;
	if (a1)
		argv[i++] = (char *)a1;
	if (a2)
		argv[i++] = (char *)a2;
	argv[i] = NULL;
}

/* nvidia-smi as the account: which of the host's GPUs it lists. */
static void view_smi(struct gpu_rental_view *v, const struct gpu_host *h, const char *setpriv,
		     const struct account *a, const char *smi, unsigned timeout_s)
{
	struct gpu_host *seen = calloc(1, sizeof *seen);
	char *argv[16], ids[2][32];
	struct err e = { 0 };
	struct buf o;
	int status = 0;

	if (!seen) {
		snprintf(v->why, sizeof v->why, "out of memory");
		return;
	}
	as_account(argv, ids, setpriv, a, smi, SMI_QUERY, "--format=csv,noheader,nounits");
	buf_init(&o, VIEW_OUTPUT_MAX);
	if (proc_run(&o, &status, argv, timeout_s * 1000u, &e)) {
		snprintf(v->why, sizeof v->why, "nvidia-smi as %s: %.200s", a->name, e.msg);
	} else if (status) {
		const char *t = buf_cstr(&o);
		snprintf(v->why, sizeof v->why, "nvidia-smi as %s exited %d: %.*s", a->name, status,
			 (int)strcspn(t, "\r\n") > 160 ? 160 : (int)strcspn(t, "\r\n"), t);
	} else if (gpu_smi_csv_parse(seen, buf_cstr(&o), o.len, &e)) {
		snprintf(v->why, sizeof v->why, "nvidia-smi as %s: %.200s", a->name, e.msg);
	} else {
		v->gpus_seen = seen->gpu_count;
		snprintf(v->first_gpu, sizeof v->first_gpu, "%s", seen->gpus[0].name);
		for (size_t i = 0; i < h->gpu_count; i++) {
			bool found = false;
			for (size_t j = 0; j < seen->gpu_count && !found; j++)
				found = h->gpus[i].uuid[0] ? strcmp(h->gpus[i].uuid, seen->gpus[j].uuid) == 0
							   : h->gpus[i].index == seen->gpus[j].index;
			v->gpus_missing += !found;
		}
		if (v->gpus_missing)
			snprintf(v->why, sizeof v->why, "%zu of %zu host GPU(s) not listed by nvidia-smi as %s",
				 v->gpus_missing, h->gpu_count, a->name);
	}
	buf_release(&o);
	free(seen);
}

int gpu_rental_view_run(struct gpu_rental_view *v, const struct gpu_host *h,
			const struct gpu_rental_view_opts *opts, struct err *e)
{
	static const struct gpu_rental_view_opts none = { 0 };
	char tmp[] = "/tmp/flopmarket-gpu-check-XXXXXX", state[64], home[64], bench[64], rid[64];
	char smi[4096], setpriv[4096], key[200], hex[17];
	unsigned char rnd[8];
	struct account_cfg cfg = { 0 };
	struct account a;
	unsigned timeout_s;
	int rc = 0;

	memset(v, 0, sizeof *v);
	v->uid = -1;
	if (!opts)
		opts = &none;
	timeout_s = opts->timeout_s ? opts->timeout_s : 120;
	if (geteuid() != 0) {
		skipped(v, "needs root, as the agent's rental accounts do (run it with sudo to check what a rental sees)");
		return 0;
	}
	if (!h->gpu_count) {
		skipped(v, "no GPU on this host");
		return 0;
	}
	if (resolve(setpriv, sizeof setpriv, opts->setpriv ? opts->setpriv : "setpriv")) {
		skipped(v, "no setpriv (util-linux) to run tools as the rental's account");
		return 0;
	}
	if (resolve(smi, sizeof smi, opts->smi ? opts->smi : "nvidia-smi")) {
		v->ran = true;
		snprintf(v->why, sizeof v->why, "no nvidia-smi executable found for the account to run");
		return 0;
	}
	if (!mkdtemp(tmp) || chmod(tmp, 0755))
		return err_set(e, ERR_IO, "mkdtemp %s: %s", tmp, strerror(errno));
	snprintf(v->workdir, sizeof v->workdir, "%s", tmp);
	snprintf(state, sizeof state, "%s/state", tmp);
	snprintf(home, sizeof home, "%s/home", tmp);
	snprintf(bench, sizeof bench, "%s/gpubench", tmp);
	if (mkdir(state, 0700)) {
		rc = err_set(e, ERR_IO, "mkdir %s: %s", state, strerror(errno));
		goto out;
	}
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
	snprintf(rid, sizeof rid, "gpucheck.%s", hex);
	random_key(key, sizeof key);
	cfg.state_dir = state;
	cfg.home_base = home;
	cfg.cgroup_name = opts->cgroup_name ? opts->cgroup_name : "flopmarket-gpu-check";
	if ((rc = account_create(&a, &cfg, rid, key, e))) {
		struct err e2 = { 0 };
		snprintf(v->why, sizeof v->why, "creating the rental account: %.200s", e->msg);
		if (!account_recover(NULL, &cfg, &e2))
			goto out;
		snprintf(v->why + strlen(v->why), sizeof v->why - strlen(v->why),
			 "; its rollback failed too, state left in %s", tmp);
		goto out_kept;
	}
	v->ran = true;
	snprintf(v->account, sizeof v->account, "%s", a.name);
	v->uid = a.uid;
	view_smi(v, h, setpriv, &a, smi, timeout_s);
	{
		struct err ce = { 0 };
		const char *src = opts->gpubench ? opts->gpubench : "build/gpubench";
		if (access(src, X_OK) || copy_exe(src, bench, &ce)) {
			memset(&v->bench, 0, sizeof v->bench);
			snprintf(v->bench.why, sizeof v->bench.why, "no gpubench binary at %.150s to run as %s", src,
				 a.name);
		} else {
			char *argv[16], ids[2][32];
			as_account(argv, ids, setpriv, &a, bench, "0", NULL);
			gpubench_run_argv(&v->bench, argv, timeout_s);
		}
	}
	v->ok = !v->why[0] && v->gpus_seen && v->bench.verified;
	if ((rc = account_teardown(&cfg, a.name, e))) {
		snprintf(v->why, sizeof v->why, "removing the rental account %s: %.150s (state left in %.40s)", a.name,
			 e->msg, tmp);
		v->ok = false;
		goto out_kept;
	}
	rmdir_parents(&a.cg);
out:
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
out_kept:
	return rc;
}

int gpu_rental_view_report(struct buf *out, const struct gpu_rental_view *v, const struct gpubench_result *host)
{
	const struct gpubench_result *b = &v->bench;
	bool cmp = host && host->verified;
	int rc;

	if (!v->ran)
		return buf_printf(out, "  rental view: skipped: %s\n", v->why);
	if (!v->account[0])
		return buf_printf(out, "  rental view: FAILED: %s\n", v->why);
	rc = buf_printf(out, "  rental view: as rental account %s (uid %ld), through its login shell%s\n", v->account,
			v->uid, v->ok ? "" : ": FAILED");
	if (!rc && v->why[0])
		rc = buf_printf(out, "    %s\n", v->why);
	if (!rc && v->gpus_seen)
		rc = buf_printf(out, "    nvidia-smi  %zu GPU(s) listed, the first %s%s\n", v->gpus_seen, v->first_gpu,
				v->gpus_missing ? "" : "; every host GPU is there");
	if (rc)
		return rc;
	if (!b->verified)
		return buf_printf(out, "    benchmark   not measured: %s\n", b->why[0] ? b->why : "unknown reason");
	rc = buf_printf(out, "    benchmark   GPU 0 (%s): FP32 %.2f TFLOPS, FP16 %.2f TFLOPS, memory %.1f GB/s\n",
			b->name, b->fp32_tflops, b->fp16_tflops, b->mem_bw_gbps);
	if (!rc && cmp)
		rc = buf_printf(out, "                of the host's own run: FP32 %.0f %%, FP16 %.0f %%, memory %.0f %%\n",
				gpu_peak_ratio(b->fp32_tflops, host->fp32_tflops) * 100,
				gpu_peak_ratio(b->fp16_tflops, host->fp16_tflops) * 100,
				gpu_peak_ratio(b->mem_bw_gbps, host->mem_bw_gbps) * 100);
	return rc;
}

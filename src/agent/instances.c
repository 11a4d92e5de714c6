/*
 * instances.c — the agent's rental instances (see instances.h).
 */
#include "agent/instances.h"

#include "agent/enter.h"
#include "agent/jupyter_wire.h"
#include "agent/netguard.h"
#include "agent/volume.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/proc.h"
#include "market/offer.h"

#include <ctype.h>
#include <jansson.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP 320
#define SELF_MAX ((size_t)256 << 20)

struct instances {
	struct instances_cfg cfg;
	char agent_id[ACCOUNT_INSTANCE_MAX + 1];
	char table[NETGUARD_TABLE_MAX + 1];
	char guard_script[PATH_CAP];
	char volumes[PATH_CAP];
	char enter_bin[PATH_CAP];
	char enter_sock[PATH_CAP];
	uint64_t memory_bytes, pids_max;
	const char *devices[INSTANCE_DEVICES_MAX + 1];
	char device_store[INSTANCE_DEVICES_MAX][64];
	struct enter *broker;
	char jupyter_run[PATH_CAP];   /* <jupyter_run>/<name>: an instance's notebook socket dir */
	bool image_jupyter[INSTANCES_IMAGES_MAX];
};

static const char *const default_dns[] = { "1.1.1.1", "8.8.8.8", NULL };

static void probe_jupyter(struct instances *in);

bool instances_image_name_ok(const char *name)
{
	return name && offer_image_name_ok(name, strlen(name));
}

int instances_image_parse(struct instances_image *img, char *s, struct err *e)
{
	char *eq = s ? strchr(s, '=') : NULL;

	if (!eq)
		return err_set(e, ERR_INVALID, "image: want NAME=REFERENCE (e.g. pytorch=docker.io/pytorch/pytorch@sha256:...)");
	*eq = '\0';
	if (!instances_image_name_ok(s))
		return err_set(e, ERR_INVALID, "image name '%.40s': 1..32 of a-z 0-9 . _ -, starting with a letter or digit", s);
	if (!instance_ref_ok(eq + 1))
		return err_set(e, ERR_INVALID, "image '%s': '%.80s' is not an image reference", s, eq + 1);
	img->name = s;
	img->ref = eq + 1;
	return 0;
}

/* The rented GPUs: the CDI name when the NVIDIA container toolkit made a spec, else the device nodes. */
static void gpu_devices(struct instances *in)
{
	size_t n = 0;
	DIR *d;
	struct dirent *de;

	if (access("/etc/cdi/nvidia.yaml", R_OK) == 0 || access("/var/run/cdi/nvidia.yaml", R_OK) == 0) {
		in->devices[n++] = "nvidia.com/gpu=all";
		in->devices[n] = NULL;
		return;
	}
	d = opendir("/dev");
	while (d && (de = readdir(d)) && n < INSTANCE_DEVICES_MAX) {
		char p[64];
		struct stat st;
		if (strncmp(de->d_name, "nvidia", 6) != 0 || strlen(de->d_name) > 40)
			continue;
		snprintf(p, sizeof p, "/dev/%.40s", de->d_name);
		if (stat(p, &st) != 0 || !S_ISCHR(st.st_mode))
			continue;
		snprintf(in->device_store[n], sizeof in->device_store[n], "%s", p);
		in->devices[n] = in->device_store[n];
		n++;
	}
	if (d)
		closedir(d);
	in->devices[n] = NULL;
}

/* Copies this binary to where rental accounts can run it (their login shell). */
static int enter_install(struct instances *in, const char *home_base, struct err *e)
{
	char dir[200];
	struct buf self;
	int rc;

	if (strlen(home_base) > 150)
		return err_set(e, ERR_TOO_BIG, "home base longer than 150 bytes");
	snprintf(dir, sizeof dir, "%.150s/" ACCOUNT_SHELLS_DIR, home_base);
	if (file_mkdir_p(dir, 0755, 0755, e) || chmod(home_base, 0755) || chmod(dir, 0755))
		return err_set(e, ERR_IO, "mkdir %s: %s", dir, strerror(errno));
	snprintf(in->enter_bin, sizeof in->enter_bin, "%s/" INSTANCES_ENTER_BIN, dir);
	snprintf(in->enter_sock, sizeof in->enter_sock, "%s/%s-" ENTER_SOCKET_NAME, dir, in->agent_id);
	buf_init(&self, SELF_MAX);
	rc = file_read(&self, in->cfg.self_exe ? in->cfg.self_exe : "/proc/self/exe", e);
	if (!rc)
		rc = file_write_atomic(in->enter_bin, self.data, self.len, 0755, e);
	buf_release(&self);
	return rc;
}

static int images_check(const struct instances_cfg *c, struct err *e)
{
	if (c->n_images == 0)
		return err_set(e, ERR_INVALID, "--isolation container needs at least one --image NAME=REFERENCE");
	for (size_t i = 0; i < c->n_images; i++) {
		int rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->images[i].name, c->images[j].name) == 0)
				return err_set(e, ERR_INVALID, "image name %s given twice", c->images[i].name);
		log_info("instance image", "name=%s ref=%s", c->images[i].name, c->images[i].ref);
		if ((rc = instance_image_ensure(c->images[i].ref, e))) {
			err_wrap(e, "image %s", c->images[i].name);
			return rc;
		}
	}
	return 0;
}

int instances_start(struct instances **out, const struct instances_cfg *cfg, const char *agent_id,
		    struct account_cfg *acct, const char *state_dir, struct err *e)
{
	struct instances *in = calloc(1, sizeof *in);
	const char *const *dns;
	char why[256];
	int rc;

	if (!in)
		return ERR_NOMEM;
	in->cfg = *cfg;
	if (!in->cfg.dns[0])
		for (size_t i = 0; default_dns[i]; i++)
			in->cfg.dns[i] = default_dns[i];
	dns = in->cfg.dns;
	snprintf(in->agent_id, sizeof in->agent_id, "%s", agent_id);
	in->memory_bytes = acct->memory_max_bytes;
	in->pids_max = acct->pids_max;
	if (cfg->containers_conf && setenv("CONTAINERS_CONF", cfg->containers_conf, 1) != 0) {
		rc = err_set(e, ERR_IO, "setenv CONTAINERS_CONF: %s", strerror(errno));
		goto fail;
	}
	if (!instance_available(why, sizeof why)) {
		rc = err_set(e, ERR_UNSUPPORTED, "--isolation container: %s", why);
		goto fail;
	}
	snprintf(in->guard_script, sizeof in->guard_script, "%s/netguard.nft", state_dir);
	snprintf(in->volumes, sizeof in->volumes, "%s/volumes", state_dir);
	if ((rc = netguard_table(in->table, agent_id, e)) || (rc = images_check(&in->cfg, e)) ||
	    (rc = netguard_apply(in->table, dns, in->guard_script, e)) ||
	    (rc = enter_install(in, acct->home_base ? acct->home_base : "/home/flopmarket", e)))
		goto fail;
	gpu_devices(in);
	snprintf(in->jupyter_run, sizeof in->jupyter_run, "%s", cfg->jupyter_run_dir ? cfg->jupyter_run_dir : "/run/flopmarket/jupyter");
	probe_jupyter(in);
	{
		/* sessions start where the browser's uploads land: the volume, when there is one */
		struct enter_cfg ec = { .socket_path = in->enter_sock, .accounts = *acct,
					.workdir = in->cfg.disk_bytes ? INSTANCE_WORKSPACE : "/root" };
		if ((rc = enter_start(&in->broker, &ec, e)))
			goto fail;
	}
	acct->enter_bin = in->enter_bin;
	acct->enter_socket = in->enter_sock;
	log_info("instances ready", "images=%zu guard=%s enter=%s disk_bytes=%llu", in->cfg.n_images, in->table,
		 in->enter_sock, (unsigned long long)in->cfg.disk_bytes);
	*out = in;
	return 0;
fail:
	free(in);
	return rc;
}

/* Which images have a Jupyter program: a throwaway container of each, without network. */
static void probe_jupyter(struct instances *in)
{
	for (size_t i = 0; i < in->cfg.n_images; i++) {
		char *argv[] = { "podman", "run", "--rm", "--network", "none", (char *)in->cfg.images[i].ref, "sh", "-c",
				 "command -v jupyter-notebook || command -v jupyter-server", NULL };
		struct buf out;
		struct err e = { 0, "" };
		int status = 1;
		buf_init(&out, 4096);
		in->image_jupyter[i] = proc_run(&out, &status, argv, INSTANCE_TIMEOUT_MS, &e) == 0 && status == 0 &&
				       strstr(buf_cstr(&out), "jupyter-") != NULL;
		buf_release(&out);
		log_info("instance image", "name=%s jupyter=%s", in->cfg.images[i].name, in->image_jupyter[i] ? "yes" : "no");
	}
}

bool instances_image_jupyter(const struct instances *in, size_t i)
{
	return in && i < in->cfg.n_images && in->image_jupyter[i];
}

/* <jupyter_run>/<name> into dir. */
static int jupyter_dir(const struct instances *in, const char *name, char *dir, size_t cap, struct err *e)
{
	if ((size_t)snprintf(dir, cap, "%s/%s", in->jupyter_run, name) >= cap || strlen(dir) + 14 > 107)
		return err_set(e, ERR_TOO_BIG, "the notebook socket path of %s is too long", name);
	return 0;
}

int instances_jupyter_start(struct instances *in, const char *name, long account_uid, const char *token,
			    const char *base_url, char *sock, size_t cap, long *peer_uid, bool *classic, struct err *e)
{
	char dir[PATH_CAP], envf[PATH_CAP + 80], prog[320], f[JUPYTER_FLAGS][JUPYTER_FLAG_MAX];
	char *find[] = { "sh", "-c", "command -v jupyter-notebook || command -v jupyter-server", NULL };
	const char *workdir = in->cfg.disk_bytes ? INSTANCE_WORKSPACE : "/root";
	struct buf out;
	struct stat st;
	int status = 1, rc, fd;

	if ((rc = jupyter_dir(in, name, dir, sizeof dir, e)))
		return rc;
	if (lstat(dir, &st) || !S_ISDIR(st.st_mode))
		return err_set(e, ERR_STATE, "instance %s has no notebook socket dir (it predates Jupyter support)", name);
	buf_init(&out, 4096);
	rc = instance_exec(name, find, &out, &status, INSTANCE_TIMEOUT_MS, e);
	if (!rc && (status || !strstr(buf_cstr(&out), "jupyter-")))
		rc = err_set(e, ERR_NOT_FOUND, "this rental's image has no Jupyter (jupyter-notebook or jupyter-server)");
	if (rc) {
		buf_release(&out);
		return rc;
	}
	{
		const char *t = buf_cstr(&out);
		size_t l = strcspn(t, "\r\n");
		snprintf(prog, sizeof prog, "%.*s", (int)(l < 300 ? l : 300), t);
	}
	buf_release(&out);
	*classic = strstr(prog, "notebook") != NULL;
	jupyter_server_flags(f, *classic, INSTANCE_JUPYTER_DIR "/jupyter.sock", base_url, workdir);
	char *cmd[] = { prog, "--allow-root", f[0], f[1], f[2], f[3], f[4], f[5], NULL };
	/* the token in a file only root reads, for podman's --env-file: never on a command line */
	snprintf(envf, sizeof envf, "%s/.env-%s", in->jupyter_run, name);
	unlink(envf);
	fd = open(envf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(e, ERR_IO, "%s: %s", envf, strerror(errno));
	if (dprintf(fd, "JUPYTER_TOKEN=%s\nHOME=/root\nLANG=C.UTF-8\n", token) < 0 || close(fd)) {
		unlink(envf);
		return err_set(e, ERR_IO, "%s: %s", envf, strerror(errno));
	}
	snprintf(sock, cap, "%s/jupyter.sock", dir);
	unlink(sock); /* an earlier server's */
	rc = instance_exec_detached(name, envf, workdir, cmd, e);
	unlink(envf);
	*peer_uid = (long)instance_uid_base(account_uid);
	return rc;
}

void instances_stop(struct instances *in)
{
	char *names = NULL;
	size_t n = 1;
	struct err e = { 0, "" };

	if (!in)
		return;
	enter_stop(in->broker);
	/* live instances stay guarded while the agent is down; with none left, the guard goes too */
	if (instance_list(&names, &n, in->agent_id, &e) == 0 && n == 0 && netguard_remove(in->table, &e))
		log_warn("cannot remove the instance guard", "table=%s err=\"%s\"", in->table, e.msg);
	free(names);
	free(in);
}

json_t *instances_images_json(const struct instances *in)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < in->cfg.n_images; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "name", in->cfg.images[i].name, "ref",
						   in->cfg.images[i].ref, "jupyter", in->image_jupyter[i]));
	return a;
}

int instances_image_ref(const struct instances *in, const char *name, const char **ref, struct err *e)
{
	char list[INSTANCES_IMAGES_MAX * (INSTANCES_IMAGE_NAME_MAX + 2)] = "";
	size_t len = 0;

	if (!name || !*name) {
		*ref = in->cfg.images[0].ref;
		return 0;
	}
	for (size_t i = 0; i < in->cfg.n_images; i++) {
		if (strcmp(in->cfg.images[i].name, name) == 0) {
			*ref = in->cfg.images[i].ref;
			return 0;
		}
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", in->cfg.images[i].name);
	}
	return err_set(e, ERR_NOT_FOUND, "image '%.40s' is not offered here (offered: %s)", name, list);
}

int instances_ensure(struct instances *in, const struct account *acc, const char *image, struct err *e)
{
	struct instance_spec s;
	char bridge[64], vol[PATH_CAP], jdir[PATH_CAP], rental[ACCOUNT_RENTAL_ID_MAX + 1];
	const char *ref = NULL;
	int rc;

	if ((rc = instances_image_ref(in, image, &ref, e)))
		return rc;
	if (acc->uid < 1000)
		return err_set(e, ERR_STATE, "account %s has no user yet", acc->name);
	memset(&s, 0, sizeof s);
	snprintf(rental, sizeof rental, "%s", acc->rental_id);
	s.name = acc->name;
	s.image = ref;
	s.rental = rental;
	s.agent = in->agent_id;
	s.uid_base = instance_uid_base(acc->uid);
	s.memory_bytes = in->memory_bytes;
	s.pids_max = in->pids_max;
	s.cpus_milli = in->cfg.cpus_milli;
	memcpy(s.devices, in->devices, sizeof s.devices);
	memcpy(s.dns, in->cfg.dns, sizeof s.dns);
	if (in->cfg.disk_bytes) {
		if ((rc = volume_create(vol, sizeof vol, in->volumes, acc->name, in->cfg.disk_bytes, s.uid_base, e)))
			return rc;
		s.volume_dir = vol;
	}
	{ /* the notebook's socket dir: root inside's, 0700, under a root-owned 0711 parent */
		struct stat st;
		if ((rc = jupyter_dir(in, acc->name, jdir, sizeof jdir, e)))
			return rc;
		if (file_mkdir_p(in->jupyter_run, 0755, 0711, e) || (mkdir(jdir, 0700) && errno != EEXIST) || lstat(jdir, &st) ||
		    !S_ISDIR(st.st_mode) || lchown(jdir, s.uid_base, s.uid_base) || chmod(jdir, 0700))
			return err_set(e, ERR_IO, "%s: %s", jdir, strerror(errno ? errno : ENOTDIR));
		s.jupyter_dir = jdir;
	}
	if ((rc = instance_create(&s, bridge, sizeof bridge, e)) || (rc = netguard_add(in->table, bridge, e)))
		return rc;
	return 0;
}

int instances_files_root(struct instances *in, const char *name, long account_uid, char *dir, size_t cap,
			 unsigned *uid, unsigned *gid, struct err *e)
{
	struct stat d, b;

	if (!in->cfg.disk_bytes)
		return err_set(e, ERR_NOT_FOUND, "this host gives instances no /workspace volume: use scp or sftp");
	if (!instance_name_ok(name) || account_uid < 1000)
		return err_set(e, ERR_INVALID, "not an instance account");
	if ((size_t)snprintf(dir, cap, "%s/%s", in->volumes, name) >= cap)
		return err_set(e, ERR_TOO_BIG, "volume path too long");
	/* mounted: the volume's root is on a device of its own */
	if (stat(dir, &d) || stat(in->volumes, &b) || d.st_dev == b.st_dev)
		return err_set(e, ERR_NOT_FOUND, "the instance's /workspace is not there (the rental is starting or ended)");
	*uid = *gid = instance_uid_base(account_uid);
	return 0;
}

int instances_freeze(struct instances *in, const char *name, struct err *e)
{
	(void)in;
	return instance_pause(name, e);
}

int instances_thaw(struct instances *in, const char *name, struct err *e)
{
	(void)in;
	return instance_unpause(name, e);
}

int instances_remove(struct instances *in, const char *name, struct err *e)
{
	char bridge[64];
	int rc = instance_bridge(name, bridge, sizeof bridge, e);

	if (rc == ERR_NOT_FOUND) {
		bridge[0] = '\0';
		err_clear(e);
	} else if (rc) {
		return rc;
	}
	if ((rc = instance_remove(name, e)))
		return rc;
	if (bridge[0] && (rc = netguard_del(in->table, bridge, e)))
		return rc;
	{ /* the notebook's socket dir: the container is gone, so nothing writes there any more */
		char jdir[PATH_CAP], p[PATH_CAP + 16];
		if (!jupyter_dir(in, name, jdir, sizeof jdir, NULL)) {
			snprintf(p, sizeof p, "%s/jupyter.sock", jdir);
			unlink(p);
			if (rmdir(jdir) && errno != ENOENT)
				log_warn("notebook socket dir left", "dir=%s err=\"%s\"", jdir, strerror(errno));
		}
	}
	return volume_remove(in->volumes, name, e);
}

unsigned instances_reconcile(struct instances *in, bool (*live)(const char *name, void *arg), void *arg)
{
	char *names = NULL;
	size_t n = 0;
	unsigned removed = 0;
	struct err e = { 0, "" };
	const char *p;

	if (instance_list(&names, &n, in->agent_id, &e)) {
		log_warn("cannot list instances", "err=\"%s\"", e.msg);
		return 0;
	}
	p = names;
	for (size_t i = 0; i < n; i++, p += strlen(p) + 1) {
		if (live(p, arg))
			continue;
		err_clear(&e);
		if (instances_remove(in, p, &e))
			log_warn("orphan instance removal failed", "name=%s err=\"%s\"", p, e.msg);
		else {
			log_info("orphan instance removed", "name=%s", p);
			removed++;
		}
	}
	free(names);
	return removed;
}

/*
 * account_record.h — what the agent records about one rental account, and the state file that holds it
 * (<state_dir>/accounts/<name>.json, JSON, mode 0600, written atomically). The lifecycle (account.c)
 * writes the record BEFORE each step acts, so a crash always leaves a phase to recover from.
 */
#ifndef FLOP_AGENT_ACCOUNT_RECORD_H
#define FLOP_AGENT_ACCOUNT_RECORD_H

#include <stdint.h>

#include "agent/cgroup.h"

struct err;

#define ACCOUNT_PREFIX "fm"
#define ACCOUNT_NAME_LEN 12            /* "fm" + 10 hex chars */
#define ACCOUNT_RENTAL_ID_MAX 128      /* bytes of a rental id: [0-9A-Za-z_.-x] */
#define ACCOUNT_PATH_MAX 256           /* any path we build or record */
#define ACCOUNT_RECORD_DIR "accounts"  /* under the state dir */
#define ACCOUNT_RECORD_MAX 8192        /* bytes of one state file */

enum account_phase {
	ACCOUNT_CREATING = 1,      /* state written, user/home/cgroups partly made */
	ACCOUNT_ACTIVE,            /* renter may log in */
	ACCOUNT_FROZEN,            /* runout grace: processes frozen, logins refused, files kept */
	ACCOUNT_TEARING_DOWN,      /* teardown started; finished by teardown or recover */
};


/* What the state file records about one account. */
struct account {
	char name[ACCOUNT_NAME_LEN + 1];           /* Unix user name */
	char rental_id[ACCOUNT_RENTAL_ID_MAX + 1]; /* as given to account_create (lowercased) */
	enum account_phase phase;
	long uid;                                  /* -1 until useradd ran */
	long gid;                                  /* -1 until useradd ran */
	char home[ACCOUNT_PATH_MAX];               /* home_base/name */
	char shell[ACCOUNT_PATH_MAX];              /* home_base/ACCOUNT_SHELLS_DIR/name */
	struct cgroup_set cg;                      /* its cgroup directories (cgroup.h) */
	int64_t created_ms;                        /* wall clock at first create */
};

/* "creating", "active", "frozen", "tearing_down". */
const char *account_phase_name(enum account_phase p);
/* <state_dir>/accounts/<name>.json into out. */
void account_record_path(char *out, size_t cap, const char *state_dir, const char *name);
/* Writes the record of a (making <state_dir>/accounts 0700 when missing). ERR_IO naming the path. */
int account_record_save(const char *state_dir, const struct account *a, struct err *e);
/*
 * Reads the record of `name` (never through a symlink). ERR_NOT_FOUND when there is none; ERR_INVALID
 * naming the field for a damaged one (a name that is not `name`, a path that is not plain, ...).
 */
int account_record_load(struct account *out, const char *state_dir, const char *name, struct err *e);

#endif

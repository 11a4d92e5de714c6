/*
 * procs.c — counting a user's processes from /proc (procs.h).
 */
#include "support/procs.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"

/* Whether /proc/<pid> is a live process of uid (and holds cmd in its command line). */
static bool proc_matches(const char *pid, uid_t uid, const char *cmd)
{
	char path[300], line[4096];
	unsigned long ruid = 0;
	bool zombie = false, have = false;
	FILE *f;
	size_t k;

	snprintf(path, sizeof path, "/proc/%s/status", pid);
	if (!(f = fopen(path, "re")))
		return false;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "State:", 6) == 0 && strchr(line, 'Z'))
			zombie = true;
		if (sscanf(line, "Uid: %lu", &ruid) == 1)
			have = true;
	}
	fclose(f);
	if (!have || zombie || ruid != uid)
		return false;
	if (!cmd)
		return true;
	snprintf(path, sizeof path, "/proc/%s/cmdline", pid);
	if (!(f = fopen(path, "re")))
		return false;
	k = fread(line, 1, sizeof line - 1, f);
	fclose(f);
	for (size_t i = 0; i < k; i++)
		if (!line[i])
			line[i] = ' ';
	line[k] = 0;
	return strstr(line, cmd) != NULL;
}

unsigned procs_of_uid(uid_t uid, const char *cmd)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && proc_matches(de->d_name, uid, cmd))
			n++;
	closedir(d);
	return n;
}

bool procs_wait_none(uid_t uid, unsigned ms)
{
	uint64_t end = clock_mono_ms() + ms;

	for (;;) {
		if (procs_of_uid(uid, NULL) == 0)
			return true;
		if (clock_mono_ms() >= end)
			return false;
		clock_sleep_ms(50);
	}
}

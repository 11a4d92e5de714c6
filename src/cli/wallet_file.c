/*
 * wallet_file.c — keystore files and passphrases for the CLI (see
 * wallet_file.h).
 */
#include "cli/wallet_file.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "eth/keystore.h"
#include "eth/secp.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

int wallet_data_dir(char *out, size_t cap, const struct cfg *cfg, struct err *e)
{
	const char *dir = cfg_get(cfg, "data_dir");
	const char *home = getenv("HOME");
	int n;

	if (dir && *dir)
		n = snprintf(out, cap, "%s", dir);
	else if (home && *home)
		n = snprintf(out, cap, "%s/.flopmarket", home);
	else
		return err_set(e, ERR_INVALID, "no data_dir set and HOME is empty");
	if (n < 0 || (size_t)n >= cap)
		return err_set(e, ERR_TOO_BIG, "data_dir is too long");
	return 0;
}

int wallet_data_subdir(char *out, size_t cap, const struct cfg *cfg, const char *name, struct err *e)
{
	int rc;

	if ((rc = wallet_data_dir(out, cap, cfg, e)))
		return rc;
	if (strlen(out) + 1 + strlen(name) >= cap)
		return err_set(e, ERR_TOO_BIG, "data_dir path too long");
	strcat(out, "/");
	strcat(out, name);
	return file_mkdir_p(out, 0700, 0700, e);
}

static int wallet_name_check(const char *name, struct err *e)
{
	size_t n = strlen(name);

	if (n == 0 || n > WALLET_NAME_MAX)
		return err_set(e, ERR_INVALID, "wallet name must be 1..%d characters", WALLET_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return err_set(e, ERR_INVALID,
				       "wallet name '%s' may only hold a-z, 0-9, '_' and '-'", name);
	}
	return 0;
}

int wallet_path(char *out, size_t cap, const struct cfg *cfg, const char *name, struct err *e)
{
	char dir[WALLET_PATH_MAX];
	int rc, n;

	if ((rc = wallet_name_check(name, e)) || (rc = wallet_data_dir(dir, sizeof dir, cfg, e)))
		return rc;
	n = snprintf(out, cap, "%s/wallets/%s.json", dir, name);
	if (n < 0 || (size_t)n >= cap)
		return err_set(e, ERR_TOO_BIG, "wallet path is too long");
	return 0;
}

/* Reads one line from the terminal with echo off. */
static int wallet_prompt(char *out, size_t cap, const char *prompt, struct err *e)
{
	struct termios old, quiet;
	FILE *tty = fopen("/dev/tty", "r+");
	size_t n;
	int ok;

	if (!tty)
		return err_set(e, ERR_INVALID,
			       "no terminal to ask for the passphrase: set FLOPMARKET_PASSPHRASE");
	fprintf(tty, "%s", prompt);
	fflush(tty);
	ok = tcgetattr(fileno(tty), &old) == 0;
	if (ok) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	}
	char *got = fgets(out, (int)cap, tty);
	if (ok)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fprintf(tty, "\n");
	fclose(tty);
	if (!got)
		return err_set(e, ERR_INVALID, "no passphrase given");
	n = strlen(out);
	if (n && out[n - 1] == '\n')
		out[--n] = '\0';
	else if (n == cap - 1)
		return err_set(e, ERR_TOO_BIG, "passphrase longer than %zu bytes", cap - 2);
	return 0;
}

int wallet_passphrase(char *out, size_t cap, const char *prompt, bool confirm, struct err *e)
{
	const char *env = getenv("FLOPMARKET_PASSPHRASE");
	char again[WALLET_PASS_MAX + 2];
	int rc;

	if (env) {
		if (strlen(env) >= cap)
			return err_set(e, ERR_TOO_BIG, "FLOPMARKET_PASSPHRASE is too long");
		memcpy(out, env, strlen(env) + 1);
	} else {
		if ((rc = wallet_prompt(out, cap, prompt, e)))
			return rc;
		if (confirm) {
			rc = wallet_prompt(again, sizeof again, "Repeat the passphrase: ", e);
			if (!rc && strcmp(again, out) != 0)
				rc = err_set(e, ERR_INVALID, "the passphrases differ");
			sodium_memzero(again, sizeof again);
			if (rc) {
				sodium_memzero(out, cap);
				return rc;
			}
		}
	}
	if (out[0] == '\0')
		return err_set(e, ERR_INVALID, "the passphrase is empty");
	return 0;
}

/* mkdir -p for the wallet's directory, private to the user. */
static int wallet_mkdirs(const char *path, struct err *e)
{
	char dir[WALLET_PATH_MAX];
	char *slash;

	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	return file_mkdir_p(dir, 0700, 0700, e);
}

int wallet_save(const char *path, const uint8_t seckey32[32], const char *passphrase,
		unsigned scrypt_log2_n, struct err *e)
{
	struct keystore_opts opts = { scrypt_log2_n };
	struct buf json;
	char tmp[WALLET_PATH_MAX + 16];
	int rc, fd;

	if (access(path, F_OK) == 0)
		return err_set(e, ERR_CONFLICT, "%s already exists; not overwriting a wallet", path);
	if ((rc = wallet_mkdirs(path, e)))
		return rc;
	buf_init(&json, KEYSTORE_JSON_MAX);
	if ((rc = keystore_encrypt(&json, seckey32, passphrase, &opts, e))) {
		buf_release(&json);
		return rc;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		buf_release(&json);
		return err_set(e, ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
	}
	size_t len = json.len;
	ssize_t w = write(fd, json.data, len);
	int synced = fsync(fd);
	close(fd);
	buf_release(&json);
	/* link() refuses to replace an existing file, so a race cannot clobber one. */
	if (w != (ssize_t)len || synced || link(tmp, path)) {
		rc = err_set(e, errno == EEXIST ? ERR_CONFLICT : ERR_IO, "cannot write %s: %s",
			     path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	unlink(tmp);
	return 0;
}

static int wallet_read(struct buf *out, const char *path, struct err *e)
{
	int rc = file_read(out, path, e);

	if (rc == ERR_NOT_FOUND)
		err_set(e, rc, "no wallet at %s (create one with `flopmarket wallet new`)", path);
	else if (rc)
		err_wrap(e, "wallet");
	return rc;
}

int wallet_address(struct eth_address *out, const char *path, struct err *e)
{
	struct buf json;
	int rc;

	buf_init(&json, KEYSTORE_JSON_MAX);
	rc = wallet_read(&json, path, e);
	if (!rc)
		rc = keystore_address(out, buf_cstr(&json), json.len, e);
	buf_release(&json);
	return rc;
}

int wallet_unlock(uint8_t seckey32[32], struct eth_address *addr, const char *path,
		  const char *passphrase, struct err *e)
{
	struct buf json;
	uint8_t key[32];
	int rc;

	buf_init(&json, KEYSTORE_JSON_MAX);
	rc = wallet_read(&json, path, e);
	if (!rc)
		rc = keystore_decrypt(key, buf_cstr(&json), json.len, passphrase, e);
	if (!rc)
		rc = secp_address(addr, key, e);
	if (!rc)
		memcpy(seckey32, key, 32);
	sodium_memzero(key, sizeof key);
	buf_release(&json);
	return rc;
}

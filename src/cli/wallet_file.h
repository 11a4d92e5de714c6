/*
 * wallet_file.h — the CLI's wallets on disk: one Web3 v3 keystore file per
 * named wallet under <data_dir>/wallets/<name>.json (mode 0600, written
 * atomically, never overwritten), and the passphrase that unlocks it, from
 * FLOPMARKET_PASSPHRASE or a no-echo prompt on the terminal. Secret keys
 * and passphrases are wiped after use and never printed or logged.
 */
#ifndef FLOP_CLI_WALLET_FILE_H
#define FLOP_CLI_WALLET_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cfg.h"
#include "eth/address.h"

struct err;

#define WALLET_NAME_MAX 32
#define WALLET_PATH_MAX 1024
#define WALLET_PASS_MAX 1024

/* The data directory: cfg data_dir, else $HOME/.flopmarket. */
int wallet_data_dir(char *out, size_t cap, const struct cfg *cfg, struct err *e);

/* <data_dir>/<name>, made (mode 0700, and its parents) when missing: the CLI's own files of a kind. */
int wallet_data_subdir(char *out, size_t cap, const struct cfg *cfg, const char *name, struct err *e);

/* <data_dir>/wallets/<name>.json; names are [a-z0-9_-], 1..32 chars. */
int wallet_path(char *out, size_t cap, const struct cfg *cfg, const char *name,
		struct err *e);

/*
 * The passphrase: FLOPMARKET_PASSPHRASE when set, else asked on /dev/tty
 * without echo (twice when `confirm`). Empty passphrases are refused.
 */
int wallet_passphrase(char *out, size_t cap, const char *prompt, bool confirm,
		      struct err *e);

/* Encrypts and writes a new wallet file; ERR_CONFLICT if it exists. */
int wallet_save(const char *path, const uint8_t seckey32[32], const char *passphrase,
		unsigned scrypt_log2_n, struct err *e);

/* Reads a wallet's address without decrypting it. */
int wallet_address(struct eth_address *out, const char *path, struct err *e);

/* Decrypts a wallet file (ERR_AUTH on a wrong passphrase). */
int wallet_unlock(uint8_t seckey32[32], struct eth_address *addr, const char *path,
		  const char *passphrase, struct err *e);

#endif

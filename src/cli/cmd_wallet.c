/*
 * cmd_wallet.c — `flopmarket wallet derive [--index N]`: prints the address at
 * m/44'/60'/0'/0/N for the BIP-39 mnemonic in FLOPMARKET_MNEMONIC (or the
 * first line of standard input). The key itself is never printed and is
 * wiped before exit. (Keystore-backed `wallet new/import/show/balance`
 * arrive with the renter CLI.)
 */
#include "cli.h"
#include "core/err.h"
#include "eth/address.h"
#include "eth/bip32.h"
#include "eth/bip39.h"
#include "eth/secp.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int wallet_usage(void)
{
	fprintf(stderr, "usage: flopmarket wallet derive [--index N]   "
			"(mnemonic from FLOPMARKET_MNEMONIC or stdin)\n");
	return EXIT_USAGE;
}

/* Reads the mnemonic from the environment or stdin into buf (cap bytes). */
static int wallet_read_mnemonic(char *buf, size_t cap)
{
	const char *env = getenv("FLOPMARKET_MNEMONIC");
	size_t n;

	if (env) {
		if (strlen(env) >= cap)
			return ERR_TOO_BIG;
		memcpy(buf, env, strlen(env) + 1);
		return 0;
	}
	if (!fgets(buf, (int)cap, stdin))
		return ERR_INVALID;
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (n == cap - 1)
		return ERR_TOO_BIG;
	return 0;
}

static int wallet_derive(unsigned long index)
{
	char mnemonic[BIP39_INPUT_MAX + 2];
	uint8_t key[32];
	struct eth_address addr;
	char text[ADDRESS_STR_MAX];
	struct err e = { 0 };
	int rc;

	rc = wallet_read_mnemonic(mnemonic, sizeof mnemonic);
	if (rc) {
		fprintf(stderr, "flopmarket: %s\n", rc == ERR_TOO_BIG ? "mnemonic is too long"
			: "no mnemonic: set FLOPMARKET_MNEMONIC or pipe it on stdin");
		sodium_memzero(mnemonic, sizeof mnemonic);
		return EXIT_INPUT;
	}
	rc = bip32_eth_key_from_mnemonic(key, mnemonic, NULL, (uint32_t)index, &e);
	if (!rc)
		rc = secp_address(&addr, key, &e);
	sodium_memzero(mnemonic, sizeof mnemonic);
	sodium_memzero(key, sizeof key);
	if (rc) {
		fprintf(stderr, "flopmarket: mnemonic: %s\n", e.msg);
		return cli_exit_for(rc);
	}
	address_to_checksum(text, &addr);
	printf("%s\n", text);
	return EXIT_OK;
}

int cmd_wallet(int argc, char **argv, struct cfg *cfg)
{
	unsigned long index = 0;
	(void)cfg;

	if (argc < 2 || strcmp(argv[1], "derive") != 0)
		return wallet_usage();
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--index") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			index = strtoul(argv[++i], &end, 10);
			if (errno || *end || argv[i][0] < '0' || argv[i][0] > '9' || index >= 0x80000000ul) {
				fprintf(stderr, "flopmarket: --index must be a whole number below 2^31\n");
				return EXIT_INPUT;
			}
		} else {
			return wallet_usage();
		}
	}
	return wallet_derive(index);
}

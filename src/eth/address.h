/*
 * address.h — 20-byte Ethereum addresses and EIP-55 mixed-case checksums.
 *
 * Parsing accepts all-lowercase or all-uppercase hex (no checksum claimed)
 * and mixed case only when the EIP-55 checksum matches; a wrong checksum is
 * ERR_CHECKSUM with a message saying so, since it usually means a typo.
 */
#ifndef FLOP_ETH_ADDRESS_H
#define FLOP_ETH_ADDRESS_H

#include <stdbool.h>
#include <stdint.h>

struct err;

#define ADDRESS_STR_MAX 43 /* "0x" + 40 + NUL */

struct eth_address {
	uint8_t b[20]; /* big-endian address bytes */
};

/* Parses "0x"+40 hex digits (prefix required). Output untouched on error. */
int address_parse(struct eth_address *out, const char *s, struct err *e);

/* Formats with the EIP-55 checksum (room: ADDRESS_STR_MAX). */
void address_to_checksum(char *out, const struct eth_address *a);

/* Formats lowercase (room: ADDRESS_STR_MAX). */
void address_to_lower(char *out, const struct eth_address *a);

/* Address of an uncompressed public key (64 bytes, no 0x04 prefix). */
void address_from_pubkey64(struct eth_address *out, const uint8_t pub64[64]);

bool address_equal(const struct eth_address *a, const struct eth_address *b);
bool address_is_zero(const struct eth_address *a);

#endif

/*
 * ethjson.h — Ethereum-specific JSON getters on top of core/json.h.
 *
 * Addresses in JSON-RPC replies are 0x + 40 hex digits; nodes send them
 * lowercase, but a mixed-case value must carry a valid EIP-55 checksum
 * (address_parse decides). Kept out of src/core so core stays chain-agnostic.
 */
#ifndef FLOP_ETH_ETHJSON_H
#define FLOP_ETH_ETHJSON_H

#include "core/json.h"
#include "eth/address.h"

struct err;

/* Reads a 20-byte address value; errors name `name`. */
int ethjson_val_address(struct eth_address *out, const json_t *v, const char *name,
			struct err *e);

/* Reads field `field` of `obj` as an address; ERR_NOT_FOUND when absent/null. */
int ethjson_get_address(struct eth_address *out, const json_t *obj, const char *field,
			struct err *e);

/* New JSON string holding the lowercase 0x address; NULL on ERR_NOMEM. */
json_t *ethjson_address(const struct eth_address *a);

#endif

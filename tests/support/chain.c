/*
 * chain.c — chain reads and pokes for the integration tests (see chain.h).
 */
#include "support/chain.h"

#include "core/buf.h"
#include "core/err.h"
#include "escrow/client.h"
#include "escrow/escrow.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define CHAIN_OK(call)                                                                            \
	do {                                                                                      \
		int rc_ = (call);                                                                 \
		if (rc_)                                                                          \
			fail_msg("%s -> %d %s", #call, rc_, e.msg);                               \
	} while (0)

uint64_t chain_head_time(struct rpc *r)
{
	struct rpc_block b;
	struct err e = { 0 };

	CHAIN_OK(rpc_get_block(r, &b, "latest", &e));
	return b.timestamp;
}

void chain_rpc(struct rpc *r, const char *method, const char *params)
{
	json_t *res = NULL;
	struct err e = { 0 };

	CHAIN_OK(rpc_call_text(r, &res, method, params, &e));
	json_decref(res);
}

u256 chain_balance(struct rpc *r, const struct eth_address *token, const struct eth_address *who)
{
	struct err e = { 0 };
	u256 v;

	CHAIN_OK(escrow_token_balance(r, &v, token, who, &e));
	return v;
}

u256 chain_fees(struct rpc *r, const struct eth_address *escrow, const struct eth_address *token)
{
	struct err e = { 0 };
	struct buf cd;
	u256 v;
	int rc;

	buf_init(&cd, ESCROW_CD_MAX);
	rc = escrow_cd_fees(&cd, token, &e);
	if (!rc)
		rc = escrow_call_u256(r, &v, escrow, &cd, &e);
	buf_release(&cd);
	if (rc)
		fail_msg("fees(token) -> %d %s", rc, e.msg);
	return v;
}

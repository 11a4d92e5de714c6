/*
 * rental_chain.c — anvil, the escrow and native rentals for the in-process agent tests
 * (rental_chain.h).
 */
#include "support/rental_chain.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/u256.h"
#include "escrow/client.h"
#include "escrow/deploy.h"
#include "eth/keccak.h"

int rental_chain_up(struct rental_chain *c, const char **why, struct err *e)
{
	struct escrow_deploy_opts o;
	struct escrow_deployment dep;
	struct eth_address deployer;
	char root[512], arts[600];
	struct stat st;
	uint8_t dkey[32];

	memset(c, 0, sizeof *c);
	pthread_mutex_init(&c->rpc_mu, NULL);
	if (anvil_repo_root(root, sizeof root, e)) {
		*why = "repository root not found";
		return 1;
	}
	snprintf(arts, sizeof arts, "%s/build/contracts/RentalEscrow.json", root);
	if (stat(arts, &st) != 0) {
		*why = "build/contracts missing (run scripts/build-contracts)";
		return 1;
	}
	snprintf(arts, sizeof arts, "%s/build/contracts", root);
	if (anvil_start(&c->node, NULL, e) == ERR_NOT_FOUND) {
		*why = "anvil not installed";
		return 1;
	}
	if (e->code || rpc_init(&c->rpc, c->node.url, NULL, e))
		return -1;
	c->up = true;
	anvil_account(0, dkey, &deployer);
	anvil_account(1, c->renter_key, &c->renter);
	anvil_account(2, c->provider_key, &c->provider);
	memset(&o, 0, sizeof o);
	o.artifacts_dir = arts;
	o.owner = deployer;
	o.treasury = deployer;
	o.fee_bps = 1000;
	o.arbiter_window_secs = 7 * 86400;
	o.timeout_ms = RENTAL_CHAIN_TIMEOUT_MS;
	if (escrow_deploy(&dep, &c->rpc, dkey, &o, NULL, e) || escrow_deployment_find(&c->escrow, &dep, "RentalEscrow", e))
		return -1;
	return 0;
}

static int send_tx(struct rental_chain *c, const u256 *value, const struct buf *cd, struct rpc_receipt *rc,
		   struct err *e)
{
	return escrow_send(&c->rpc, rc, RENTAL_CHAIN_ID, c->renter_key, &c->escrow, value, cd->data, cd->len,
			   RENTAL_CHAIN_TIMEOUT_MS, e);
}

int rental_chain_open(struct rental_chain *c, struct escrow_terms *out, uint64_t nonce, struct err *e)
{
	struct escrow_offer o;
	struct rpc_block blk;
	struct rpc_receipt rc;
	struct escrow_event ev;
	struct buf cd;
	uint8_t osig[65];
	u256 unit = u256_from_u64(UINT64_C(1000000000000000000)), h = u256_from_u64(3600);
	int r;

	memset(&o, 0, sizeof o);
	o.provider = c->provider;
	o.payout = c->provider;
	if (u256_mul(&o.rate, &unit, &unit) || u256_divmod(&o.rate, NULL, &o.rate, &h))
		return err_set(e, ERR_RANGE, "rate");
	o.min_secs = 60;
	o.max_secs = 86400;
	o.notice_secs = 300;
	o.grace_secs = 600;
	o.dispute_secs = 3600; /* a stopped rental stays on chain, ended, for an hour */
	keccak256(o.spec_hash, (const uint8_t *)"simulated", 9);
	o.capacity = 100;
	o.max_fee_bps = ESCROW_MAX_FEE_BPS;
	pthread_mutex_lock(&c->rpc_mu);
	if ((r = rpc_get_block(&c->rpc, &blk, "latest", e)))
		goto out;
	o.expiry = blk.timestamp + 86400;
	o.nonce = nonce;
	if ((r = escrow_offer_sign(osig, RENTAL_CHAIN_ID, &c->escrow, &o, c->provider_key, e)))
		goto out;
	buf_init(&cd, 1 << 16);
	r = escrow_cd_open(&cd, &o, osig, 65, &unit, e);
	if (!r)
		r = send_tx(c, &unit, &cd, &rc, e);
	buf_release(&cd);
	if (r)
		goto out;
	r = escrow_receipt_event(&ev, &rc, &c->escrow, ESCROW_EV_OPENED, e);
	rpc_receipt_release(&rc);
	if (!r)
		*out = ev.opened.terms;
out:
	pthread_mutex_unlock(&c->rpc_mu);
	return r;
}

int rental_chain_stop(struct rental_chain *c, const struct escrow_terms *t, struct err *e)
{
	struct rpc_receipt rc;
	struct buf cd;
	int r;

	buf_init(&cd, 1 << 12);
	pthread_mutex_lock(&c->rpc_mu);
	r = escrow_cd_rental(&cd, ESCROW_FN_STOP, t, e);
	if (!r)
		r = send_tx(c, NULL, &cd, &rc, e);
	pthread_mutex_unlock(&c->rpc_mu);
	buf_release(&cd);
	if (!r)
		rpc_receipt_release(&rc);
	return r;
}

void rental_chain_down(struct rental_chain *c)
{
	if (c->up)
		rpc_release(&c->rpc);
	c->up = false;
	anvil_stop(&c->node);
}

/*
 * deploy.h — the escrow and dev tokens deployed on a test's anvil, as the integration tests need them:
 * the test says who owns it, where fees go and whom to mint to; the fixture fills in the rest (the
 * repo's build/contracts, the dev tokens, a receipt timeout) and looks up the four contracts by name.
 */
#ifndef FLOP_TESTS_SUPPORT_DEPLOY_H
#define FLOP_TESTS_SUPPORT_DEPLOY_H

#include "core/err.h"
#include "escrow/deploy.h"
#include "eth/address.h"
#include "eth/rpc.h"

#define DEPLOY_FIXTURE_TIMEOUT_MS 30000

struct deploy_fixture {
	struct escrow_deployment dep;
	struct eth_address escrow, usdc, usdt, dai;
};

/*
 * Deploys with the deployer key through r from <repo>/build/contracts and writes the deployment file
 * `path`. o holds the test's choices (owner, treasury, monitor, fee, arbiter window, mint_to and
 * mint_whole_tokens); artifacts_dir, dev_tokens and a zero timeout_ms are set here.
 */
int deploy_fixture(struct deploy_fixture *out, struct rpc *r, const uint8_t deployer_key[32], const char *repo,
		   struct escrow_deploy_opts *o, const char *path, struct err *e);

#endif

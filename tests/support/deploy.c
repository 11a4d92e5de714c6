/*
 * deploy.c — deploy the escrow and dev tokens for a test (see deploy.h).
 */
#include "support/deploy.h"

#include <stdio.h>

int deploy_fixture(struct deploy_fixture *out, struct rpc *r, const uint8_t deployer_key[32], const char *repo,
		   struct escrow_deploy_opts *o, const char *path, struct err *e)
{
	char arts[1100];

	snprintf(arts, sizeof arts, "%s/build/contracts", repo);
	o->artifacts_dir = arts;
	o->dev_tokens = true;
	if (!o->timeout_ms)
		o->timeout_ms = DEPLOY_FIXTURE_TIMEOUT_MS;
	int rc = escrow_deploy(&out->dep, r, deployer_key, o, path, e);
	o->artifacts_dir = NULL; /* arts dies here */
	if (rc)
		return rc;
	if ((rc = escrow_deployment_find(&out->escrow, &out->dep, "RentalEscrow", e)) ||
	    (rc = escrow_deployment_find(&out->usdc, &out->dep, "DevUSDC", e)) ||
	    (rc = escrow_deployment_find(&out->usdt, &out->dep, "DevUSDT", e)) ||
	    (rc = escrow_deployment_find(&out->dai, &out->dep, "DevDAI", e)))
		return rc;
	return 0;
}

/*
 * cmd_rate.c — `flopmarket rate <rental> 1..5 [--comment TEXT] [--wallet NAME] [--server URL]`: the
 * renter's rating of an ended rental (POST /rentals/{id}/rating, signed in with SIWE). The comment is
 * at most 500 characters without control characters; the server refuses a second rating.
 */
#include "cli/cli.h"
#include "cli/server_client.h"
#include "cli/session.h"
#include "core/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATE_COMMENT_MAX 2000 /* bytes; the server counts 500 characters */

static int rate_usage(void)
{
	fprintf(stderr, "usage: flopmarket rate RENTAL 1..5 [--comment TEXT] [--wallet NAME] [--server URL]\n");
	return EXIT_USAGE;
}

int cmd_rate(int argc, char **argv, struct cfg *cfg)
{
	const char *server = cfg_get(cfg, "server_url"), *wallet = NULL, *comment = NULL;
	const char *rental = NULL, *stars_s = NULL;
	char path[96], *body = NULL;
	struct cli_session s;
	struct api_client c = { 0 };
	struct err e = { 0 };
	json_t *req, *r = NULL;
	uint64_t id;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(f, "--comment") == 0 && v) comment = v, i++;
		else if (strcmp(f, "--wallet") == 0 && v) wallet = v, i++;
		else if (strcmp(f, "--server") == 0 && v) server = v, i++;
		else if (f[0] != '-' && !rental) rental = f;
		else if (f[0] != '-' && !stars_s) stars_s = f;
		else return rate_usage();
	}
	if (!rental || !stars_s)
		return rate_usage();
	if ((rc = cli_parse_rental_id(&id, rental, &e)))
		return cli_fail(rc, &e);
	if (strlen(stars_s) != 1 || stars_s[0] < '1' || stars_s[0] > '5') {
		fprintf(stderr, "flopmarket: stars: '%.16s' must be 1, 2, 3, 4 or 5\n", stars_s);
		return EXIT_INPUT;
	}
	if (comment) {
		if (strlen(comment) > RATE_COMMENT_MAX) {
			fprintf(stderr, "flopmarket: --comment: longer than 500 characters\n");
			return EXIT_INPUT;
		}
		for (const unsigned char *p = (const unsigned char *)comment; *p; p++)
			if (*p < 0x20 || *p == 0x7f) {
				fprintf(stderr, "flopmarket: --comment: control characters are not allowed\n");
				return EXIT_INPUT;
			}
	}
	if (!server) {
		fprintf(stderr, "flopmarket: rate needs the server: --server URL or server_url\n");
		return EXIT_USAGE;
	}
	if ((rc = cli_session_open(&s, cfg, wallet, SESSION_WALLET_UNLOCK | SESSION_NO_DEPLOYMENT, &e)))
		return cli_fail(rc, &e);
	if ((rc = api_client_init(&c, server, &e)) || (rc = sc_login(&c, &s, &e)))
		goto out;
	req = comment ? json_pack("{s:i, s:s}", "stars", stars_s[0] - '0', "comment", comment)
		      : json_pack("{s:i}", "stars", stars_s[0] - '0');
	if (!req || !(body = json_dumps(req, JSON_COMPACT))) {
		json_decref(req);
		rc = err_set(&e, ERR_INVALID, "--comment: not valid UTF-8");
		goto out;
	}
	json_decref(req);
	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/rating", id);
	if ((rc = api_request(&c, &r, NULL, "POST", path, body, &e)))
		goto out;
	printf("rated rental %" PRIu64 ": %c star%s\n", id, stars_s[0], stars_s[0] == '1' ? "" : "s");
out:
	free(body);
	json_decref(r);
	api_client_release(&c);
	cli_session_release(&s);
	return rc ? cli_fail(rc, &e) : EXIT_OK;
}

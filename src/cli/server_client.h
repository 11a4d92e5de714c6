/*
 * server_client.h — the CLI's session with the marketplace server. Requests go through the shared
 * client (market/api_client.h: timeouts, response cap, server errors as messages); this adds sign-in
 * as the session's wallet with the token cached in <data_dir>/sessions/<address>.token (mode 0600),
 * reused until it expires for the same server; it is never printed or logged.
 */
#ifndef FLOP_CLI_SERVER_CLIENT_H
#define FLOP_CLI_SERVER_CLIENT_H

#include "cli/session.h"
#include "market/api_client.h"

struct err;

/* Signs in as the session's (unlocked) wallet, reusing a cached token that has not expired. */
int sc_login(struct api_client *c, const struct cli_session *s, struct err *e);

/*
 * An offer from the server by its hash (0x + 64 hex) or a prefix of it as `search` prints it (at least 4
 * hex digits, unique among the live offers): GET /offers/{hash}. ERR_NOT_FOUND / ERR_INVALID name it.
 */
int cli_offer_get(json_t **out, struct api_client *c, const char *ref, struct err *e);

#endif

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

#endif

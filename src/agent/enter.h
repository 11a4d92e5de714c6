/*
 * enter.h — how a rental account's login enters its instance (issue 12).
 *
 * sshd authenticates the renter's key for the rental's Unix account as before; the account's login shell is
 * `flopmarket enter` (enter_client_run), which runs unprivileged on the host and asks the agent, over a Unix
 * socket, to start the session inside the instance. The agent (enter_start, root) knows who asks from the
 * socket's peer credentials (SO_PEERCRED: the kernel's word, not the client's), maps the uid to the account
 * it made for a rental (its state file, the recorded uid) and so to that rental's instance, and runs
 * `podman exec` there with the client's own stdin, stdout and stderr (passed with SCM_RIGHTS): an
 * interactive login as root (with a terminal when sshd gave one), or `sh -c CMD` for `ssh host CMD`, scp
 * and the sftp subsystem. A client can only ever enter the instance of the account it runs as; an account
 * that is not active (frozen, being torn down) or not ours is refused with the reason.
 *
 * Wire (SOCK_SEQPACKET, so each message arrives whole):
 *   client -> agent: "FMENTER1", u8 flags (1: stdin is a terminal), u16 LE term length, u32 LE command
 *                    length (0: a login shell), the TERM value, the command; with three fds (0, 1, 2).
 *                    Then one byte 'W' each time the terminal's size changed (SIGWINCH).
 *   agent -> client: 'E' + a message (refused; the connection ends), or 'X' + i32 LE exit status when the
 *                    session ended (128 + signal when it died of one).
 * The agent ends a session (SIGHUP, then SIGKILL) whose client went away.
 */
#ifndef FLOP_AGENT_ENTER_H
#define FLOP_AGENT_ENTER_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/account.h"

struct err;

#define ENTER_MAGIC "FMENTER1"
#define ENTER_CMD_MAX 32768        /* bytes of a command (ssh host CMD) */
#define ENTER_TERM_MAX 64          /* bytes of TERM */
#define ENTER_SESSIONS_MAX 256     /* sessions at once, all accounts */
#define ENTER_SOCKET_NAME "enter.sock"

struct enter;

/* A request as the agent reads it (enter_request_parse). */
struct enter_request {
	bool tty;                          /* the client's stdin is a terminal */
	char term[ENTER_TERM_MAX + 6];     /* "TERM=<value>" ("TERM=xterm-256color" when none was sent) */
	bool has_cmd;                      /* false: a login shell */
	char cmd[ENTER_CMD_MAX + 1];       /* the command, NUL-terminated */
};

#define ENTER_HEADER_LEN 15            /* magic 8, flags 1, TERM length 2, command length 4 */
#define ENTER_REQUEST_MAX (ENTER_HEADER_LEN + ENTER_TERM_MAX + ENTER_CMD_MAX)

/*
 * Pure: the request message's bytes (the wire above) into *rq. ERR_INVALID naming what is wrong (not a
 * request, lengths that do not add up, a TERM with a character outside [A-Za-z0-9._+-], a NUL in the
 * command), ERR_TOO_BIG past the caps. Fuzzed (tests/fuzz/fuzz_enter.c).
 */
int enter_request_parse(struct enter_request *rq, const uint8_t *msg, size_t n, struct err *e);

/*
 * Writes the request for (tty, term, cmd) into out (room ENTER_REQUEST_MAX); returns its length, or 0 when
 * the command is longer than ENTER_CMD_MAX. A TERM that does not fit or has a bad character is left out.
 */
size_t enter_request_encode(uint8_t *out, bool tty, const char *term, const char *cmd);

/* Where the broker listens and whose accounts it serves. */
struct enter_cfg {
	const char *socket_path;         /* created 0666 (the peer's uid is what is checked) */
	struct account_cfg accounts;     /* the agent's account settings (state files) */
	const char *workdir;             /* where sessions start inside ("/workspace" with a volume; NULL: /root) */
};

/* Binds the socket and starts the accepting thread. */
int enter_start(struct enter **out, const struct enter_cfg *cfg, struct err *e);

/* Stops accepting and unlinks the socket. Sessions running go on until their clients end them. */
void enter_stop(struct enter *en);

/*
 * The client: what the login shell runs. args are the shell's arguments (none: an interactive login;
 * "-c CMD": a command); anything else is refused. Returns the exit status to exit with.
 */
int enter_client_run(const char *socket_path, int argc, char **args);

#endif

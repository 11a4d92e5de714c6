/*
 * sshkey.h — one OpenSSH authorized_keys line, checked strictly before it is installed for a renter (the
 * agent's key delivery) or signed by one (the CLI checks it before paying).
 */
#ifndef FLOP_AGENT_SSHKEY_H
#define FLOP_AGENT_SSHKEY_H

#include <stddef.h>

struct err;

#define SSHKEY_LINE_MAX 8192 /* bytes of one key line */

/*
 * Checks one authorized_keys line (n bytes; one trailing "\n" allowed):
 * "<type> <base64> [comment]" with type ssh-ed25519, ecdsa-sha2-nistp256 or
 * ssh-rsa, no options, single spaces, a base64 body whose decoded blob names
 * the same type (and has the right size for ed25519 / p256), a printable
 * comment, at most SSHKEY_LINE_MAX bytes. Writes the canonical line with
 * a "\n" to out (room `cap`, at least n + 2) on success.
 */
int sshkey_check(char *out, size_t cap, const char *line, size_t n, struct err *e);

#define SSHKEY_FP_MAX 52 /* "SHA256:" + 43 base64 characters + NUL */

/*
 * The OpenSSH fingerprint of a key line that passed sshkey_check: "SHA256:" and the unpadded base64 of
 * the SHA-256 of the decoded body, as `ssh-keygen -lf` and ssh's first-connection prompt print it.
 */
int sshkey_fingerprint(char out[SSHKEY_FP_MAX], const char *line, struct err *e);

#endif

/*
 * hostkeys.h — the SSH server's public host keys, read once at agent start, so renters can pin them:
 * the agent reports them with every rental's access details (GET /rentals/{id}/access and the report
 * to the server), and `flopmarket ssh` writes them to a known_hosts file of that rental's own.
 *
 * Files given by the provider (--ssh-host-key FILE, repeatable) must each hold one key sshkey_check
 * accepts (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa). With none given, the usual
 * /etc/ssh/ssh_host_{ed25519,ecdsa,rsa}_key.pub are read where they exist and hold such a key.
 */
#ifndef FLOP_AGENT_HOSTKEYS_H
#define FLOP_AGENT_HOSTKEYS_H

#include <jansson.h>
#include <stddef.h>

struct err;

#define HOSTKEYS_MAX 4           /* keys reported (and --ssh-host-key flags) */
#define HOSTKEYS_FILE_MAX 16384  /* bytes read from one .pub file */

/*
 * Sets *keys to a JSON array of "type base64" lines (no comments) and *fingerprints to the matching
 * array of "SHA256:..." strings. ERR_INVALID / ERR_NOT_FOUND naming the file when a given file is
 * missing or holds no usable key; the defaults are skipped quietly when absent. Empty arrays when
 * nothing was found (renters then cannot pin the key; the agent says so at start).
 */
int hostkeys_load(json_t **keys, json_t **fingerprints, const char *const *paths, size_t n, struct err *e);

#endif

/*
 * sshkey.c — checks one OpenSSH authorized_keys line, strictly (see sshkey.h). Pure: bytes in, the
 * canonical line out, no I/O, so it has its own fuzz target (tests/fuzz/fuzz_sshkey.c).
 */
#include "agent/sshkey.h"

#include "core/err.h"

#include <ctype.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads one SSH wire string at *off; returns its length or -1. */
static long ssh_string(const uint8_t *b, size_t n, size_t *off, const uint8_t **s)
{
	uint32_t l;

	if (n - *off < 4)
		return -1;
	l = be32(b + *off);
	if (l > n - *off - 4)
		return -1;
	*s = b + *off + 4;
	*off += 4 + l;
	return (long)l;
}

int sshkey_check(char *out, size_t cap, const char *line, size_t n, struct err *e)
{
	static const char *const types[] = { "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa" };
	const char *type = NULL, *body, *sp, *comment = NULL;
	size_t tlen, blen, clen = 0, off = 0, bin_len = 0;
	uint8_t *bin;
	const uint8_t *s;
	long l;
	int rc = 0;

	if (!line)
		return err_set(e, ERR_INVALID, "ssh key: missing");
	if (n > SSHKEY_LINE_MAX)
		return err_set(e, ERR_TOO_BIG, "ssh key: %zu bytes, cap %d", n, SSHKEY_LINE_MAX);
	if (n && line[n - 1] == '\n')
		n--;
	if (n == 0)
		return err_set(e, ERR_INVALID, "ssh key: empty");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			return err_set(e, ERR_INVALID,
				       "ssh key: control or non-ASCII byte at offset %zu (one key, one line)",
				       i);
	sp = memchr(line, ' ', n);
	if (!sp)
		return err_set(e, ERR_INVALID, "ssh key: want '<type> <base64> [comment]'");
	tlen = (size_t)(sp - line);
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strlen(types[i]) == tlen && !memcmp(types[i], line, tlen))
			type = types[i];
	if (!type)
		return err_set(e, ERR_INVALID,
			       "ssh key: type '%.*s' not accepted (ssh-ed25519, ecdsa-sha2-nistp256, "
			       "ssh-rsa; no options)", (int)(tlen > 40 ? 40 : tlen), line);
	body = sp + 1;
	sp = memchr(body, ' ', n - (size_t)(body - line));
	blen = sp ? (size_t)(sp - body) : n - (size_t)(body - line);
	if (sp) {
		comment = sp + 1;
		clen = n - (size_t)(comment - line);
		if (clen == 0)
			return err_set(e, ERR_INVALID, "ssh key: trailing space");
	}
	if (blen == 0 || blen % 4)
		return err_set(e, ERR_INVALID, "ssh key: base64 body length %zu not a multiple of 4",
			       blen);
	for (size_t i = 0; i < blen; i++) {
		char c = body[i];
		bool pad_ok = c == '=' && i >= blen - 2 && (i == blen - 1 || body[blen - 1] == '=');
		if (!isalnum((unsigned char)c) && c != '+' && c != '/' && !pad_ok)
			return err_set(e, ERR_INVALID, "ssh key: bad base64 character at offset %zu",
				       (size_t)(body - line) + i);
	}
	bin = malloc(blen);
	if (!bin)
		return err_set(e, ERR_NOMEM, "ssh key: out of memory");
	if (sodium_base642bin(bin, blen, body, blen, NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL)) {
		rc = err_set(e, ERR_INVALID, "ssh key: base64 body does not decode");
		goto done;
	}
	l = ssh_string(bin, bin_len, &off, &s);
	if (l < 0 || (size_t)l != strlen(type) || memcmp(s, type, (size_t)l)) {
		rc = err_set(e, ERR_INVALID, "ssh key: body does not hold a %s key", type);
		goto done;
	}
	if (!strcmp(type, "ssh-ed25519")) {
		if (ssh_string(bin, bin_len, &off, &s) != 32 || off != bin_len)
			rc = err_set(e, ERR_INVALID, "ssh key: ed25519 key must be 32 bytes");
	} else if (!strcmp(type, "ecdsa-sha2-nistp256")) {
		l = ssh_string(bin, bin_len, &off, &s);
		if (l != 8 || memcmp(s, "nistp256", 8) || ssh_string(bin, bin_len, &off, &s) != 65 ||
		    s[0] != 4 || off != bin_len)
			rc = err_set(e, ERR_INVALID, "ssh key: bad nistp256 key");
	} else {
		long el = ssh_string(bin, bin_len, &off, &s);
		long nl = el < 0 ? -1 : ssh_string(bin, bin_len, &off, &s);
		if (el < 1 || el > 16 || nl < 256 || nl > 2049 || off != bin_len)
			rc = err_set(e, ERR_INVALID, "ssh key: bad RSA key (modulus 2048..16384 bits)");
	}
	if (rc)
		goto done;
	if (tlen + 1 + blen + (comment ? 1 + clen : 0) + 2 > cap) {
		rc = err_set(e, ERR_TOO_BIG, "ssh key: output buffer too small");
		goto done;
	}
	memcpy(out, line, n);
	out[n] = '\n';
	out[n + 1] = '\0';
done:
	free(bin);
	return rc;
}


int sshkey_fingerprint(char out[SSHKEY_FP_MAX], const char *line, struct err *e)
{
	const char *body = line ? strchr(line, ' ') : NULL, *end;
	uint8_t bin[SSHKEY_LINE_MAX], digest[crypto_hash_sha256_BYTES];
	size_t bin_len = 0;

	if (!body)
		return err_set(e, ERR_INVALID, "ssh key: want '<type> <base64> [comment]'");
	body++;
	end = body + strcspn(body, " \n");
	if (sodium_base642bin(bin, sizeof bin, body, (size_t)(end - body), NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) || bin_len == 0)
		return err_set(e, ERR_INVALID, "ssh key: base64 body does not decode");
	crypto_hash_sha256(digest, bin, bin_len);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, SSHKEY_FP_MAX - 7, digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	return 0;
}

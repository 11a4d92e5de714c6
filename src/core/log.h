/*
 * log.h — logfmt lines on stderr.
 *
 *   level=info msg="rental opened" rental=0x12.. block=123
 *
 * The level comes from FLOPMARKET_LOG (debug, info, warn, error; default
 * info) or log_set_level. Fields are passed pre-formatted as "k=v k=v";
 * use log_quote for values that may contain spaces or quotes. Never log a
 * secret key, mnemonic, passphrase or session token.
 */
#ifndef FLOP_CORE_LOG_H
#define FLOP_CORE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "debug"/"info"/"warn"/"error"/"off"; returns -1 when unknown. */
int log_level_parse(const char *s);

/* Writes one line: level=.. msg="<msg>" <fields formatted by fmt>. */
void log_write(enum log_level level, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Writes `s` as a logfmt value into out (room `cap`): bare when it has no
 * space, quote, '=' or control character, else quoted and escaped.
 * Returns out.
 */
const char *log_quote(char *out, size_t cap, const char *s);

#define log_debug(msg, ...) log_write(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) log_write(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_write(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_write(LOG_ERROR, msg, __VA_ARGS__)

#endif

/*
 * ethjson.c — address getters for JSON (see ethjson.h).
 */
#include "eth/ethjson.h"
#include "core/err.h"

int ethjson_val_address(struct eth_address *out, const json_t *v, const char *name,
			struct err *e)
{
	const char *s;
	int rc = json_val_str(&s, v, name, ADDRESS_STR_MAX, e);

	if (rc)
		return rc;
	rc = address_parse(out, s, e);
	if (rc)
		err_wrap(e, "field '%s'", name);
	return rc;
}

int ethjson_get_address(struct eth_address *out, const json_t *obj, const char *field,
			struct err *e)
{
	const json_t *v = NULL;
	int rc = json_get(&v, obj, field, e);

	return rc ? rc : ethjson_val_address(out, v, field, e);
}

json_t *ethjson_address(const struct eth_address *a)
{
	char s[ADDRESS_STR_MAX];

	address_to_lower(s, a);
	return json_string(s);
}

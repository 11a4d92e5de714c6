/*
 * relay_fee.c — the relayer's fee in the rental's token (see relay_fee.h).
 */
#include "server/relay_fee.h"

#include "core/err.h"

static int pow10(u256 *out, unsigned n)
{
	u256 ten = u256_from_u64(10);

	*out = u256_from_u64(1);
	for (unsigned i = 0; i < n; i++)
		if (u256_mul(out, out, &ten))
			return ERR_RANGE;
	return 0;
}

int relay_fee_compute(u256 *fee, u256 *cost_wei, const struct relay_fee_in *in, struct err *e)
{
	u256 wei, num, den, scale, rem, x;

	if (in->native_usd_micro == 0 || in->token_usd_micro == 0)
		return err_set(e, ERR_STATE, "no USD price of the %s: the relayer cannot price its gas",
			       in->native_usd_micro == 0 ? "native coin" : "token");
	if (in->token_decimals > 36)
		return err_set(e, ERR_RANGE, "token decimals %u above 36", in->token_decimals);
	if (in->margin_pct > RELAY_MARGIN_MAX)
		return err_set(e, ERR_RANGE, "margin %u%% above %d%%", in->margin_pct, RELAY_MARGIN_MAX);
	x = u256_from_u64(in->gas_limit);
	if (u256_mul(&wei, &x, &in->max_fee_per_gas))
		return err_set(e, ERR_RANGE, "gas cost overflows");
	/* num = wei * native_usd * 10^dec * (100 + margin); den = 10^18 * token_usd * 100 */
	x = u256_from_u64(in->native_usd_micro);
	if (u256_mul(&num, &wei, &x) || pow10(&scale, in->token_decimals) || u256_mul(&num, &num, &scale))
		return err_set(e, ERR_RANGE, "fee overflows");
	x = u256_from_u64(100 + (uint64_t)in->margin_pct);
	if (u256_mul(&num, &num, &x))
		return err_set(e, ERR_RANGE, "fee overflows");
	pow10(&den, 20); /* 10^18 * 100 */
	x = u256_from_u64(in->token_usd_micro);
	if (u256_mul(&den, &den, &x))
		return err_set(e, ERR_RANGE, "fee overflows");
	u256_divmod(fee, &rem, &num, &den);
	if (!u256_is_zero(&rem)) {
		x = u256_from_u64(1);
		u256_add(fee, fee, &x);
	}
	if (cost_wei)
		*cost_wei = wei;
	return 0;
}

int relay_fee_usd_micro(uint64_t *out, const u256 *units, unsigned decimals, uint64_t usd_micro, struct err *e)
{
	u256 p = u256_from_u64(usd_micro), scale, x;

	if (decimals > 36 || pow10(&scale, decimals))
		return err_set(e, ERR_RANGE, "token decimals %u above 36", decimals);
	if (u256_mul(&x, units, &p))
		return err_set(e, ERR_RANGE, "USD value overflows");
	u256_divmod(&x, NULL, &x, &scale);
	if (u256_to_u64(out, &x))
		return err_set(e, ERR_RANGE, "USD value above 2^64 micro-USD");
	return 0;
}

// money.js — token amounts as BigInt in the token's smallest unit, end to end; text only for display
// and for what a person types. Never a float for money.

export const RATE_SCALE = 10n ** 18n;
export const MAX_DEPOSIT = (1n << 96n) - 1n; // the escrow's packed state keeps 96 bits

export class AmountError extends Error {}

// "12.5" with 6 decimals -> 12500000n. Refuses (AmountError with a message a person can act on)
// empty text, a sign, exponents, more decimals than the token has, and values above `max`.
export function parseUnits(text, decimals, symbol = 'the token', max = MAX_DEPOSIT) {
	const t = String(text ?? '').trim();
	if (!t) throw new AmountError('Enter an amount.');
	if (t.length > 80) throw new AmountError('That amount is too long.');
	if (t.startsWith('-')) throw new AmountError('The amount cannot be negative.');
	const m = /^(\d*)(?:\.(\d*))?$/.exec(t);
	if (!m || (m[1] === '' && (m[2] === undefined || m[2] === '')))
		throw new AmountError(`"${t.slice(0, 24)}" is not an amount: use digits and at most one dot, e.g. 12.5`);
	const frac = (m[2] || '').replace(/0+$/, '');
	if (frac.length > decimals)
		throw new AmountError(`Too many decimals: ${symbol} has ${decimals}, so the smallest amount is ${formatUnits(1n, decimals)}.`);
	const units = BigInt(m[1] || '0') * 10n ** BigInt(decimals) + BigInt((frac || '0').padEnd(decimals, '0').slice(0, decimals) || '0');
	if (units > max) throw new AmountError(`That is more than the largest deposit (${formatUnits(max, decimals)} ${symbol}).`);
	return units;
}

// 12500000n with 6 decimals -> "12.5"; every digit kept (exact), trailing zeros dropped (min 2 when money-like).
export function formatUnits(units, decimals, minFrac = 0) {
	const u = BigInt(units);
	const neg = u < 0n;
	const a = neg ? -u : u;
	const base = 10n ** BigInt(decimals);
	const whole = (a / base).toString();
	let frac = decimals ? (a % base).toString().padStart(decimals, '0').replace(/0+$/, '') : '';
	if (frac.length < minFrac) frac = frac.padEnd(Math.min(minFrac, decimals), '0');
	return (neg ? '-' : '') + whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (frac ? '.' + frac : '');
}

// An amount with its symbol, e.g. "12.50 dUSDC".
export function showAmount(units, token) {
	return `${formatUnits(units, token.decimals, Math.min(2, token.decimals))} ${token.symbol}`;
}

// What the escrow charges for secs seconds at rate (token units * 1e18 per second): floor(rate*secs/1e18).
export function cost(rate, secs) {
	return (BigInt(rate) * BigInt(secs)) / RATE_SCALE;
}

// The platform's part of a cost: floor(cost * feeBps / 10000), as the escrow computes it.
export function feeOf(amount, feeBps) {
	return (BigInt(amount) * BigInt(feeBps)) / 10000n;
}

// Seconds a deposit pays for at rate: floor(deposit * 1e18 / rate).
export function secondsFor(deposit, rate) {
	const r = BigInt(rate);
	return r === 0n ? 0n : (BigInt(deposit) * RATE_SCALE) / r;
}

// USD value text ("$1.234567") of units of a token whose whole-token price is usd ("1.000000"), rounded
// down to 6 decimals; "" when the price is unknown.
export function usdOf(units, decimals, usd) {
	if (!usd) return '';
	const micro = parseUnits(usd, 6, 'USD', 1n << 200n);
	const v = (BigInt(units) * micro) / 10n ** BigInt(decimals);
	return '$' + formatUnits(v, 6, 2);
}

// "1 h 05 min", "3 min 20 s" for a duration in seconds.
export function showDuration(secs) {
	let s = Number(secs);
	if (!Number.isFinite(s) || s <= 0) return '0 s';
	const d = Math.floor(s / 86400); s -= d * 86400;
	const h = Math.floor(s / 3600); s -= h * 3600;
	const m = Math.floor(s / 60); s -= m * 60;
	if (d >= 2) return `${d} d ${h} h`;
	if (d) return `${24 + h} h ${String(m).padStart(2, '0')} min`;
	if (h) return `${h} h ${String(m).padStart(2, '0')} min`;
	if (m) return `${m} min ${String(s).padStart(2, '0')} s`;
	return `${s} s`;
}

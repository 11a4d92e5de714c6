// api.js — the marketplace server's JSON API, on this page's own origin (docs/api.md). Errors come back
// as ApiError with the server's code, message and field, so a view can say what went wrong.

export class ApiError extends Error {
	constructor(status, code, message, field) {
		super(message);
		this.status = status;
		this.code = code;
		this.field = field;
	}
}

let session = null; // { token, address, expires_at }

export function setSession(s) {
	session = s;
	if (s) sessionStorage.setItem('flop.session', JSON.stringify(s));
	else sessionStorage.removeItem('flop.session');
}

export function getSession(address) {
	if (!session) {
		try { session = JSON.parse(sessionStorage.getItem('flop.session') || 'null'); } catch { session = null; }
	}
	if (!session || session.expires_at * 1000 < Date.now()) return null;
	if (address && session.address.toLowerCase() !== address.toLowerCase()) return null;
	return session;
}

const GET_RETRIES = [250, 1000]; // ms before the second and the third try of a GET

// fetch(), but a GET the network dropped (a wifi switch, a VPN coming up: Chromium's ERR_NETWORK_CHANGED)
// is asked again, twice at most: a GET changes nothing. Anything else is the person's to retry.
export async function fetchRetryingGets(url, init = {}) {
	for (let attempt = 0; ; attempt++) {
		try {
			return await fetch(url, init);
		} catch (e) {
			if ((init.method || 'GET') !== 'GET' || attempt >= GET_RETRIES.length) throw e;
			await new Promise((r) => setTimeout(r, GET_RETRIES[attempt]));
		}
	}
}

async function request(method, path, { body, auth, raw } = {}) {
	const headers = {};
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	if (auth) {
		const s = getSession();
		if (!s) throw new ApiError(401, 'unauthorized', 'Sign in with your wallet first.');
		headers.Authorization = 'Bearer ' + s.token;
	}
	let res;
	try {
		res = await fetchRetryingGets(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
	} catch {
		throw new ApiError(0, 'network', 'The marketplace server cannot be reached. Check your connection and retry.');
	}
	if (raw && res.ok) return res;
	const text = await res.text();
	let json = null;
	try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
	if (!res.ok) {
		const e = json && json.error ? json.error : {};
		if (res.status === 401 && auth) setSession(null);
		throw new ApiError(res.status, e.code || 'http_' + res.status, e.message || `The server answered ${res.status}.`, e.field);
	}
	return json;
}

export const api = {
	get: (path, opts) => request('GET', path, opts),
	post: (path, body, opts = {}) => request('POST', path, { ...opts, body }),
	del: (path, opts) => request('DELETE', path, opts),
};

let configPromise = null;
// The deployment the server serves (GET /config), fetched once.
export function config() {
	// a failed fetch is not kept: the next call asks again
	if (!configPromise) configPromise = api.get('/config').catch((e) => { configPromise = null; throw e; });
	return configPromise;
}

// The token record (symbol, decimals, usd) of an address in the config, or a placeholder.
export function tokenOf(cfg, address) {
	const a = String(address || '').toLowerCase();
	return cfg.tokens.find((t) => t.address === a) || { address: a, symbol: '?', decimals: 18, usd: null };
}

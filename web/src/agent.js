// agent.js — talking to the provider's agent, a different origin from this page (docs/agent.md): its
// endpoint comes from the host record; the SSH key delivery and the terminal challenge are signed by the
// renter's wallet, and the agent checks the signer against the renter on chain. The agent admits this
// page's origin (its --web-origin) through CORS.
import { api, fetchRetryingGets } from './api.js';

export class AgentError extends Error {}

// The agent's base URL for a machine (GET /hosts/{id} -> endpoint), or "" when none is known yet.
export async function endpointOf(machineId) {
	try {
		const host = await api.get(`/hosts/${machineId}`);
		return (host.endpoint || '').replace(/\/$/, '');
	} catch {
		return '';
	}
}

// The endpoint for a rental (rental -> offer -> host).
export async function endpointOfRental(rental) {
	const offer = await api.get(`/offers/${rental.offer_hash}`);
	return endpointOf(offer.machine_id);
}

async function agentFetch(url, init = {}) {
	let res;
	try {
		res = await fetchRetryingGets(url, init);
	} catch {
		throw new AgentError('The provider\'s machine cannot be reached from this browser (its agent is down, or does not admit this marketplace).');
	}
	let body = null;
	try { body = await res.json(); } catch { /* no JSON */ }
	if (!res.ok) {
		const e = body && body.error ? body.error : {};
		const err = new AgentError(e.message || `The provider's agent answered ${res.status}.`);
		err.status = res.status;
		err.code = e.code;
		throw err;
	}
	return body;
}

function b64(bytes) {
	let s = '';
	for (const b of bytes) s += String.fromCharCode(b);
	return btoa(s);
}

// A fresh ssh-ed25519 public key line made in this browser (WebCrypto); the private key never leaves
// the page's memory and is dropped with it. Access is then through the browser terminal.
export async function browserKeyLine() {
	let pair;
	try {
		pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
	} catch {
		throw new AgentError('This browser cannot make an SSH key: paste your own SSH public key instead.');
	}
	const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
	const type = new TextEncoder().encode('ssh-ed25519');
	const blob = new Uint8Array(4 + type.length + 4 + raw.length);
	const dv = new DataView(blob.buffer);
	dv.setUint32(0, type.length);
	blob.set(type, 4);
	dv.setUint32(4 + type.length, raw.length);
	blob.set(raw, 8 + type.length);
	return `ssh-ed25519 ${b64(blob)} flopmarket-browser`;
}

// Delivers the key (signed "flopmarket ssh-key <id> <ms> <key>", then "\nimage <name>" when an instance image
// was chosen) to the agent.
export async function deliverKey(endpoint, rentalId, keyLine, sign, image = '') {
	const key = keyLine ? keyLine.trim() : await browserKeyLine();
	if (key.length > 8192 || /[\r\n]/.test(key) || !/^(ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) [A-Za-z0-9+/=]+( [^\s]+)?$/.test(key))
		throw new AgentError('That is not an SSH public key: paste one line like "ssh-ed25519 AAAA… you@laptop".');
	const issued = Date.now();
	if (image && !/^[a-z0-9][a-z0-9._-]{0,31}$/.test(image)) throw new AgentError(`"${image}" is not an image name.`);
	const signature = await sign(`flopmarket ssh-key ${rentalId} ${issued} ${key}` + (image ? `\nimage ${image}` : ''));
	for (let i = 0; i < 30; i++) {
		try {
			return await agentFetch(`${endpoint}/rentals/${rentalId}/ssh-key`, {
				method: 'POST', headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify(image ? { ssh_key: key, issued_ms: issued, signature, image } : { ssh_key: key, issued_ms: issued, signature }) });
		} catch (e) {
			if (e.status !== 429) throw e;
			await new Promise((r) => setTimeout(r, 1000));
		}
	}
	throw new AgentError('The provider\'s agent is busy: try again in a minute.');
}

// The agent's access status for a rental.
export function access(endpoint, rentalId) {
	return agentFetch(`${endpoint}/rentals/${rentalId}/access`);
}

// Polls the access status until the account is active (or ms pass); the last status.
export async function waitAccess(endpoint, rentalId, ms) {
	const until = Date.now() + ms;
	let a = null;
	while (Date.now() < until) {
		try {
			a = await access(endpoint, rentalId);
			if (a.status === 'active' || a.status === 'ended') return a;
		} catch (e) {
			if (e.status && e.status !== 429 && e.status !== 404) throw e;
		}
		await new Promise((r) => setTimeout(r, 700));
	}
	return a;
}

// A terminal challenge: { challenge, message, expires, origin }.
export function challenge(endpoint, rentalId) {
	return agentFetch(`${endpoint}/terminal/${rentalId}/challenge`);
}

// A fresh signed challenge as query parameters (the terminal's auth, one per connection or transfer).
export async function signedQuery(endpoint, rentalId, sign) {
	const c = await challenge(endpoint, rentalId);
	const sig = await sign(c.message);
	return `challenge=${encodeURIComponent(c.challenge)}&sig=${encodeURIComponent(sig)}`;
}

// Opens the rental's Jupyter notebook in a new tab through a signed, one-time sign-in link to the agent
// (docs/agent.md, "Jupyter in a rental"): the agent sets a cookie for that rental alone and redirects into
// the notebook. The tab is opened at the click, before the wallet prompt, so that popup blockers allow it.
export async function openJupyter(endpoint, rentalId, sign) {
	const tab = window.open('about:blank', '_blank');
	if (tab) tab.opener = null;
	try {
		const q = await signedQuery(endpoint, rentalId, sign);
		const url = `${endpoint}/jupyter/${encodeURIComponent(rentalId)}/auth?${q}`;
		if (tab) tab.location.href = url;
		else window.location.assign(url);
	} catch (e) {
		if (tab) tab.close();
		throw e;
	}
}

// A file name a person typed: relative to the rental's home, no "..", no leading "/".
export function homePathError(p) {
	const s = String(p || '');
	if (!s) return 'Enter a file name, e.g. results/model.pt';
	if (s.startsWith('/')) return 'Use a path relative to the rental\'s home (no leading /).';
	if (s.length > 1024) return 'That path is too long.';
	if (s.split('/').some((c) => c === '' || c === '.' || c === '..')) return 'No empty, "." or ".." parts in the path.';
	if (/[\u0000-\u001f\u007f\\\\]/.test(s)) return 'No control characters or backslashes in the path.';
	return null;
}

// Uploads a File into the rental's home as `path`, reporting progress (0..1); resolves to the agent's
// answer {path, size, sha256}.
export function uploadFile(endpoint, rentalId, path, file, query, onProgress) {
	return new Promise((resolve, reject) => {
		const xhr = new XMLHttpRequest();
		xhr.open('PUT', `${endpoint}/files/${rentalId}?path=${encodeURIComponent(path)}&${query}`);
		xhr.setRequestHeader('Content-Type', 'application/octet-stream');
		xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) onProgress(ev.loaded / ev.total); };
		xhr.onload = () => {
			let body = null;
			try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
			if (xhr.status === 201 && body) resolve(body);
			else reject(new AgentError(body && body.error ? body.error.message : `The upload failed (${xhr.status}).`));
		};
		xhr.onerror = () => reject(new AgentError('The upload was cut: the connection to the provider\'s machine dropped.'));
		xhr.send(file);
	});
}

// Downloads `path` from the rental's home as a Blob.
export async function downloadFile(endpoint, rentalId, path, query) {
	let res;
	try {
		res = await fetch(`${endpoint}/files/${rentalId}?path=${encodeURIComponent(path)}&${query}`);
	} catch {
		throw new AgentError('The provider\'s machine cannot be reached from this browser.');
	}
	if (!res.ok) {
		let msg = `The download failed (${res.status}).`;
		try { const b = await res.json(); if (b.error) msg = b.error.message; } catch { /* not JSON */ }
		throw new AgentError(msg);
	}
	return res.blob();
}

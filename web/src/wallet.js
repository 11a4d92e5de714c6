// wallet.js — the browser wallet: EIP-6963 discovery (every installed wallet announces itself and the
// person picks one), EIP-1193 requests, the network check and switch (EIP-3326 / EIP-3085), and SIWE
// (EIP-4361) sign-in for what the server ties to an address. State changes are broadcast as a
// `wallet` event on window so views re-render.
import { BrowserProvider, getAddress } from 'ethers';
import { api, config, getSession, setSession } from './api.js';

const wallets = new Map(); // uuid -> { info, provider } (frozen, as EIP-6963 announces it)
const listening = new WeakSet(); // providers whose events we follow
export const state = { wallet: null, provider: null, address: null, chainId: null, ethers: null };

function changed() {
	window.dispatchEvent(new CustomEvent('wallet'));
}

// Starts EIP-6963 discovery; wallets that announce later are added as they come.
export function discover() {
	window.addEventListener('eip6963:announceProvider', (ev) => {
		const d = ev.detail;
		if (!d || !d.info || !d.provider || typeof d.provider.request !== 'function') return;
		wallets.set(d.info.uuid || d.info.rdns || d.info.name, d);
		changed();
	});
	window.dispatchEvent(new Event('eip6963:requestProvider'));
}

// Installed wallets: EIP-6963 announcements, else a legacy window.ethereum.
export function installed() {
	const list = [...wallets.values()];
	if (!list.length && window.ethereum && typeof window.ethereum.request === 'function')
		list.push({ info: { uuid: 'legacy', name: 'Browser wallet', rdns: 'legacy' }, provider: window.ethereum });
	return list;
}

export class WalletError extends Error {
	constructor(kind, message) {
		super(message);
		this.kind = kind; // rejected | wrong_network | no_wallet | failed
	}
}

// Turns a wallet's error into words a person can act on.
export function walletError(e, what = 'The request') {
	const code = e && (e.code ?? e.info?.error?.code ?? e.error?.code);
	if (code === 4001 || code === 'ACTION_REJECTED')
		return new WalletError('rejected', `${what} was rejected in your wallet. Nothing was sent.`);
	if (e instanceof WalletError) return e;
	const msg = e?.shortMessage || e?.info?.error?.message || e?.message || String(e);
	return new WalletError('failed', `${what} failed: ${msg}`);
}

async function track(entry, accounts) {
	const p = entry.provider;
	state.wallet = entry;
	state.provider = p;
	state.address = accounts && accounts[0] ? getAddress(accounts[0]) : null;
	state.chainId = Number(BigInt(await p.request({ method: 'eth_chainId' })));
	state.ethers = new BrowserProvider(p, 'any');
	if (!listening.has(p) && typeof p.on === 'function') {
		listening.add(p);
		p.on('accountsChanged', (a) => { state.address = a && a[0] ? getAddress(a[0]) : null; changed(); });
		p.on('chainChanged', (c) => { state.chainId = Number(BigInt(c)); state.ethers = new BrowserProvider(p, 'any'); changed(); });
	}
	localStorage.setItem('flop.wallet', entry.info.rdns || entry.info.name);
	changed();
}

// Asks the chosen wallet for an account (the wallet shows its own prompt).
export async function connect(entry) {
	let accounts;
	try {
		accounts = await entry.provider.request({ method: 'eth_requestAccounts' });
	} catch (e) {
		throw walletError(e, 'Connecting');
	}
	await track(entry, accounts);
}

// Reconnects silently to the wallet used last time, if it still grants an account.
export async function resume() {
	const last = localStorage.getItem('flop.wallet');
	const entry = installed().find((w) => (w.info.rdns || w.info.name) === last);
	if (!entry) return;
	try {
		const accounts = await entry.provider.request({ method: 'eth_accounts' });
		if (accounts && accounts.length) await track(entry, accounts);
	} catch { /* stay disconnected */ }
}

export function disconnect() {
	setSession(null);
	localStorage.removeItem('flop.wallet');
	Object.assign(state, { wallet: null, provider: null, address: null, chainId: null, ethers: null });
	changed();
}

export async function onRightChain() {
	const cfg = await config();
	return state.chainId === cfg.chain_id;
}

// Asks the wallet to switch to the marketplace's chain, adding it when the wallet does not know it.
export async function switchChain() {
	const cfg = await config();
	const hex = '0x' + cfg.chain_id.toString(16);
	try {
		await state.provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: hex }] });
	} catch (e) {
		if (e && e.code === 4902 && cfg.rpc_url) {
			try {
				await state.provider.request({ method: 'wallet_addEthereumChain', params: [{
					chainId: hex, chainName: cfg.chain_name || `Chain ${cfg.chain_id}`, rpcUrls: [cfg.rpc_url],
					nativeCurrency: { name: cfg.native_symbol, symbol: cfg.native_symbol, decimals: 18 },
					blockExplorerUrls: cfg.explorer_url ? [cfg.explorer_url] : undefined }] });
			} catch (e2) {
				throw walletError(e2, 'Adding the network');
			}
		} else {
			throw walletError(e, 'Switching the network');
		}
	}
	state.chainId = Number(BigInt(await state.provider.request({ method: 'eth_chainId' })));
	state.ethers = new BrowserProvider(state.provider, 'any');
	changed();
}

// Throws WalletError unless a wallet is connected on the marketplace's chain.
export async function requireReady() {
	if (!state.address) throw new WalletError('no_wallet', 'Connect a wallet first.');
	if (!(await onRightChain())) {
		const cfg = await config();
		throw new WalletError('wrong_network', `Your wallet is on chain ${state.chainId}; this marketplace runs on ${cfg.chain_name || 'chain ' + cfg.chain_id} (${cfg.chain_id}). Switch the network to continue.`);
	}
	return state.ethers.getSigner(state.address);
}

// personal_sign of a UTF-8 message by the connected account.
export async function signMessage(message, what = 'Signing') {
	try {
		const hexMsg = '0x' + [...new TextEncoder().encode(message)].map((b) => b.toString(16).padStart(2, '0')).join('');
		return await state.provider.request({ method: 'personal_sign', params: [hexMsg, state.address] });
	} catch (e) {
		throw walletError(e, what);
	}
}

// The EIP-4361 message for a nonce answer (docs/api.md "Sign-In With Ethereum").
export function siweMessage(n, address, chainId, now = new Date()) {
	const issued = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
	return `${n.domain} wants you to sign in with your Ethereum account:\n${address}\n\n` +
		`Sign in to the Flopmarket marketplace.\n\nURI: ${n.uri}\nVersion: 1\nChain ID: ${chainId}\n` +
		`Nonce: ${n.nonce}\nIssued At: ${issued}`;
}

// Signs in (or reuses this tab's session for the connected address).
export async function signIn() {
	await requireReady();
	const have = getSession(state.address);
	if (have) return have;
	const n = await api.get('/auth/nonce');
	const message = siweMessage(n, state.address, n.chain_id);
	const signature = await signMessage(message, 'Signing in');
	const s = await api.post('/auth/siwe', { message, signature });
	setSession(s);
	changed();
	return s;
}

export function signedIn() {
	return !!(state.address && getSession(state.address));
}

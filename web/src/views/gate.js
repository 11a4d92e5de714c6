// gate.js — what a page that needs a wallet shows without one: a plain explanation and the connect
// button, or the network switch when the wallet is on another chain; and the sign-in a page needs.
import { config } from '../api.js';
import { h, mount } from '../ui.js';
import { installed, onRightChain, signIn, signedIn, state, switchChain } from '../wallet.js';
import { connectButton } from './wallet_menu.js';

export async function needWallet(title) {
	const cfg = await config();
	if (!installed().length) {
		mount(h('div', h('h1', title), h('p', 'No wallet was found in this browser. Install a browser wallet (MetaMask, Rabby, Coinbase Wallet, …) to rent and pay; the marketplace itself works without one.'),
			h('a.button', { href: '#/' }, 'Browse GPUs')));
		return false;
	}
	if (!state.address) {
		mount(h('div', h('h1', title), h('p', 'Connect your wallet to continue.'), connectButton()));
		return false;
	}
	if (!(await onRightChain())) {
		const msg = h('p.error', { role: 'alert' }, `Your wallet is on chain ${state.chainId}, but this marketplace runs on ${cfg.chain_name || 'chain ' + cfg.chain_id} (${cfg.chain_id}).`);
		mount(h('div', h('h1', title), msg, h('button#switch-network', { type: 'button', onclick: async () => {
			try { await switchChain(); } catch (e) { msg.textContent = e.message; }
		} }, 'Switch network')));
		return false;
	}
	return true;
}

// True when the connected address is signed in; else shows why the page needs it and a Sign in button
// (one signature, no transaction) that re-renders the page once signed in, or says why it failed.
export function needSignIn(title, why, rerender) {
	if (signedIn()) return true;
	mount(h('div', h('h1', title), h('p', why),
		h('button#sign-in', { type: 'button', onclick: async (ev) => {
			ev.target.disabled = true;
			try { await signIn(); rerender(); } catch (e) { ev.target.after(h('p.error', { role: 'alert' }, e.message)); ev.target.disabled = false; }
		} }, 'Sign in')));
	return false;
}

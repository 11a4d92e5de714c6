// wallet_menu.js — the header's wallet corner: "Connect wallet" (a choice when several wallets announce
// themselves per EIP-6963), then the account, the network (a "Wrong network" button that asks the
// wallet to switch), sign-in state and disconnect.
import { config } from '../api.js';
import { h, short } from '../ui.js';
import { connect, disconnect, installed, signedIn, signIn, state, switchChain } from '../wallet.js';

export function connectButton() {
	const out = h('div.connect');
	const err = h('p.error', { role: 'alert' });
	const go = async (w) => {
		err.textContent = '';
		try { await connect(w); } catch (e) { err.textContent = e.message; }
	};
	const list = installed();
	if (!list.length) {
		out.append(h('span.muted.no-wallet', { title: 'Install a browser wallet to rent' }, 'No wallet found — browsing read-only'));
		return out;
	}
	if (list.length === 1) {
		out.append(h('button#connect-wallet', { type: 'button', onclick: () => go(list[0]) }, 'Connect wallet'));
	} else {
		const menu = h('div.menu', { role: 'menu', hidden: true }, list.map((w) => h('button', { type: 'button', role: 'menuitem', onclick: () => { menu.hidden = true; go(w); } },
			w.info.icon && /^data:image\//.test(w.info.icon) ? h('img', { src: w.info.icon, alt: '', width: 20, height: 20 }) : null, w.info.name)));
		out.append(h('button#connect-wallet', { type: 'button', 'aria-haspopup': 'menu', onclick: () => { menu.hidden = !menu.hidden; } }, 'Connect wallet'), menu);
	}
	out.append(err);
	return out;
}

export async function renderWalletCorner() {
	const box = document.getElementById('wallet');
	const cfg = await config();
	if (!state.address) {
		box.replaceChildren(connectButton());
		return;
	}
	const right = state.chainId === cfg.chain_id;
	const err = h('span.error', { role: 'alert' });
	box.replaceChildren(
		right ? h('span.chain.ok', { title: `chain ${cfg.chain_id}` }, cfg.chain_name || `chain ${cfg.chain_id}`)
			: h('button#wrong-network.warn', { type: 'button', title: `Your wallet is on chain ${state.chainId}`, onclick: async () => {
				try { await switchChain(); } catch (e) { err.textContent = e.message; }
			} }, `Wrong network (${state.chainId}) — switch`),
		h('span.account#account', { title: state.address }, short(state.address, 4)),
		signedIn() ? h('span.signed-in.muted', 'signed in') : h('button.small#sign-in-header', { type: 'button', disabled: !right, onclick: async () => {
			try { await signIn(); } catch (e) { err.textContent = e.message; }
		} }, 'Sign in'),
		h('button.small.link', { type: 'button', onclick: disconnect }, 'Disconnect'), err);
}

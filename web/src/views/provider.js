// provider.js — the provider's page: their listed offers (withdraw), and per rental what is accrued,
// claimable now and already claimed, from the chain (the escrow's quote at the latest block), with the
// claim button. Hosts register and offers are signed by the agent and `flopmarket provider offer`.
import { api, config, tokenOf } from '../api.js';
import { escrowContract, explainRevert, termsTuple } from '../escrow.js';
import { showAmount } from '../money.js';
import { explorerLink, h, mount, short } from '../ui.js';
import { requireReady, signIn, signedIn, state, walletError } from '../wallet.js';
import { needWallet } from './gate.js';

async function earningsRow(cfg, r) {
	const token = tokenOf(cfg, r.token);
	const out = h('span.tx-status', { 'aria-live': 'polite' });
	let claimable = 0n, accrued = null;
	if (r.terms && (r.state === 'open' || r.state === 'ended')) {
		try {
			const block = await state.ethers.getBlock('latest');
			const q = await escrowContract(cfg, state.ethers).quote(termsTuple(r.terms), block.timestamp);
			claimable = q.claimableGross;
			accrued = q.cost;
		} catch { /* closed meanwhile */ }
	}
	const claimed = BigInt(r.claimed || '0');
	const btn = h('button.small.claim', { type: 'button', disabled: claimable === 0n, onclick: async () => {
		btn.disabled = true;
		try {
			const signer = await requireReady();
			out.replaceChildren('Claim: waiting for your signature…');
			let tx;
			try {
				tx = await escrowContract(cfg, signer).claim(termsTuple(r.terms));
			} catch (e) {
				const why = explainRevert(e);
				throw why ? new Error(`Claim would fail on chain: ${why}. Nothing was sent.`) : walletError(e, 'Claim');
			}
			out.replaceChildren('Claim: pending ', explorerLink(cfg, 'tx', tx.hash));
			const rc = await tx.wait();
			out.replaceChildren(rc.status === 1 ? 'Claimed in block ' + rc.blockNumber + ' ' : 'Claim reverted ', explorerLink(cfg, 'tx', tx.hash));
		} catch (e) {
			out.replaceChildren(h('span.error', { role: 'alert' }, e.message));
			btn.disabled = false;
		}
	} }, 'Claim');
	return h('tr', { dataset: { rental: String(r.id), claimable: claimable.toString() } },
		h('td', `#${r.id}`), h('td', r.state), h('td', short(r.renter, 4)),
		h('td', accrued !== null ? showAmount(accrued, token) : '—'),
		h('td.claimable', showAmount(claimable, token)),
		h('td', showAmount(claimed, token)),
		h('td', showAmount(BigInt(r.provider_paid || '0'), token)),
		h('td', btn, out));
}

function offerRow(cfg, o, onChange) {
	const out = h('span.muted');
	return h('tr', { dataset: { offer: o.offer_hash } },
		h('td', h('a', { href: `#/offer/${o.offer_hash}` }, short(o.offer_hash, 6))),
		h('td', o.gpu ? `${o.num_gpus}× ${o.gpu}` : '—'), h('td', o.token_per_hour ? `${o.token_per_hour} ${o.token_symbol}/h` : '—'),
		h('td.listed', o.listed ? 'listed' : 'not listed now (machine rented or host down)'),
		h('td', o.expires_at ? new Date(o.expires_at * 1000).toLocaleDateString() : '—'),
		h('td', h('button.small.withdraw', { type: 'button', onclick: async () => {
			try { await api.del(`/offers/${o.offer_hash}`, { auth: true }); onChange(); } catch (e) { out.textContent = e.message; }
		} }, 'Withdraw'), out));
}

export async function render() {
	const cfg = await config();
	if (!(await needWallet('Provider'))) return;
	if (!signedIn()) {
		mount(h('div', h('h1', 'Provider'), h('p', 'Sign in with your provider wallet to see your offers and earnings.'),
			h('button#sign-in', { type: 'button', onclick: async () => { await signIn().catch(() => {}); render(); } }, 'Sign in')));
		return;
	}
	const [rentals, offers] = await Promise.all([
		api.get('/me/rentals?role=provider&limit=200', { auth: true }),
		api.get('/me/offers', { auth: true }),
	]);
	const rows = await Promise.all(rentals.rentals.map((r) => earningsRow(cfg, r)));
	mount(h('div.provider',
		h('h1', 'Provider'),
		h('p.muted', 'Your agent registers your machines and `flopmarket provider offer` signs offers; here you watch and withdraw them and claim what you have earned.'),
		h('h2', `Offers (${offers.offers.length})`),
		offers.offers.length ? h('div.table-wrap', h('table.offers-table', h('thead', h('tr', ['Offer', 'GPUs', 'Price', 'In search', 'Expires', ''].map((t) => h('th', { scope: 'col' }, t)))),
			h('tbody', offers.offers.map((o) => offerRow(cfg, o, render))))) : h('p.muted', 'No offers: publish one with `flopmarket provider offer`.'),
		h('h2', 'Earnings'),
		rows.length ? h('div.table-wrap', h('table.earnings-table', h('thead', h('tr', ['Rental', 'State', 'Renter', 'Accrued', 'Claimable now', 'Claimed (gross)', 'Paid to you', ''].map((t) => h('th', { scope: 'col' }, t)))),
			h('tbody', rows))) : h('p.muted', 'No rentals yet.')));
}

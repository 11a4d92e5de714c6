// provider.js — the provider's page: their listed offers (withdraw), and per rental what is accrued,
// claimable now and already claimed, from the chain (the escrow's quote at the latest block), with the
// claim button. Hosts register and offers are signed by the agent and `flopmarket provider offer`.
import { api, config, tokenOf } from '../api.js';
import { escrowContract, termsTuple } from '../escrow.js';
import { sendTx } from '../tx.js';
import { AmountError, RATE_SCALE, parseUnits, showAmount } from '../money.js';
import { explorerLink, h, mount, short } from '../ui.js';
import { requireReady, state, walletError } from '../wallet.js';
import { needSignIn, needWallet } from './gate.js';

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
			const rc = await sendTx(cfg, 'Claim', () => escrowContract(cfg, signer).claim(termsTuple(r.terms)),
				(parts) => out.replaceChildren(...parts));
			out.replaceChildren(`Claimed in block ${rc.blockNumber} `, explorerLink(cfg, 'tx', rc.hash));
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

// The provider's machines, from their offers (machine id, spec hash, GPUs).
function machinesOf(offers) {
	const seen = new Map();
	for (const o of offers) if (o.offer && !seen.has(o.machine_id)) seen.set(o.machine_id, { machine_id: o.machine_id, specHash: o.offer.specHash, gpu: o.gpu ? `${o.num_gpus}× ${o.gpu}` : '?' });
	return [...seen.values()];
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

// The EIP-712 Offer as the escrow hashes it (docs/escrow.md §3), field order included.
const OFFER_TYPES = { Offer: [
	{ name: 'provider', type: 'address' }, { name: 'payout', type: 'address' }, { name: 'token', type: 'address' },
	{ name: 'arbiter', type: 'address' }, { name: 'rate', type: 'uint128' }, { name: 'minSecs', type: 'uint32' },
	{ name: 'maxSecs', type: 'uint32' }, { name: 'interruptible', type: 'bool' }, { name: 'noticeSecs', type: 'uint32' },
	{ name: 'graceSecs', type: 'uint32' }, { name: 'disputeSecs', type: 'uint32' }, { name: 'specHash', type: 'bytes32' },
	{ name: 'capacity', type: 'uint16' }, { name: 'monitor', type: 'address' }, { name: 'maxFeeBps', type: 'uint16' },
	{ name: 'expiry', type: 'uint40' }, { name: 'nonce', type: 'uint64' }] };

// A whole number typed in a field, within [min, max]; AmountError naming the field otherwise.
function whole(text, label, min, max) {
	const t = String(text ?? '').trim();
	if (!/^\d{1,9}$/.test(t)) throw new AmountError(`${label}: a whole number${min === 0 ? '' : ` from ${min}`}.`);
	const v = Number(t);
	if (v < min || v > max) throw new AmountError(`${label}: from ${min} to ${max}.`);
	return v;
}

// The Offer for a machine from the form's values (throws AmountError naming the field).
export function offerFromForm(cfg, machine, v, now = Math.floor(Date.now() / 1000)) {
	const token = cfg.tokens.find((t) => t.symbol === v.token);
	if (!token) throw new AmountError('Pick a token.');
	const price = parseUnits(v.price, token.decimals, token.symbol, (1n << 100n));
	if (price === 0n) throw new AmountError('The price must be more than zero.');
	const maxH = whole(v.maxHours, 'Maximum hours', 1, 24 * 365);
	const minH = whole(v.minHours, 'Minimum hours', 0, maxH);
	const grace = whole(v.graceMins, 'Grace minutes', 0, 24 * 60);
	const dispute = whole(v.disputeHours, 'Dispute window hours', 0, 24 * 30);
	const days = whole(v.days, 'Expires in days', 1, 365);
	const capacity = whole(v.capacity, 'Capacity', 1, 64);
	const notice = v.interruptible ? whole(v.noticeMins, 'Notice minutes', 1, 24 * 60) : 0;
	const rate = (price * RATE_SCALE + 3599n) / 3600n; // rounded up: cost(3600) is exactly the price
	return {
		provider: state.address.toLowerCase(), payout: state.address.toLowerCase(), token: token.address,
		arbiter: '0x0000000000000000000000000000000000000000', rate: rate.toString(), minSecs: minH * 3600,
		maxSecs: maxH * 3600, interruptible: !!v.interruptible, noticeSecs: notice * 60, graceSecs: grace * 60,
		disputeSecs: dispute * 3600, specHash: machine.specHash, capacity, monitor: cfg.monitor || '0x0000000000000000000000000000000000000000',
		maxFeeBps: cfg.fee_bps, expiry: now + days * 86400, nonce: String(Date.now()),
	};
}

function publishForm(cfg, machines, onDone) {
	const f = {};
	const input = (name, value, label, attrs = {}) => {
		f[name] = h('input', { id: `pub-${name}`, type: 'text', value, autocomplete: 'off', ...attrs });
		return h('div.field', h('label', { for: `pub-${name}` }, label), f[name]);
	};
	const machine = h('select#pub-machine', machines.map((m) => h('option', { value: String(m.machine_id) }, `machine ${m.machine_id} (${m.gpu})`)));
	const token = h('select#pub-token', cfg.tokens.map((t) => h('option', { value: t.symbol }, t.symbol)));
	const interruptible = h('input#pub-interruptible', { type: 'checkbox' });
	const msg = h('p#pub-msg', { role: 'status' });
	return h('form.publish#publish-form', { novalidate: true, onsubmit: async (ev) => {
		ev.preventDefault();
		msg.className = '';
		try {
			const m = machines.find((x) => String(x.machine_id) === machine.value);
			const offer = offerFromForm(cfg, m, { token: token.value, price: f.price.value, maxHours: f.maxHours.value,
				minHours: f.minHours.value, graceMins: f.graceMins.value, disputeHours: f.disputeHours.value,
				days: f.days.value, capacity: f.capacity.value, interruptible: interruptible.checked, noticeMins: f.noticeMins.value });
			const signer = await requireReady();
			msg.textContent = 'Sign the offer in your wallet (a signature, no transaction)…';
			let signature;
			try {
				signature = await signer.signTypedData({ name: 'Flopmarket RentalEscrow', version: '1', chainId: cfg.chain_id, verifyingContract: cfg.escrow },
					OFFER_TYPES, { ...offer, rate: BigInt(offer.rate), nonce: BigInt(offer.nonce) });
			} catch (e) {
				throw walletError(e, 'Signing the offer');
			}
			const ans = await api.post('/offers', { machine_id: m.machine_id, signature, offer });
			msg.textContent = ans.listed ? 'Published: the offer is in search now.' : `Published; not in search now (${ans.not_listed_because === 'rented' ? 'the machine is rented' : 'the host is down'}).`;
			msg.dataset.offer = ans.offer_hash;
			onDone();
		} catch (e) {
			msg.className = 'error';
			msg.textContent = e.message;
		}
	} }, h('h2', 'Publish an offer'),
		h('div.field', h('label', { for: 'pub-machine' }, 'Machine'), machine),
		h('div.field', h('label', { for: 'pub-token' }, 'Paid in'), token),
		input('price', '', 'Price per hour (in the token)', { inputmode: 'decimal', placeholder: 'e.g. 1.25' }),
		input('maxHours', '24', 'Maximum hours', { inputmode: 'numeric' }), input('minHours', '0', 'Minimum hours paid up front', { inputmode: 'numeric' }),
		input('graceMins', '10', 'Grace after running out (minutes)', { inputmode: 'numeric' }),
		input('disputeHours', '0', 'Dispute window (hours)', { inputmode: 'numeric' }),
		input('days', '7', 'Expires in (days)', { inputmode: 'numeric' }), input('capacity', '1', 'Rentals at once', { inputmode: 'numeric' }),
		h('div.choice', interruptible, h('label', { for: 'pub-interruptible' }, 'Interruptible (I may reclaim the machine with notice)')),
		input('noticeMins', '10', 'Notice before a reclaim (minutes)', { inputmode: 'numeric' }),
		h('button', { type: 'submit' }, 'Sign and publish'), msg);
}

export async function render() {
	const cfg = await config();
	if (!(await needWallet('Provider'))) return;
	if (!needSignIn('Provider', 'Sign in with your provider wallet to see your offers and earnings.', render)) return;
	const [rentals, offers] = await Promise.all([
		api.get('/me/rentals?role=provider&limit=200', { auth: true }),
		api.get('/me/offers', { auth: true }),
	]);
	const rows = await Promise.all(rentals.rentals.map((r) => earningsRow(cfg, r)));
	mount(h('div.provider',
		h('h1', 'Provider'),
		h('p.muted', 'Your agent registers your machines. Here you publish offers for them, withdraw offers, and claim what you have earned.'),
		h('h2', `Offers (${offers.offers.length})`),
		offers.offers.length ? h('div.table-wrap', h('table.offers-table', h('thead', h('tr', ['Offer', 'GPUs', 'Price', 'In search', 'Expires', ''].map((t) => h('th', { scope: 'col' }, t)))),
			h('tbody', offers.offers.map((o) => offerRow(cfg, o, render))))) : h('p.muted', 'No offers: publish one with `flopmarket provider offer`.'),
		machinesOf(offers.offers).length ? publishForm(cfg, machinesOf(offers.offers), render) : null,
		h('h2', 'Earnings'),
		rows.length ? h('div.table-wrap', h('table.earnings-table', h('thead', h('tr', ['Rental', 'State', 'Renter', 'Accrued', 'Claimable now', 'Claimed (gross)', 'Paid to you', ''].map((t) => h('th', { scope: 'col' }, t)))),
			h('tbody', rows))) : h('p.muted', 'No rentals yet.')));
}

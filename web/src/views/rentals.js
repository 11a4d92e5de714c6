// rentals.js — "My rentals": every rental of the signed-in renter, the open ones live. Figures come
// from the chain itself (the escrow's quote and stateOf at the latest block's time, so they match what
// a stop would pay to the unit), the server's event stream tells state changes and reclaim notices at
// once. Low-balance alerts fire at the threshold the person sets (banner and, when allowed, a browser
// notification). Extend, stop (with a refund preview, then the split the chain reports), dispute, rate.
// A wallet holding none of the chain's coin extends and stops through the marketplace's relayer (relay.js)
// where it relays and the token has a permit: the relayer's maximum fee is said first.
import { api, config, tokenOf } from '../api.js';
import { escrowContract, permitSignature, rentalKey, stoppedSplit, termsEncoded, termsTuple, tokenContract } from '../escrow.js';
import { hasPermit, quoteOf, relayedCall, relayInfo } from '../relay.js';
import { sendTx } from '../tx.js';
import { AmountError, cost, parseUnits, secondsFor, showAmount, showDuration, usdOf } from '../money.js';
import { banner, copyButton, explorerLink, h, mount } from '../ui.js';
import { requireReady, signMessage, state, walletError } from '../wallet.js';
import { endpointOf, endpointOfRental, access, openJupyter } from '../agent.js';
import { needSignIn, needWallet } from './gate.js';

const POLL_MS = 1000;
let live = []; // { stop() } of the page's timers and streams

function stopLive() {
	for (const l of live) l.stop();
	live = [];
}
window.addEventListener('hashchange', stopLive);

export function alertSettings() {
	try {
		const s = JSON.parse(localStorage.getItem('flop.alerts') || 'null');
		if (s && Number.isFinite(s.minutes)) return s;
	} catch { /* defaults */ }
	return { minutes: 10 };
}

function alertForm(onChange) {
	const s = alertSettings();
	const minutes = h('input#alert-minutes', { type: 'text', inputmode: 'numeric', value: String(s.minutes), size: 4 });
	const msg = h('span.muted#alert-msg');
	const notify = h('button.small#alert-notify', { type: 'button', onclick: async () => {
		if (!('Notification' in window)) { msg.textContent = 'This browser has no notifications; alerts show as banners.'; return; }
		const p = await Notification.requestPermission();
		msg.textContent = p === 'granted' ? 'Browser notifications on.' : 'Notifications not allowed; alerts show as banners.';
	} }, 'Allow browser notifications');
	return h('form.alerts', { onsubmit: (ev) => {
		ev.preventDefault();
		const v = minutes.value.trim();
		if (!/^\d{1,5}$/.test(v)) { msg.textContent = 'Minutes: a whole number, e.g. 10.'; return; }
		localStorage.setItem('flop.alerts', JSON.stringify({ minutes: Number(v) }));
		msg.textContent = `Alert set: when less than ${Number(v)} min of paid time is left.`;
		onChange();
	} }, h('label', { for: 'alert-minutes' }, 'Warn me when less than'), minutes, h('span', 'minutes are left'),
		h('button.small', { type: 'submit' }, 'Save'), notify, msg);
}

function fireAlert(r, left, token, remaining) {
	const key = `flop.alerted.${r.id}.${alertSettings().minutes}`;
	if (sessionStorage.getItem(key)) return;
	sessionStorage.setItem(key, '1');
	const text = `Rental #${r.id}: ${showDuration(left)} of paid time left (${showAmount(remaining, token)}). Extend it to keep it running.`;
	banner('warn low-balance', text, ' ', h('a', { href: `#/rentals` }, 'Extend'));
	try {
		if ('Notification' in window && Notification.permission === 'granted') new Notification('Flopmarket: low balance', { body: text });
	} catch { /* banner shown */ }
}

function figure(label, valueEl) {
	return h('div.stat', h('span.muted', label), valueEl);
}

async function chainFigures(cfg, r) {
	const p = state.ethers;
	const block = await p.getBlock('latest');
	const escrow = escrowContract(cfg, p);
	const t = termsTuple(r.terms);
	const [q, st] = await Promise.all([escrow.quote(t, block.timestamp, { blockTag: block.number }), escrow.stateOf(t, { blockTag: block.number })]);
	return { at: block.timestamp, block: block.number, billed: q.billedSecs, accrued: q.cost, deposited: st.deposited, paidUntil: st.paidUntil, endedAt: st.endedAt, stopAt: st.stopAt };
}

// The relayer, when this wallet must use it for `kind`: it holds none of the chain's coin, the token has a
// permit and the marketplace relays. { info, q } or null (the wallet then sends its own transaction).
async function relayedFor(token, kind) {
	if (token.native || !state.ethers || !state.address) return null;
	if ((await state.ethers.getBalance(state.address)) > 0n) return null;
	const info = await relayInfo().catch(() => null);
	const q = quoteOf(info, token, kind);
	if (!q || !(await hasPermit(token, state.ethers))) return null;
	return { info, q };
}

// One transaction, its steps shown in `out`.
function txStep(cfg, out, label, send) {
	return sendTx(cfg, label, send, (parts) => out.replaceChildren(...parts));
}

function extendForm(cfg, r, token, onDone) {
	const amount = h('input.extend-amount', { type: 'text', inputmode: 'decimal', placeholder: token.symbol, 'aria-label': `Extend by (${token.symbol})`, size: 10 });
	const out = h('span.tx-status', { 'aria-live': 'polite' });
	return h('form.extend', { novalidate: true, onsubmit: async (ev) => {
		ev.preventDefault();
		out.replaceChildren();
		try {
			const units = parseUnits(amount.value, token.decimals, token.symbol);
			if (units === 0n) throw new AmountError('The amount must be more than zero.');
			const signer = await requireReady();
			const escrow = escrowContract(cfg, signer);
			const held = token.native ? await state.ethers.getBalance(state.address) : await tokenContract(token.address, state.ethers).balanceOf(state.address);
			if (held < units) throw new AmountError(`Not enough ${token.symbol}: you hold ${showAmount(held, token)}.`);
			const what = `Extend by ${showAmount(units, token)} (${showDuration(secondsFor(units, r.terms.rate))})`;
			const rel = await relayedFor(token, 'extend');
			if (rel) {
				// no gas coin: the relayer sends it and takes its fee (at most rel.q.maxFee) in the token
				if (held < units + rel.q.maxFee)
					throw new AmountError(`Not enough ${token.symbol}: you hold ${showAmount(held, token)}; this needs ${showAmount(units, token)} plus at most ${showAmount(rel.q.maxFee, token)} for the relayer.`);
				const res = await relayedCall(cfg, signer, rel.info, token, 'extend', units, rel.q.maxFee, rentalKey(r.terms),
					{ terms: termsEncoded(r.terms) }, (t) => out.replaceChildren(t));
				out.replaceChildren(`${what}: relayed, confirmed in block ${res.receipt.blockNumber}; the relayer's fee was ${showAmount(res.fee, token)}.`);
				amount.value = '';
				onDone();
				return;
			}
			let permit = null, deadline = 0n;
			if (!token.native) {
				// one transaction where the token has a permit (extendWithPermit), else approve + extend
				const tc = tokenContract(token.address, signer);
				deadline = BigInt(Math.floor(Date.now() / 1000) + 1800);
				try {
					permit = await permitSignature(tc, state.address, cfg.escrow, units, deadline, cfg.chain_id,
						(d, t, v) => signer.signTypedData(d, t, v));
				} catch (e) {
					throw walletError(e, 'The permit signature');
				}
				if (!permit && (await tc.allowance(state.address, cfg.escrow)) < units)
					await txStep(cfg, out, `Approve ${showAmount(units, token)}`, () => tc.approve(cfg.escrow, units));
			}
			await txStep(cfg, out, what, () => permit
				? escrow.extendWithPermit(termsTuple(r.terms), units, deadline, permit.v, permit.r, permit.s)
				: escrow.extend(termsTuple(r.terms), units, token.native ? { value: units } : {}));
			amount.value = '';
			onDone();
		} catch (e) {
			out.replaceChildren(h('span.error', { role: 'alert' }, e.message));
		}
	} }, h('label', 'Extend by ', amount), h('button.small', { type: 'submit' }, 'Extend'), out);
}

// The stop button and its confirmation. busy(true) is called when the stop starts (so the card's event stream
// does not redraw it under the person while the stop confirms), onStopped() once the split is shown: the card
// keeps that split instead of being redrawn.
function stopControl(cfg, r, token, fig, busy, onStopped) {
	const out = h('div.tx-status', { 'aria-live': 'polite' });
	const btn = h('button.danger.stop', { type: 'button', onclick: async () => {
		const f = fig();
		const refund = f ? f.deposited - f.accrued : null;
		const rel = await relayedFor(token, 'stop').catch(() => null);
		const confirmBox = h('div.confirm', { role: 'dialog', 'aria-label': 'Stop the rental' },
			h('p', 'Stop now? Access ends at once. ', refund !== null ? ['You get back about ', h('strong.refund-preview', showAmount(refund, token)),
				' (the exact figure is set by the block the stop lands in).'] : null),
			rel ? h('p.relay-note', `You hold no gas coin: the marketplace's relayer sends the stop and takes at most ${showAmount(rel.q.maxFee, token)} of the refund as its fee.`) : null,
			h('button.danger.confirm-stop', { type: 'button', onclick: async () => {
				confirmBox.remove();
				busy(true);
				try {
					const signer = await requireReady();
					let receipt;
					if (rel) {
						const res = await relayedCall(cfg, signer, rel.info, token, 'stop', 0n, rel.q.maxFee, rentalKey(r.terms),
							{ terms: termsEncoded(r.terms) }, (t) => out.replaceChildren(t));
						out.replaceChildren(`Stop: relayed, confirmed in block ${res.receipt.blockNumber}; the relayer's fee was ${showAmount(res.fee, token)}.`);
						receipt = res.receipt;
					} else {
						receipt = await txStep(cfg, out, 'Stop', () => escrowContract(cfg, signer).stop(termsTuple(r.terms)));
					}
					const split = stoppedSplit(cfg, receipt);
					if (split) out.append(h('p.split', { dataset: { provider: split.provider.toString(), fee: split.fee.toString(), refund: split.refund.toString() } },
						'Final split on chain: refund to you ', h('strong', showAmount(split.refund, token)), ', provider ', showAmount(split.provider, token),
						', platform fee ', showAmount(split.fee, token), '.'));
					btn.remove();
					onStopped();
				} catch (e) {
					busy(false);
					out.append(h('p.error', { role: 'alert' }, e.message));
				}
			} }, 'Yes, stop and refund'),
			h('button.small', { type: 'button', onclick: () => confirmBox.remove() }, 'Keep it running'));
		out.replaceChildren(confirmBox);
	} }, 'Stop rental');
	return h('div', btn, out);
}

function rateForm(r) {
	const stars = h('select', { 'aria-label': 'Stars' }, [5, 4, 3, 2, 1].map((n) => h('option', { value: String(n) }, '★'.repeat(n))));
	const comment = h('input', { type: 'text', maxlength: 500, placeholder: 'Comment (optional)', 'aria-label': 'Comment' });
	const out = h('span.muted');
	return h('form.rate', { onsubmit: async (ev) => {
		ev.preventDefault();
		try {
			await api.post(`/rentals/${r.id}/rating`, { stars: Number(stars.value), comment: comment.value }, { auth: true });
			out.textContent = 'Thanks: rated.';
		} catch (e) {
			out.textContent = e.code === 'already_rated' ? 'You rated this rental already.' : e.message;
		}
	} }, stars, comment, h('button.small', { type: 'submit' }, 'Rate'), out);
}

function disputeControl(cfg, r) {
	const out = h('span.tx-status');
	return h('div', h('button.small', { type: 'button', onclick: async () => {
		try {
			const signer = await requireReady();
			await txStep(cfg, out, 'Dispute', () => escrowContract(cfg, signer).dispute(termsTuple(r.terms)));
		} catch (e) {
			out.replaceChildren(h('span.error', e.message));
		}
	} }, 'Dispute'), out);
}

function rentalCard(cfg, r, rerender) {
	const token = tokenOf(cfg, r.token);
	const open = r.state === 'open';
	const el = {
		state: h('strong.state', r.state),
		elapsed: h('strong.elapsed', '…'),
		accrued: h('strong.accrued', '…'),
		remaining: h('strong.remaining', '…'),
		burn: h('strong.burn', `${showAmount(cost(r.rate, 3600), token)}/h`),
		ends: h('strong.ends', '…'),
	};
	let last = null, stopping = false;
	const card = h('article.rental', { dataset: { rental: String(r.id), state: r.state } },
		h('div.card-head', h('h3', `Rental #${r.id}`), el.state),
		h('div.stats',
			figure('Elapsed (billed)', el.elapsed), figure('Accrued', el.accrued), figure('Deposit left', el.remaining),
			figure('Burn rate', el.burn), figure(open ? 'Paid until' : 'Ended', el.ends)),
		h('p.muted', 'Opened ', new Date(r.opened_at * 1000).toLocaleString(), ' · tx ', explorerLink(cfg, 'tx', r.opened_tx)));
	const accessBox = h('div.access');
	card.append(accessBox);
	if (open) {
		if (r.access) showAccess(accessBox, r.id, r.access, r);
		else fetchAccess(r, accessBox);
		const ext = extendForm(cfg, r, token, rerender);
		card.append(h('div.actions', ext, stopControl(cfg, r, token, () => last, (b) => { stopping = b; }, () => {
			el.state.textContent = 'ended';
			card.dataset.state = 'ended';
			el.ends.textContent = new Date().toLocaleString();
			accessBox.replaceChildren(h('p.muted', 'Access ended with the stop.'));
			ext.remove();
		})));
	} else {
		el.ends.textContent = r.ended_at ? new Date(r.ended_at * 1000).toLocaleString() : '—';
		el.accrued.textContent = showAmount(BigInt(r.deposited) - BigInt(r.refunded), token);
		el.remaining.textContent = showAmount(r.refunded, token) + ' refunded';
		el.elapsed.textContent = '—';
		const t = r.terms;
		if (r.state === 'ended' && t && t.disputeSecs && Date.now() / 1000 < r.ended_at + t.disputeSecs) card.append(disputeControl(cfg, r));
		if (r.state !== 'open') card.append(rateForm(r));
	}
	if (open && r.terms && state.ethers) {
		const tick = async () => {
			if (stopping) return; /* a stop is under way or done: the card keeps the stop's figures */
			try {
				const f = await chainFigures(cfg, r);
				last = f;
				const left = f.paidUntil > f.at ? Number(f.paidUntil) - f.at : 0;
				const remaining = f.deposited > f.accrued ? f.deposited - f.accrued : 0n;
				el.elapsed.textContent = showDuration(Number(f.billed));
				el.accrued.replaceChildren(showAmount(f.accrued, token), ' ', h('span.muted', usdOf(f.accrued, token.decimals, token.usd)));
				el.accrued.dataset.units = f.accrued.toString();
				el.accrued.dataset.at = String(f.at);
				el.accrued.dataset.block = String(f.block);
				el.remaining.textContent = showAmount(remaining, token);
				el.remaining.dataset.units = remaining.toString();
				el.ends.textContent = `${new Date(Date.now() + left * 1000).toLocaleTimeString()} (${showDuration(left)} left)`;
				if (left <= alertSettings().minutes * 60) fireAlert(r, left, token, remaining);
			} catch { /* next tick */ }
		};
		tick();
		const timer = setInterval(tick, POLL_MS);
		live.push({ stop: () => clearInterval(timer) });
	}
	if (open) {
		const es = new EventSource(`/rentals/${r.id}/stream`);
		es.addEventListener('status', (ev) => {
			const d = JSON.parse(ev.data);
			if (d.state !== 'open') { es.close(); if (!stopping) rerender(); }
		});
		es.addEventListener('reclaim', (ev) => {
			const d = JSON.parse(ev.data);
			if (!card.querySelector('.reclaim'))
				card.prepend(h('p.banner.warn.reclaim', { role: 'alert' }, `The provider is reclaiming this machine: it stops at ${new Date(d.stop_at * 1000).toLocaleTimeString()} (${showDuration(d.notice_left_s)} from now). Save your work.`));
		});
		live.push({ stop: () => es.close() });
	}
	return card;
}

function showAccess(box, id, a, r) {
	const cmd = `ssh -p ${a.port} ${a.user}@${a.host}`;
	box.replaceChildren(h('span.muted', 'SSH: '), h('code.ssh-command', cmd), ' ', copyButton(cmd), ' ',
		h('a.button.small', { href: `#/terminal/${id}` }, 'Open terminal'));
	if (r) addJupyter(box, r);
}

// "Open Jupyter" when the rental's host serves a notebook per rental (its offer says jupyter: true).
async function addJupyter(box, r) {
	let offer, endpoint;
	try {
		offer = await api.get(`/offers/${r.offer_hash}`);
		if (!offer.jupyter) return;
		endpoint = await endpointOf(offer.machine_id);
	} catch { return; }
	if (!endpoint) return;
	const err = h('span.error.jupyter-error', { role: 'alert' });
	const btn = h('button.button.small.open-jupyter', { type: 'button' }, 'Open Jupyter');
	btn.addEventListener('click', async () => {
		err.textContent = '';
		try {
			await openJupyter(endpoint, r.id, (m) => signMessage(m, 'Opening Jupyter'));
		} catch (e) {
			err.textContent = e.message;
		}
	});
	box.append(' ', btn, ' ', err);
}

async function fetchAccess(r, box) {
	try {
		const endpoint = await endpointOfRental(r);
		if (!endpoint) return;
		const a = await access(endpoint, r.id);
		if (a.status === 'active') showAccess(box, r.id, a, r);
		else box.replaceChildren(h('span.muted', `Access: ${a.status.replace('_', ' ')}`));
	} catch { /* shown when the agent reports it */ }
}

export async function render() {
	stopLive();
	const cfg = await config();
	if (!(await needWallet('Your rentals'))) return;
	if (!needSignIn('My rentals', 'Sign in with your wallet to see your rentals (one signature, no transaction).', render)) return;
	let ans;
	try {
		ans = await api.get('/me/rentals?role=renter&limit=100', { auth: true });
	} catch (e) {
		mount(h('div', h('h1', 'My rentals'), h('p.error', { role: 'alert' }, e.message)));
		return;
	}
	const rerender = () => setTimeout(render, 300);
	const openOnes = ans.rentals.filter((r) => r.state === 'open');
	const rest = ans.rentals.filter((r) => r.state !== 'open');
	mount(h('div.rentals',
		h('h1', 'My rentals'),
		alertForm(rerender),
		h('h2', `Running (${openOnes.length})`),
		openOnes.length ? openOnes.map((r) => rentalCard(cfg, r, rerender)) : h('p.muted', 'Nothing running. ', h('a', { href: '#/' }, 'Rent a GPU')),
		rest.length ? [h('h2', 'Finished'), rest.map((r) => rentalCard(cfg, r, rerender))] : null));
}

// rent.js — the rent form and the rental's opening, every step shown: the estimate before any
// signature (rate × time, fee, total, gas in the chain's coin and USD, what comes back if stopped
// early), then the permit or the approval (limited to the amount unless the person chooses otherwise),
// the open transaction (pending with its hash, confirmed), the SSH key delivered to the provider's agent
// (signed), access being prepared, ready. Errors say what to do; nothing is sent before every check.
// Where the marketplace relays (GET /relay) and the token has a permit, the person may pay the network
// fee in the token instead ("Pay the network fee in dUSDC", ticked by itself for a wallet with none of the
// chain's coin): a permit and an intent are signed, the relayer sends the open (relay.js), and the
// estimate shows the relayer's maximum fee in the token and USD instead of the gas.
import { MaxUint256 } from 'ethers';
import { api } from '../api.js';
import { escrowContract, offerTuple, openedId, permitSignature, tokenContract } from '../escrow.js';
import { sendTx } from '../tx.js';
import { AmountError, RATE_SCALE, cost, feeOf, formatUnits, parseUnits, secondsFor, showAmount, showDuration, usdOf } from '../money.js';
import { h, explorerLink } from '../ui.js';
import { requireReady, signMessage, state, switchChain, walletError, WalletError } from '../wallet.js';
import { deliverKey, endpointOf, waitAccess } from '../agent.js';
import { hasPermit, quoteOf, relayedCall, relayInfo } from '../relay.js';

// Gas the open transactions take (bench/gas, with margin); approve is estimated by the node.
const GAS_OPEN = 140000n;
const GAS_OPEN_PERMIT = 175000n;
const GAS_APPROVE = 60000n;
const MAX_HOURS_TEXT = 8;

// The deposit and paid seconds for the form's values; throws AmountError naming the problem.
export function planOf(o, token, mode, text) {
	const rate = BigInt(o.offer.rate);
	let deposit, secs;
	if (mode === 'fixed') {
		const t = String(text ?? '').trim();
		if (!t) throw new AmountError('Enter how many hours.');
		if (t.startsWith('-')) throw new AmountError('The duration cannot be negative.');
		if (t.length > MAX_HOURS_TEXT || !/^\d*(\.\d{0,4})?$/.test(t) || t === '.' ) throw new AmountError('Hours: a number like 1 or 2.5 (at most 4 decimals).');
		const hundredths = parseUnits(t, 4, 'hours', 10n ** 12n);
		secs = (hundredths * 3600n) / 10000n;
		// Rounded up, as the CLI does: the deposit pays for `secs` in full.
		deposit = (rate * secs + RATE_SCALE - 1n) / RATE_SCALE;
	} else {
		deposit = parseUnits(text, token.decimals, token.symbol);
		secs = secondsFor(deposit, rate);
	}
	if (deposit <= 0n) throw new AmountError('The amount must be more than zero.');
	if (secs <= 0n) throw new AmountError(`${showAmount(deposit, token)} pays for less than one second at this rate.`);
	if (secs < BigInt(o.offer.minSecs)) throw new AmountError(`This offer needs at least ${showDuration(o.offer.minSecs)} paid up front (you chose ${showDuration(secs)}).`);
	if (secs > BigInt(o.offer.maxSecs)) throw new AmountError(`This offer allows at most ${showDuration(o.offer.maxSecs)} (you chose ${showDuration(secs)}).`);
	return { deposit, secs };
}

function estimateRows(o, token, plan, gas, cfg, relayed) {
	const rate = BigInt(o.offer.rate);
	const fee = feeOf(plan.deposit, o.fee_bps);
	const early = plan.secs > 600n ? 600n : plan.secs / 2n;
	const refund = plan.deposit - cost(rate, early);
	const native = cfg.tokens.find((t) => t.native);
	const money = (u) => h('span', showAmount(u, token), ' ', h('span.muted', usdOf(u, token.decimals, token.usd)));
	return [
		['Rate', `${o.token_per_hour} ${token.symbol}/h`],
		['Duration paid for', showDuration(plan.secs)],
		['of which platform fee', money(fee)],
		['Deposit (total now)', h('strong#est-total', money(plan.deposit))],
		relayed
			? ['Relayer fee (at most; paid in ' + token.symbol + ', no gas coin needed)', h('span#est-relay-fee', money(relayed.maxFee))]
			: ['Network fee (gas, about)', gas ? h('span', `${formatUnits(gas, 18, 2).slice(0, 12)} ${native.symbol} `, h('span.muted', usdOf(gas, 18, native.usd))) : '…'],
		[`If you stop after ${showDuration(early)}`, h('span', 'you get back ', h('strong', showAmount(refund, token)))],
		['Escrow you pay into', explorerLink(cfg, 'address', cfg.escrow)],
	];
}

export function rentForm(cfg, o, token) {
	const modeFixed = h('input', { type: 'radio', name: 'mode', value: 'fixed', checked: true, id: 'mode-fixed' });
	const modeOpen = h('input', { type: 'radio', name: 'mode', value: 'open', id: 'mode-open' });
	const hours = h('input#rent-hours', { type: 'text', inputmode: 'decimal', value: '1', autocomplete: 'off', 'aria-describedby': 'rent-error' });
	const deposit = h('input#rent-deposit', { type: 'text', inputmode: 'decimal', value: '', autocomplete: 'off', placeholder: `amount in ${token.symbol}`, 'aria-describedby': 'rent-error', disabled: true });
	const usePermit = h('input#rent-permit', { type: 'checkbox', checked: !token.native });
	const unlimited = h('input#rent-unlimited', { type: 'checkbox' });
	const sshKey = h('textarea#rent-ssh-key', { rows: 2, spellcheck: 'false', placeholder: 'ssh-ed25519 AAAA… you@laptop (optional)' });
	const images = o.isolation === 'container' ? (o.images || []) : [];
	const image = h('select#rent-image', ...images.map((n, i) => h('option', { value: n, selected: i === 0 }, i === 0 ? `${n} (default)` : n)));
	const estimate = h('table.kv#estimate', h('caption', 'Estimate'));
	const error = h('p#rent-error.error', { role: 'alert' });
	const steps = h('ol#rent-steps.steps', { 'aria-live': 'polite' });
	const submit = h('button#rent-submit', { type: 'submit' }, 'Rent now');
	const native = cfg.tokens.find((t) => t.native);
	const gasless = h('input#rent-gasless', { type: 'checkbox' });
	const gaslessRow = h('div.choice#rent-gasless-row', { hidden: true }, gasless,
		h('label', { for: 'rent-gasless' }, `Pay the network fee in ${token.symbol}: the marketplace's relayer sends the transaction, you need no ${native.symbol}`));
	let gas = null, quote = null, gaslessTouched = false;

	const plan = () => planOf(o, token, modeFixed.checked ? 'fixed' : 'open', modeFixed.checked ? hours.value : deposit.value);
	// keepError: a recomputed estimate (gas price came in) leaves the message shown; an edit clears it
	const refresh = ({ keepError = false } = {}) => {
		if (!keepError) error.textContent = '';
		hours.disabled = !modeFixed.checked;
		deposit.disabled = modeFixed.checked;
		let p;
		try {
			p = plan();
		} catch (e) {
			if (!(e instanceof AmountError)) throw e;
			error.textContent = e.message;
			estimate.replaceChildren(h('caption', 'Estimate'));
			return null;
		}
		const relayed = gasless.checked && quote ? quote : null;
		estimate.replaceChildren(h('caption', 'Estimate'), ...estimateRows(o, token, p, gas, cfg, relayed).map(([k, v]) => h('tr', h('th', { scope: 'row' }, k), h('td', v))));
		return p;
	};
	// The relayer's offer: shown for a permit token where the marketplace relays; ticked by itself when the
	// wallet holds none of the chain's coin (until the person chooses).
	const offerGasless = async () => {
		if (token.native) return;
		try {
			const info = await relayInfo();
			quote = quoteOf(info, token, 'open');
			if (!quote || !state.ethers || !(await hasPermit(token, state.ethers))) {
				gaslessRow.hidden = true;
				return;
			}
			gaslessRow.hidden = false;
			if (!gaslessTouched && state.address) gasless.checked = (await state.ethers.getBalance(state.address)) === 0n;
			refresh({ keepError: true });
		} catch { /* no relaying offered */ }
	};
	gasless.addEventListener('change', () => { gaslessTouched = true; refresh(); });
	const estimateGas = async () => {
		if (!state.ethers) return;
		try {
			const fd = await state.ethers.getFeeData();
			const price = fd.maxFeePerGas ?? fd.gasPrice ?? 0n;
			const units = token.native ? GAS_OPEN : usePermit.checked ? GAS_OPEN_PERMIT : GAS_OPEN + GAS_APPROVE;
			gas = price * units;
			refresh({ keepError: true });
		} catch { /* the estimate stays "…" */ }
	};
	for (const el of [hours, deposit, modeFixed, modeOpen, usePermit]) el.addEventListener('input', refresh);
	for (const el of [modeFixed, modeOpen, usePermit]) el.addEventListener('change', () => { refresh(); estimateGas(); });
	unlimited.addEventListener('change', () => {
		unlimitedWarn.hidden = !unlimited.checked;
	});
	const unlimitedWarn = h('p.warn', { hidden: true }, 'An unlimited approval lets the escrow contract move any amount of this token from your wallet later. Only choose it if you trust the contract and plan many rentals.');
	window.addEventListener('wallet', estimateGas);
	window.addEventListener('wallet', offerGasless);

	const form = h('form.rent#rent-form', { novalidate: true, onsubmit: async (ev) => {
		ev.preventDefault();
		const p = refresh();
		if (!p) return;
		submit.disabled = true;
		try {
			await openRental(cfg, o, token, p, { permit: usePermit.checked && !token.native, unlimited: unlimited.checked, sshKey: sshKey.value.trim(), image: images.length ? image.value : '',
				gasless: gasless.checked && !gaslessRow.hidden && quote ? quote : null }, steps, error);
		} finally {
			submit.disabled = false;
		}
	} },
		h('h2', 'Rent'),
		h('fieldset', h('legend', 'How long'),
			h('div.choice', modeFixed, h('label', { for: 'mode-fixed' }, 'Fixed duration (ends by itself)')),
			h('div.field', h('label', { for: 'rent-hours' }, 'Hours'), hours),
			h('div.choice', modeOpen, h('label', { for: 'mode-open' }, 'Open-ended: a deposit you can top up; stop whenever you like')),
			h('div.field', h('label', { for: 'rent-deposit' }, `Deposit (${token.symbol})`), deposit)),
		token.native ? null : h('div.choice', usePermit, h('label', { for: 'rent-permit' }, 'One transaction with a permit signature (where the token supports it)')),
		token.native ? null : h('div.choice', unlimited, h('label', { for: 'rent-unlimited' }, 'Approve an unlimited amount (not recommended)')),
		gaslessRow,
		unlimitedWarn,
		images.length ? h('div.field', h('label', { for: 'rent-image' }, 'Image'), image,
			h('small.muted', 'Your instance starts from this image; you are root inside.')) : null,
		h('div.field', h('label', { for: 'rent-ssh-key' }, 'SSH public key'), sshKey,
			h('small.muted', 'To log in with your own ssh client. Without one the page makes a key for this rental and you use the browser terminal.')),
		estimate, error, submit, steps);
	refresh();
	estimateGas();
	offerGasless();
	return form;
}

function step(list, id, text) {
	let li = list.querySelector(`[data-step="${id}"]`);
	if (!li) {
		li = h('li', { dataset: { step: id } });
		list.append(li);
	}
	li.replaceChildren(...(Array.isArray(text) ? text : [text]));
	li.className = 'active';
	for (const other of list.children) if (other !== li && other.className === 'active') other.className = 'done';
	return li;
}

function fail(list, error, message, actions = []) {
	error.replaceChildren(message, ...actions);
	const last = list.lastElementChild;
	if (last) last.className = 'failed';
}

// Checks balances: the token for the deposit and the chain's coin for gas ("you hold 50 dUSDC but 0 ETH").
async function checkFunds(cfg, token, amount, gasUnits, relayed) {
	const native = cfg.tokens.find((t) => t.native);
	const p = state.ethers;
	if (relayed) {
		const held = await tokenContract(token.address, p).balanceOf(state.address);
		if (held < amount + relayed.maxFee)
			return `Not enough ${token.symbol}: you hold ${showAmount(held, token)} and this rental needs ${showAmount(amount, token)} plus at most ${showAmount(relayed.maxFee, token)} for the relayer.`;
		return null;
	}
	const [coin, fd] = await Promise.all([p.getBalance(state.address), p.getFeeData()]);
	const price = fd.maxFeePerGas ?? fd.gasPrice ?? 0n;
	const gas = price * gasUnits;
	const held = token.native ? coin : await tokenContract(token.address, p).balanceOf(state.address);
	if (held < amount)
		return `Not enough ${token.symbol}: you hold ${showAmount(held, token)} and this rental needs ${showAmount(amount, token)}.`;
	const spare = token.native ? coin - amount : coin;
	if (spare < gas)
		return `Not enough ${native.symbol} for the network fee: you hold ${showAmount(held, token)} but ${formatUnits(token.native ? spare : coin, 18)} ${native.symbol}, and the transaction needs about ${formatUnits(gas, 18)} ${native.symbol} for gas.` +
			(!token.native && document.querySelector('#rent-gasless-row:not([hidden])') ? ` Or tick "Pay the network fee in ${token.symbol}".` : '');
	return null;
}

// One transaction, its steps shown as list item `id`.
function sendStep(cfg, list, id, label, send) {
	return sendTx(cfg, label, send, (parts) => step(list, id, parts));
}

export async function openRental(cfg, o, token, plan, opts, list, error) {
	list.replaceChildren();
	error.replaceChildren();
	try {
		const signer = await requireReady();
		const fresh = await api.get(`/offers/${o.offer_hash}`).catch((e) => { if (e.status === 404) return null; throw e; });
		if (!fresh || fresh.status !== 'active' || fresh.expires_at <= Math.floor(Date.now() / 1000))
			throw new WalletError('gone', 'This offer is gone: it was withdrawn, expired or rented by someone else. Pick another one in the marketplace.');
		const gasUnits = token.native ? GAS_OPEN : opts.permit ? GAS_OPEN_PERMIT : GAS_OPEN + GAS_APPROVE;
		const short_ = await checkFunds(cfg, token, plan.deposit, gasUnits, opts.gasless);
		if (short_) throw new WalletError('funds', short_);
		const escrow = escrowContract(cfg, signer);
		const offer = offerTuple(o.offer);
		let receipt;
		if (opts.gasless) {
			const info = await relayInfo();
			const r = await relayedCall(cfg, signer, info, token, 'open', plan.deposit, opts.gasless.maxFee, o.offer_hash,
				{ offer: o.offer, offer_signature: o.signature }, (t) => step(list, 'relay', t));
			step(list, 'relay', `Relayed: confirmed in block ${r.receipt.blockNumber}; the relayer's fee was ${showAmount(r.fee, token)} (at most ${showAmount(opts.gasless.maxFee, token)}).`);
			receipt = r.receipt;
		} else if (token.native) {
			receipt = await sendStep(cfg, list, 'open', 'Open rental', () => escrow.open(offer, o.signature, plan.deposit, { value: plan.deposit }));
		} else {
			const tc = tokenContract(token.address, signer);
			let permit = null;
			if (opts.permit) {
				step(list, 'permit', `Permit: sign to let the escrow take exactly ${showAmount(plan.deposit, token)}…`);
				const deadline = BigInt(Math.floor(Date.now() / 1000) + 1800);
				try {
					permit = await permitSignature(tc, state.address, cfg.escrow, plan.deposit, deadline, cfg.chain_id,
						(d, t, v) => signer.signTypedData(d, t, v));
				} catch (e) {
					throw walletError(e, 'The permit signature');
				}
				if (permit) {
					step(list, 'permit', 'Permit signed.');
					receipt = await sendStep(cfg, list, 'open', 'Open rental', () => escrow.openWithPermit(offer, o.signature, plan.deposit, deadline, permit.v, permit.r, permit.s));
				} else {
					step(list, 'permit', `${token.symbol} has no permit: approving instead.`);
				}
			}
			if (!permit) {
				const allowance = await tc.allowance(state.address, cfg.escrow);
				if (allowance < plan.deposit) {
					const amount = opts.unlimited ? MaxUint256 : plan.deposit;
					await sendStep(cfg, list, 'approve', opts.unlimited ? `Approve unlimited ${token.symbol}` : `Approve ${showAmount(plan.deposit, token)}`,
						() => tc.approve(cfg.escrow, amount));
				}
				receipt = await sendStep(cfg, list, 'open', 'Open rental', () => escrow.open(offer, o.signature, plan.deposit));
			}
		}
		const id = openedId(cfg, receipt);
		if (id === null) throw new WalletError('failed', 'The transaction confirmed but holds no Opened event: check it in the explorer.');
		step(list, 'opened', `Rental #${id} is open and paid until about ${new Date(Date.now() + Number(plan.secs) * 1000).toLocaleTimeString()}.`);
		await prepareAccess(cfg, o, id, opts.sshKey, list, opts.image);
		return id;
	} catch (e) {
		const we = e instanceof WalletError ? e : walletError(e, 'Renting');
		const actions = we.kind === 'wrong_network' ? [' ', h('button#switch-network', { type: 'button', onclick: async () => {
			try { await switchChain(); error.replaceChildren('Network switched. Press "Rent now" again.'); } catch (e2) { error.textContent = e2.message; }
		} }, 'Switch network')] : [];
		fail(list, error, e instanceof AmountError ? e.message : we.message, actions);
		return null;
	}
}

// Sends the SSH key (the renter's own, or one made here) to the provider's agent and waits for access.
async function prepareAccess(cfg, o, id, sshKey, list, image) {
	const endpoint = await endpointOf(o.machine_id);
	if (!endpoint) {
		step(list, 'access', 'The provider\'s agent has not said where it is yet: access will show in My rentals.');
		return;
	}
	step(list, 'access', 'Access: sign to send your key to the provider…');
	await deliverKey(endpoint, id, sshKey, (m) => signMessage(m, 'Signing the key delivery'), image);
	step(list, 'access', 'Access: the provider is preparing your machine…');
	const a = await waitAccess(endpoint, id, 90000);
	if (a && a.status === 'active') {
		step(list, 'access', [`Ready: `, h('code', `ssh -p ${a.port} ${a.user}@${a.host}`), ' ',
			h('a.button#open-terminal', { href: `#/terminal/${id}` }, 'Open terminal'), ' ',
			h('a.button', { href: `#/rentals` }, 'My rentals')]);
		list.lastElementChild.className = 'done ready';
	} else {
		step(list, 'access', ['Access is taking longer than usual; it will show in ', h('a', { href: '#/rentals' }, 'My rentals'), '.']);
	}
}

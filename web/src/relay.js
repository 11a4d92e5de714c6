// relay.js — gasless calls from the page (docs/escrow.md "Gasless", docs/api.md "Gasless rentals"): the
// marketplace's relayer sends the transaction and pays the gas; the renter signs a permit of the token
// for the escrow's relay and an EIP-712 intent, and pays the relayer's fee in the token, at most the
// maximum shown before signing (twice the relayer's quote now). Nothing here sends a transaction.
import { Contract, Signature } from 'ethers';
import { api } from './api.js';
import { permitSignature, tokenContract } from './escrow.js';
import { WalletError, walletError } from './wallet.js';

export const FEE_HEADROOM = 2n;  // the signed maximum is this many times the quote
const DEADLINE_S = 900;          // the intent and the permit stay valid this long after the chain's time
const WAIT_MS = 180000;

const INTENT_TYPES = {
	Open: [{ name: 'renter', type: 'address' }, { name: 'offer', type: 'bytes32' }, { name: 'amount', type: 'uint256' },
		{ name: 'maxFee', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }],
	Extend: [{ name: 'renter', type: 'address' }, { name: 'rental', type: 'bytes32' }, { name: 'amount', type: 'uint256' },
		{ name: 'maxFee', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }],
	Stop: [{ name: 'renter', type: 'address' }, { name: 'rental', type: 'bytes32' }, { name: 'maxFee', type: 'uint256' },
		{ name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }],
};
const PRIMARY = { open: 'Open', extend: 'Extend', stop: 'Stop' };

let infoPromise = null;
// GET /relay once: the relayer and its quotes, or null when this marketplace does not relay.
export function relayInfo() {
	if (!infoPromise) infoPromise = api.get('/relay').catch((e) => { infoPromise = null; if (e.status === 404) return null; throw e; });
	return infoPromise;
}

// The relayer's quote for `kind` in `token` and the maximum the renter signs: { fee, maxFee, feeUsd, maxUsd }.
export function quoteOf(info, token, kind) {
	const t = info && info.tokens.find((x) => x.address.toLowerCase() === String(token.address).toLowerCase());
	const q = t && t.quotes[kind];
	if (!q || q.error) return null;
	const fee = BigInt(q.fee);
	return { fee, maxFee: fee * FEE_HEADROOM, feeUsdMicro: BigInt(q.fee_usd_micro || 0) };
}

// Whether the token has EIP-2612 (a gasless call without one needs an approval of the relay: a transaction).
export async function hasPermit(token, runner) {
	try {
		await tokenContract(token.address, runner).eip712Domain();
		return true;
	} catch {
		return false;
	}
}

function randomNonce() {
	const b = new Uint8Array(8);
	crypto.getRandomValues(b);
	return b.reduce((n, x) => (n << 8n) | BigInt(x), 0n);
}

// Signs and posts one intent, then follows it; show(text) renders progress. Returns { receipt, fee, id }.
// target: the offer's escrow digest (open) or the rental's key (extend, stop); fields: what the server
// needs besides the intent ({offer, offer_signature} or {terms}).
export async function relayedCall(cfg, signer, info, token, kind, amount, maxFee, target, fields, show) {
	const provider = signer.provider;
	const escrow = new Contract(cfg.escrow, ['function relay() view returns (address)'], provider);
	const relay = await escrow.relay();
	if (relay.toLowerCase() !== info.relay.toLowerCase())
		throw new WalletError('failed', 'The server names a relay that is not this escrow\'s own: nothing was signed.');
	const owner = await signer.getAddress();
	const head = await provider.getBlock('latest');
	const deadline = BigInt(head.timestamp + DEADLINE_S);
	const nonce = randomNonce();
	const tc = tokenContract(token.address, signer);
	show(`Permit: sign to let the relay take at most the ${kind === 'stop' ? 'fee' : 'amount and the fee'}…`);
	let permit;
	try {
		permit = await permitSignature(tc, owner, relay, amount + maxFee, deadline, cfg.chain_id, (d, t, v) => signer.signTypedData(d, t, v));
	} catch (e) {
		throw walletError(e, 'The permit signature');
	}
	if (!permit)
		throw new WalletError('failed', `${token.symbol} has no permit, so paying gas in it needs an approval of the relay first, which is a transaction and costs gas. Use a token with permit (dUSDC, dDAI), or pay the network fee in the chain's coin.`);
	const domain = { name: 'Flopmarket Relay', version: '1', chainId: cfg.chain_id, verifyingContract: relay };
	const intent = kind === 'stop'
		? { renter: owner, rental: target, maxFee, nonce, deadline }
		: { renter: owner, [kind === 'open' ? 'offer' : 'rental']: target, amount, maxFee, nonce, deadline };
	show('Intent: sign what the relayer may do (this exact rental, amount and maximum fee)…');
	let sig;
	try {
		sig = await signer.signTypedData(domain, { [PRIMARY[kind]]: INTENT_TYPES[PRIMARY[kind]] }, intent);
	} catch (e) {
		throw walletError(e, 'The intent signature');
	}
	const body = { kind, renter: owner, nonce: nonce.toString(), max_fee: maxFee.toString(), deadline: Number(deadline),
		signature: sig, permit: { value: (amount + maxFee).toString(), deadline: deadline.toString(), signature: Signature.from(permit).serialized },
		...fields };
	if (kind !== 'stop') body.amount = amount.toString();
	let v;
	try {
		v = await api.post('/relay/intents', body);
	} catch (e) {
		throw new WalletError('failed', `The relayer refused it: ${e.message}`);
	}
	const until = Date.now() + WAIT_MS;
	for (;;) {
		if (v.state === 'confirmed') break;
		if (v.state === 'failed') throw new WalletError('failed', `The relayer could not run it: ${v.error || 'no reason given'}.`);
		show(v.state === 'pending' ? `Relayed: pending ${v.tx_hash}` : 'Relayed: queued at the relayer…');
		if (Date.now() > until) throw new WalletError('failed', `Relay intent ${v.id} is still ${v.state}; My rentals will show it when it confirms.`);
		await new Promise((r) => setTimeout(r, 500));
		v = await api.get(`/relay/intents/${v.id}`);
	}
	const receipt = await provider.getTransactionReceipt(v.tx_hash);
	return { receipt, fee: BigInt(v.fee), id: v.id, hash: v.tx_hash };
}

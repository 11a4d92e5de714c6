// tx.js — sending one transaction from the page, every step shown: waiting for the wallet's signature,
// pending with its hash (linked to the explorer), confirmed in block N. A call the node says would revert
// is named (escrow.js) before anything is sent; a rejection or failure becomes a WalletError.
import { explainRevert } from './escrow.js';
import { explorerLink, short } from './ui.js';
import { walletError, WalletError } from './wallet.js';

// send() returns the wallet's transaction; show(parts) renders a step (strings and nodes). The receipt.
export async function sendTx(cfg, label, send, show) {
	show([`${label}: waiting for your signature in the wallet…`]);
	let tx;
	try {
		tx = await send();
	} catch (e) {
		const why = explainRevert(e);
		if (why) throw new WalletError('reverted', `${label} would fail on chain: ${why}. Nothing was sent.`);
		throw walletError(e, label);
	}
	show([`${label}: pending `, explorerLink(cfg, 'tx', tx.hash)]);
	const receipt = await tx.wait();
	if (!receipt || receipt.status !== 1)
		throw new WalletError('reverted', `${label} was reverted on chain (transaction ${short(tx.hash, 8)}).`);
	show([`${label}: confirmed in block ${receipt.blockNumber} `, explorerLink(cfg, 'tx', tx.hash)]);
	return receipt;
}

// receipts.js — the renter's payments: one row per rental with its transactions (linked to the
// explorer), the USD value at payment time, and the server's CSV download.
import { api, config, fetchRetryingGets, getSession } from '../api.js';
import { explorerLink, h, mount } from '../ui.js';
import { needSignIn, needWallet } from './gate.js';

function money(a) {
	return a ? `${a.amount}` : '—';
}

export async function render() {
	const cfg = await config();
	if (!(await needWallet('Receipts'))) return;
	if (!needSignIn('Receipts', 'Sign in with your wallet to see your receipts.', render)) return;
	const ans = await api.get('/me/rentals?role=renter&limit=200', { auth: true });
	const receipts = await Promise.all(ans.rentals.map((r) => api.get(`/rentals/${r.id}/receipt`).catch(() => null)));
	const msg = h('p.muted', { 'aria-live': 'polite' });
	const download = h('button#download-csv', { type: 'button', onclick: async () => {
		try {
			const s = getSession();
			const res = await fetchRetryingGets('/me/receipts.csv', { headers: { Authorization: 'Bearer ' + s.token } });
			if (!res.ok) throw new Error(`The server answered ${res.status}.`);
			const blob = await res.blob();
			const a = h('a', { href: URL.createObjectURL(blob), download: 'flopmarket-receipts.csv' });
			document.body.append(a);
			a.click();
			a.remove();
			msg.textContent = 'Downloaded flopmarket-receipts.csv.';
		} catch (e) {
			msg.textContent = e.message;
		}
	} }, 'Download CSV');
	const rows = receipts.filter(Boolean).map((rc) => {
		const sym = rc.token.symbol;
		return h('tr', { dataset: { rental: String(rc.rental_id) } },
			h('td', `#${rc.rental_id}`), h('td', rc.state),
			h('td', new Date(rc.start * 1000).toLocaleString()),
			h('td', rc.duration_s !== undefined ? `${rc.duration_s} s` : '—'),
			h('td', `${money(rc.total)} ${sym}`, rc.total && rc.total.usd ? h('span.muted', ` ($${rc.total.usd})`) : null),
			h('td', `${money(rc.refund)} ${sym}`),
			h('td', rc.usd_totals && rc.usd_totals.deposits ? `$${rc.usd_totals.deposits}` : '—'),
			h('td.txs', rc.transactions.map((t) => h('div', `${t.kind} `, explorerLink(cfg, 'tx', t.tx_hash), t.usd_price ? h('span.muted', ` @ $${t.usd_price}`) : null))));
	});
	mount(h('div.receipts', h('h1', 'Receipts'), h('div.actions', download, msg),
		rows.length ? h('div.table-wrap', h('table.receipts-table',
			h('thead', h('tr', ['Rental', 'State', 'Start', 'Billed', 'Paid', 'Refund', 'Deposits (USD then)', 'Transactions'].map((t) => h('th', { scope: 'col' }, t)))),
			h('tbody', rows))) : h('p.muted', 'No payments yet.')));
}

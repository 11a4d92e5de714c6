// main.js — the page's entry: wallet discovery, the header's wallet corner, and the router over the URL
// hash (#/ marketplace with ?q=&o=&page=, #/offer/<hash>, #/rentals, #/receipts, #/provider,
// #/terminal/<id>), so every view has a URL that can be shared or reloaded.
import { config } from './api.js';
import { banner, h, mount } from './ui.js';
import { discover, installed, resume } from './wallet.js';
import * as market from './views/market.js';
import * as offer from './views/offer.js';
import * as rentals from './views/rentals.js';
import * as receipts from './views/receipts.js';
import * as provider from './views/provider.js';
import * as terminal from './views/terminal.js';
import { renderWalletCorner } from './views/wallet_menu.js';

function route() {
	const hash = location.hash || '#/';
	const [path, query] = hash.slice(1).split('?');
	const params = new URLSearchParams(query || '');
	const parts = path.split('/').filter(Boolean);
	for (const a of document.querySelectorAll('nav a')) a.removeAttribute('aria-current');
	const nav = document.querySelector(`nav a[href="#/${parts[0] || ''}"]`);
	if (nav) nav.setAttribute('aria-current', 'page');
	document.body.dataset.view = parts[0] || 'market';
	if (!parts.length) return market.render(params);
	if (parts[0] === 'offer' && parts[1]) return offer.render(parts[1]);
	if (parts[0] === 'rentals') return rentals.render();
	if (parts[0] === 'receipts') return receipts.render();
	if (parts[0] === 'provider') return provider.render();
	if (parts[0] === 'terminal' && parts[1]) return terminal.render(parts[1]);
	mount(h('div', h('h1', 'Not found'), h('p', 'There is no such page. '), h('a.button', { href: '#/' }, 'Marketplace')));
	return null;
}

async function show() {
	try {
		await route();
	} catch (e) {
		mount(h('div', h('h1', 'Something went wrong'), h('p.error', { role: 'alert' }, e.message || String(e))));
	}
	document.body.dataset.ready = '1';
}

async function start() {
	discover();
	try {
		await config();
	} catch (e) {
		mount(h('div', h('h1', 'The marketplace server cannot be reached'), h('p.error', e.message)));
		document.body.dataset.ready = '1'; // the page is done: it says why it cannot show more
		return;
	}
	// Wallets announce within a moment of the request; give them one tick before deciding.
	await new Promise((r) => setTimeout(r, 50));
	await resume();
	if (!installed().length)
		banner('info no-wallet-banner', 'No browser wallet found: you can browse, but renting needs a wallet such as MetaMask.');
	let view = location.hash;
	window.addEventListener('wallet', () => {
		renderWalletCorner();
		// A view that depends on the account re-renders when it changes (not the marketplace: no flicker).
		if (location.hash === view && !/^#\/?(\?|$)|^#\/offer\/|^#\/terminal\//.test(location.hash || '#/')) show();
	});
	window.addEventListener('hashchange', () => { view = location.hash; window.scrollTo(0, 0); show(); });
	renderWalletCorner();
	show();
}

start();

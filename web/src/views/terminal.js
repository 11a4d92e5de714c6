// terminal.js — the rental's shell in the page: xterm.js over the agent's WebSocket, opened with a
// single-use challenge the renter's wallet signs. Resizes follow the window; after a network drop it
// reconnects (a new challenge and signature) while the rental lives.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { api } from '../api.js';
import { h, mount } from '../ui.js';
import { signMessage } from '../wallet.js';
import { challenge, endpointOfRental } from '../agent.js';
import { needWallet } from './gate.js';

let current = null;
window.addEventListener('hashchange', () => { if (current) { current.close(); current = null; } });

function wsUrl(endpoint) {
	return endpoint.replace(/^http/, 'ws');
}

export async function render(id) {
	if (!(await needWallet('Terminal'))) return;
	const status = h('p#term-status.muted', { 'aria-live': 'polite' }, 'Connecting…');
	const box = h('div#terminal.term', { tabindex: '0' });
	mount(h('div.terminal-page', h('a', { href: '#/rentals' }, '← My rentals'), h('h1', `Terminal — rental #${id}`), status, box));
	let rental;
	try {
		rental = await api.get(`/rentals/${encodeURIComponent(id)}`);
	} catch (e) {
		status.textContent = e.message;
		return;
	}
	const endpoint = await endpointOfRental(rental);
	if (!endpoint) { status.textContent = 'The provider\'s agent has not said where it is.'; return; }
	const term = new Terminal({ cursorBlink: true, fontSize: 14, convertEol: false, scrollback: 5000 });
	const fit = new FitAddon();
	term.loadAddon(fit);
	term.open(box);
	fit.fit();
	let ws = null, closed = false, tries = 0;
	const enc = new TextEncoder();
	const sendSize = () => {
		if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
	};
	term.onData((d) => { if (ws && ws.readyState === 1) ws.send(enc.encode(d)); });
	const onResize = () => { fit.fit(); sendSize(); };
	window.addEventListener('resize', onResize);
	const open = async () => {
		status.textContent = 'Sign the terminal challenge in your wallet…';
		let c, sig;
		try {
			c = await challenge(endpoint, id);
			sig = await signMessage(c.message, 'Opening the terminal');
		} catch (e) {
			status.textContent = e.message;
			return;
		}
		ws = new WebSocket(`${wsUrl(endpoint)}/terminal/${id}/ws?challenge=${c.challenge}&sig=${sig}`);
		ws.binaryType = 'arraybuffer';
		ws.onopen = () => { tries = 0; status.textContent = 'Connected.'; box.dataset.connected = '1'; sendSize(); term.focus(); };
		ws.onmessage = (ev) => { term.write(typeof ev.data === 'string' ? ev.data : new Uint8Array(ev.data)); };
		ws.onclose = async (ev) => {
			box.dataset.connected = '';
			if (closed) return;
			const r = await api.get(`/rentals/${id}`).catch(() => null);
			if (ev.code === 1001 || (r && r.state !== 'open')) { status.textContent = 'The rental has ended: the terminal is closed.'; return; }
			if (ev.code === 1000) { status.textContent = 'The shell exited. Reload to open a new one.'; return; }
			if (tries++ < 5) {
				status.textContent = 'Connection lost: reconnecting…';
				setTimeout(open, Math.min(1000 * 2 ** tries, 15000));
			} else {
				status.textContent = 'Connection lost. Reload to try again.';
			}
		};
	};
	current = { close: () => { closed = true; window.removeEventListener('resize', onResize); if (ws) ws.close(); term.dispose(); } };
	open();
}

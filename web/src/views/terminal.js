// terminal.js — the rental's shell in the page: xterm.js over the agent's WebSocket, opened with a
// single-use challenge the renter's wallet signs. Resizes follow the window; after a network drop it
// reconnects (a new challenge and signature) while the rental lives.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { api } from '../api.js';
import { h, mount } from '../ui.js';
import { signMessage } from '../wallet.js';
import { challenge, downloadFile, endpointOfRental, homePathError, signedQuery, uploadFile } from '../agent.js';
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
	const files = h('section.files');
	mount(h('div.terminal-page', h('a', { href: '#/rentals' }, '← My rentals'), h('h1', `Terminal — rental #${id}`), status, box, files));
	let rental;
	try {
		rental = await api.get(`/rentals/${encodeURIComponent(id)}`);
	} catch (e) {
		status.textContent = e.message;
		return;
	}
	const endpoint = await endpointOfRental(rental);
	if (!endpoint) { status.textContent = 'The provider\'s agent has not said where it is.'; return; }
	files.replaceChildren(...filesPanel(endpoint, id));
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
		ws.onopen = () => {
			tries = 0;
			status.textContent = 'Connected.';
			box.dataset.connected = '1';
			box.dataset.scheme = new URL(ws.url).protocol;
			sendSize();
			term.focus();
		};
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

function sizeText(n) {
	if (n >= 1 << 30) return (n / (1 << 30)).toFixed(2) + ' GiB';
	if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + ' MiB';
	if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + ' KiB';
	return n + ' B';
}

// Upload (drop or pick files; each goes into the home under its own name) and download (a path).
function filesPanel(endpoint, id) {
	const sign = (m) => signMessage(m, 'Authorizing the file transfer');
	const log = h('ul#files-log.files-log', { 'aria-live': 'polite' });
	const picker = h('input#upload-input', { type: 'file', multiple: true });
	const drop = h('div#drop-zone.drop', { tabindex: '0', role: 'button', 'aria-label': 'Upload files: drop them here or press Enter to pick' },
		'Drop files here to upload them into the rental\'s home, or ', h('label', { for: 'upload-input' }, 'pick files'), '.');
	const send = async (list) => {
		for (const file of list) {
			const item = h('li', `${file.name}: `);
			const bar = h('progress', { max: '1', value: '0' });
			const note = h('span', 'waiting for your signature…');
			item.append(bar, ' ', note);
			log.prepend(item);
			const err = homePathError(file.name);
			if (err) { note.textContent = err; continue; }
			try {
				const q = await signedQuery(endpoint, id, sign);
				note.textContent = 'uploading…';
				const ans = await uploadFile(endpoint, id, file.name, file, q, (p) => { bar.value = p; note.textContent = `${Math.floor(p * 100)} %`; });
				bar.value = 1;
				item.dataset.done = '1';
				item.dataset.size = String(ans.size);
				item.dataset.sha256 = ans.sha256;
				note.textContent = `uploaded ${sizeText(ans.size)}, sha256 ${ans.sha256.slice(0, 16)}…`;
			} catch (e) {
				item.dataset.failed = '1';
				note.textContent = e.message;
			}
		}
	};
	picker.addEventListener('change', () => { send([...picker.files]); picker.value = ''; });
	drop.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); picker.click(); } });
	drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
	drop.addEventListener('dragleave', () => drop.classList.remove('over'));
	drop.addEventListener('drop', (ev) => { ev.preventDefault(); drop.classList.remove('over'); send([...ev.dataTransfer.files]); });
	const path = h('input#download-path', { type: 'text', placeholder: 'results/model.pt', autocomplete: 'off', spellcheck: 'false' });
	const dmsg = h('span#download-msg.muted', { 'aria-live': 'polite' });
	const dform = h('form.download', { onsubmit: async (ev) => {
		ev.preventDefault();
		const p = path.value.trim();
		const err = homePathError(p);
		if (err) { dmsg.textContent = err; return; }
		try {
			dmsg.textContent = 'Sign to authorize the download…';
			const q = await signedQuery(endpoint, id, sign);
			dmsg.textContent = 'Downloading…';
			const blob = await downloadFile(endpoint, id, p, q);
			const a = h('a', { href: URL.createObjectURL(blob), download: p.split('/').pop() });
			document.body.append(a);
			a.click();
			a.remove();
			dmsg.textContent = `Downloaded ${p} (${sizeText(blob.size)}).`;
		} catch (e) {
			dmsg.textContent = e.message;
		}
	} }, h('label', { for: 'download-path' }, 'Download a file from the home:'), path, h('button.small', { type: 'submit' }, 'Download'), dmsg);
	return [h('h2', 'Files'), drop, h('div.hidden-input', picker), log, dform];
}

// ui.js — small DOM helpers. Text always goes in as text (never as HTML), so nothing a provider or a
// server puts in a field can run in the page.

// h('div#id.card.big', {onclick}, child, 'text', ...) -> element. Attributes: on* are listeners, `class`,
// `dataset`, everything else setAttribute. Children: nodes, strings, numbers, arrays, null (skipped).
export function h(tag, attrs, ...children) {
	const m = /^([a-z0-9]*)((?:[#.][A-Za-z0-9_-]+)*)$/.exec(tag);
	if (!m) throw new Error(`h: bad tag ${tag}`);
	const el = document.createElement(m[1] || 'div');
	const classes = [];
	for (const [, kind, name] of m[2].matchAll(/([#.])([A-Za-z0-9_-]+)/g)) {
		if (kind === '#') el.id = name;
		else classes.push(name);
	}
	if (classes.length) el.className = classes.join(' ');
	if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
		children.unshift(attrs);
		attrs = null;
	}
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
		else if (k === 'class') el.className += (el.className ? ' ' : '') + v;
		else if (k === 'dataset') Object.assign(el.dataset, v);
		else if (k === 'value') el.value = v;
		else el.setAttribute(k, v === true ? '' : String(v));
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false) continue;
		if (Array.isArray(c)) append(el, c);
		else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
}

export function mount(el) {
	const main = document.getElementById('main');
	main.replaceChildren(el);
	return main;
}

// A banner at the top of the page (kind: info | warn | error | ok); returns it (call .remove()).
export function banner(kind, ...content) {
	const b = h(`div.${['banner', ...kind.split(/\s+/)].join('.')}`, { role: kind.startsWith('error') || kind.startsWith('warn') ? 'alert' : 'status' }, ...content,
		h('button.close', { type: 'button', 'aria-label': 'Dismiss', onclick: () => b.remove() }, '×'));
	document.getElementById('banners').append(b);
	return b;
}

export function clearBanners(selector = '.banner') {
	for (const b of document.querySelectorAll('#banners ' + selector)) b.remove();
}

// A labelled form field; returns { row, input }.
export function field(label, input, hint) {
	const id = 'f-' + Math.random().toString(36).slice(2, 9);
	input.id = id;
	const row = h('div.field', h('label', { for: id }, label), input, hint ? h('small.muted', hint) : null);
	return { row, input };
}

export function short(hex, n = 6) {
	const s = String(hex || '');
	return s.length > 2 * n + 2 ? s.slice(0, n + 2) + '…' + s.slice(-n) : s;
}

// A link to the chain's explorer for a tx or address, or the plain text when none is configured.
export function explorerLink(cfg, kind, value) {
	if (!value) return '';
	if (!cfg.explorer_url) return h('code', { title: value }, short(value, 8));
	return h('a', { href: `${cfg.explorer_url.replace(/\/$/, '')}/${kind}/${value}`, target: '_blank', rel: 'noopener noreferrer', title: value }, short(value, 8));
}

export function copyButton(text, label = 'Copy') {
	const b = h('button.small', { type: 'button', onclick: async () => {
		try { await navigator.clipboard.writeText(text); b.textContent = 'Copied'; } catch { b.textContent = 'Select and copy'; }
		setTimeout(() => { b.textContent = label; }, 1500);
	} }, label);
	return b;
}

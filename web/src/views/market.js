// market.js — the marketplace page: GPU cards from GET /offers for the filter in the URL
// (#/?q=<filter>&o=<sort>&page=N, so a search can be shared), a form that writes the filter for people
// who do not want to type it, the filter language box for those who do, sorting and paging.
import { api, config } from '../api.js';
import { h, mount } from '../ui.js';

export const PAGE_SIZE = 12;

const SORTS = [
	['price', 'Price: low to high'], ['-price', 'Price: high to low'], ['price_per_tflop', 'Price per TFLOP'],
	['-tflops', 'Fastest first'], ['-vram', 'Most VRAM'], ['-reliability', 'Most reliable'], ['-rentals', 'Most rentals'],
];

// The clauses the form edits, by field and operator; everything else in q stays as typed.
const FORM_CLAUSES = [
	{ key: 'gpu', op: '=', label: 'GPU model', hint: 'e.g. A100_80GB or RTX_4090,RTX_3090' },
	{ key: 'vram', op: '>=', label: 'Min VRAM (GiB)' },
	{ key: 'price', op: '>=', label: 'Min price (USD/h)', name: 'price_min' },
	{ key: 'price', op: '<=', label: 'Max price (USD/h)', name: 'price_max' },
	{ key: 'reliability', op: '>=', label: 'Min reliability (0–1)', hint: '30-day uptime, e.g. 0.98' },
	{ key: 'country', op: '=', label: 'Country', hint: 'two letters, e.g. DE,NL' },
	{ key: 'token', op: '=', label: 'Token' },
	{ key: 'interruptible', op: '=', label: 'Interruptible' },
	{ key: 'jupyter', op: '=', label: 'Jupyter notebook' },
];

const CLAUSE_RE = /^([A-Za-z_0-9]+)\s*(<=|>=|!=|=|<|>)\s*(\S+)$/;

// Splits filter text into clauses "field OP value" (blanks around the OP joined back).
export function clauses(q) {
	const toks = String(q || '').trim().split(/\s+/).filter(Boolean);
	const out = [];
	for (let i = 0; i < toks.length; i++) {
		let t = toks[i];
		if (/^(<=|>=|!=|=|<|>)$/.test(toks[i + 1] || '') && toks[i + 2]) { t = t + toks[i + 1] + toks[i + 2]; i += 2; }
		else if (/(<=|>=|!=|=|<|>)$/.test(t) && toks[i + 1]) { t = t + toks[i + 1]; i += 1; }
		else if (/^(<=|>=|!=|=|<|>)/.test(toks[i + 1] || '') && !/(<=|>=|!=|=|<|>)/.test(t)) { t = t + toks[i + 1]; i += 1; }
		out.push(t);
	}
	return out;
}

function formValues(q) {
	const vals = {};
	const rest = [];
	for (const c of clauses(q)) {
		const m = CLAUSE_RE.exec(c);
		const f = m && FORM_CLAUSES.find((x) => x.key === m[1].toLowerCase() && x.op === m[2]);
		if (f && vals[f.name || f.key] === undefined) vals[f.name || f.key] = m[3];
		else rest.push(c);
	}
	return { vals, rest };
}

// The filter text for form values plus the clauses the form does not know.
export function buildQuery(vals, rest = []) {
	const parts = [];
	for (const f of FORM_CLAUSES) {
		const v = String(vals[f.name || f.key] ?? '').trim();
		if (v) parts.push(`${f.key}${f.op}${v.replace(/\s+/g, '')}`);
	}
	return [...parts, ...rest].join(' ');
}

export function hashFor(params) {
	const u = new URLSearchParams();
	if (params.q) u.set('q', params.q);
	if (params.o && params.o !== 'price') u.set('o', params.o);
	if (params.page) u.set('page', String(params.page));
	const s = u.toString();
	return '#/' + (s ? '?' + s : '');
}

function badge(o) {
	if (o.simulated) return h('span.badge.sim', { title: 'A simulated GPU (demo or test host): not real hardware' }, 'simulated');
	if (o.verified) return h('span.badge.ok', { title: 'The benchmark ran on this GPU and matched its model' }, 'verified');
	return h('span.badge.warn', { title: 'Not benchmarked: figures are what the provider declared' }, 'unverified');
}

function stat(label, value) {
	return h('div.stat', h('span.muted', label), h('strong', value));
}

export function reliabilityText(o) {
	if (!o.reliability_observed) return 'new';
	return (o.reliability_bps / 100).toFixed(2) + ' %';
}

export function card(o, provider) {
	const vram = Math.round(o.vram_mib / 1024);
	const rep = provider && provider.reputation;
	const usd = o.usd_per_hour === 'unknown' ? 'USD price unknown' : `$${o.usd_per_hour}/h`;
	return h('article.card', { dataset: { offer: o.offer_hash } },
		h('div.card-head', h('h3', `${o.num_gpus}× ${o.gpu.replace(/_/g, ' ')}`), badge(o)),
		h('div.price', h('strong.token-price', `${o.token_per_hour} ${o.token_symbol}/h`), h('span.usd', usd)),
		h('div.stats',
			stat('VRAM', `${vram} GiB`),
			stat('FP32', o.tflops32_milli ? (o.tflops32_milli / 1000).toFixed(1) + ' TFLOPS' : '—'),
			stat('Uptime 30 d', reliabilityText(o)),
			stat('Rentals', String(o.rentals_completed)),
			stat('Rating', o.rating_centi ? (o.rating_centi / 100).toFixed(2) + ' ★' : '—'),
			stat('Response', rep && rep.response_median_s !== null && rep.response_median_s !== undefined ? rep.response_median_s + ' s' : '—'),
			stat('Location', [o.country, o.region].filter(Boolean).join(' · ') || '—'),
			stat('Terms', o.interruptible ? 'interruptible' : 'not interruptible'),
			stat('Access', (o.isolation === 'container' ? `root in an instance (${(o.images || []).length} image${(o.images || []).length === 1 ? '' : 's'})` : 'Unix account') + (o.jupyter ? ' · Jupyter' : ''))),
		h('a.button', { href: `#/offer/${o.offer_hash}` }, 'Details & rent'));
}

async function providersOf(offers) {
	const out = new Map();
	await Promise.all([...new Set(offers.map((o) => o.offer.provider))].map(async (p) => {
		try { out.set(p, await api.get(`/providers/${p}`)); } catch { /* stats stay "—" */ }
	}));
	return out;
}

export async function render(params) {
	const cfg = await config();
	const q = params.get('q') || '';
	const o = params.get('o') || 'price';
	const page = Math.max(0, Math.min(Number.parseInt(params.get('page') || '0', 10) || 0, Math.floor(10000 / PAGE_SIZE)));
	const { vals, rest } = formValues(q);

	const inputs = {};
	const formRows = FORM_CLAUSES.map((f) => {
		const name = f.name || f.key;
		let input;
		if (f.key === 'token') {
			input = h('select', { name }, h('option', { value: '' }, 'any'), cfg.tokens.map((t) => h('option', { value: t.symbol }, t.symbol)));
		} else if (f.key === 'interruptible' || f.key === 'jupyter') {
			input = h('select', { name }, h('option', { value: '' }, 'any'), h('option', { value: 'false' }, 'no'), h('option', { value: 'true' }, 'yes'));
		} else {
			input = h('input', { name, type: 'text', inputmode: ['vram', 'price_min', 'price_max', 'reliability'].includes(name) ? 'decimal' : 'text', autocomplete: 'off' });
		}
		input.value = vals[name] ?? '';
		inputs[name] = input;
		const id = 'flt-' + name;
		input.id = id;
		return h('div.field', h('label', { for: id }, f.label), input, f.hint ? h('small.muted', f.hint) : null);
	});
	const box = h('input#filter-text', { type: 'text', name: 'q', value: q, spellcheck: 'false', autocomplete: 'off',
		placeholder: 'gpu=A100_80GB vram>=40 price<=2 reliability>=0.98', 'aria-describedby': 'filter-help' });
	const sort = h('select#sort', { name: 'o' }, SORTS.map(([v, label]) => h('option', { value: v }, label)));
	sort.value = SORTS.some(([v]) => v === o) ? o : 'price';
	const go = (newQ) => { location.hash = hashFor({ q: newQ, o: sort.value, page: 0 }); };
	const form = h('form.filters', { onsubmit: (ev) => {
		ev.preventDefault();
		const v = {};
		for (const [k, el] of Object.entries(inputs)) v[k] = el.value;
		go(buildQuery(v, formValues(box.value).rest));
	} }, formRows, h('button', { type: 'submit' }, 'Apply filters'));
	// On a phone the filters fold away so the results come first.
	const filters = h('details.filters-box', { open: !window.matchMedia('(max-width: 720px)').matches || !!q },
		h('summary', h('h2', 'Filters')), form);
	const power = h('form.power', { onsubmit: (ev) => { ev.preventDefault(); go(box.value.trim()); } },
		h('label', { for: 'filter-text' }, 'Filter'), box,
		h('label', { for: 'sort' }, 'Sort'), sort, h('button', { type: 'submit' }, 'Search'),
		h('small#filter-help.muted', 'The filter language of the API and the CLI: field OP value, e.g. ',
			h('code', 'num_gpus>=2 vram>=24 price<=0.80 country=DE,NL interruptible=false cuda>=12.2')));
	sort.addEventListener('change', () => { location.hash = hashFor({ q, o: sort.value, page: 0 }); });
	const results = h('section.results', { 'aria-live': 'polite', 'aria-busy': 'true' }, h('p.muted', 'Searching…'));
	mount(h('div.market', h('h1', 'Rent a GPU'), power, h('div.market-body', filters, results)));

	const url = `/offers?limit=${PAGE_SIZE}&offset=${page * PAGE_SIZE}&o=${encodeURIComponent(sort.value)}` + (q ? `&q=${encodeURIComponent(q)}` : '');
	let ans;
	try {
		ans = await api.get(url);
	} catch (e) {
		results.replaceChildren(h('p.error', { role: 'alert' }, e.code === 'bad_filter' ? `Filter error: ${e.message}` : e.message));
		results.setAttribute('aria-busy', 'false');
		return;
	}
	const provs = await providersOf(ans.offers);
	const pages = Math.max(1, Math.ceil(ans.total / PAGE_SIZE));
	const nav = h('nav.pager', { 'aria-label': 'Pages' },
		page > 0 ? h('a.button', { href: hashFor({ q, o: sort.value, page: page - 1 }), rel: 'prev' }, '← Previous') : null,
		h('span.muted', `Page ${page + 1} of ${pages}`),
		page + 1 < pages ? h('a.button', { href: hashFor({ q, o: sort.value, page: page + 1 }), rel: 'next' }, 'Next →') : null);
	results.replaceChildren(...[
		h('p.count', `${ans.total} offer${ans.total === 1 ? '' : 's'}`),
		ans.offers.length ? h('div.cards', ans.offers.map((x) => card(x, provs.get(x.offer.provider))))
			: h('p.muted', 'No GPU matches this filter. Loosen it or clear it.'),
		ans.total > PAGE_SIZE ? nav : null].filter(Boolean));
	results.setAttribute('aria-busy', 'false');
}

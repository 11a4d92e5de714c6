// offer.js — one offer: the host's full spec, the provider's history, the offer's terms, and the rent
// form (fixed duration or open-ended deposit) with the estimate shown before any signature.
import { api, config, tokenOf } from '../api.js';
import { h, mount, short } from '../ui.js';
import { reliabilityText } from './market.js';
import { rentForm } from './rent.js';

function row(label, value) {
	return h('tr', h('th', { scope: 'row' }, label), h('td', value ?? '—'));
}

// The offer view's driver version is major×1e6 + minor×1e3 + patch (550054015 = 550.54.15).
function driverText(v) {
	if (!v) return '—';
	if (typeof v === 'string') return v;
	return `${Math.floor(v / 1e6)}.${Math.floor(v / 1e3) % 1000}.${v % 1000}`;
}

function cudaText(v) {
	return v ? `${Math.floor(v / 100)}.${v % 100}` : '—';
}

export async function render(hash) {
	const cfg = await config();
	let o;
	try {
		o = await api.get(`/offers/${encodeURIComponent(hash)}`);
	} catch (e) {
		mount(h('div', h('h1', 'Offer'), h('p.error', { role: 'alert' }, e.status === 404 ? 'This offer does not exist (or no longer does).' : e.message),
			h('a.button', { href: '#/' }, 'Back to the marketplace')));
		return;
	}
	const [host, prov] = await Promise.all([
		api.get(`/hosts/${o.machine_id}`).catch(() => null),
		api.get(`/providers/${o.offer.provider}`).catch(() => null),
	]);
	const token = tokenOf(cfg, o.offer.token);
	const rep = prov && prov.reputation;
	const gpus = host && host.gpus ? host.gpus : [];
	const live = o.status === 'active' && o.expires_at > Date.now() / 1000;
	const spec = h('table.kv',
		h('caption', 'Machine'),
		row('GPUs', `${o.num_gpus}× ${o.gpu.replace(/_/g, ' ')}`),
		row('VRAM per GPU', `${(o.vram_mib / 1024).toFixed(0)} GiB (${o.vram_mib} MiB)`),
		row('FP32 / FP16', o.tflops32_milli ? `${(o.tflops32_milli / 1000).toFixed(1)} / ${(o.tflops16_milli / 1000).toFixed(1)} TFLOPS` : 'not benchmarked'),
		row('Memory bandwidth', o.bandwidth_gbps ? `${o.bandwidth_gbps} GB/s per GPU` : '—'),
		row('Benchmarked', gpus.length && gpus[0].bench_at ? new Date(gpus[0].bench_at * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : 'never'),
		row('CPU cores', String(o.cpu_cores || '—')),
		row('RAM', o.ram_gib ? `${o.ram_gib} GiB` : '—'),
		row('Disk', o.disk_gib ? `${o.disk_gib} GiB` : '—'),
		row('Network up / down', `${o.net_up_mbps || '—'} / ${o.net_down_mbps || '—'} Mbit/s`),
		row('Driver / CUDA', `${driverText(o.driver_version)} / ${cudaText(o.cuda_version)}`),
		row('Location', [o.country, o.region].filter(Boolean).join(' · ') || '—'),
		row('Status', o.simulated ? 'simulated GPU (demo or test host)' : o.verified ? 'verified by benchmark' : 'unverified'),
		row('Isolation', o.isolation === 'container'
			? `an instance: root in a container of your image (${(o.images || []).join(', ')}), nothing of the host`
			: 'a Unix account on the provider\'s host (no root, shared host)'),
		row('Jupyter', o.jupyter ? 'a notebook in the browser, signed in with your wallet' : 'not offered (SSH and the browser terminal)'));
	const terms = h('table.kv',
		h('caption', 'Terms'),
		row('Price', `${o.token_per_hour} ${token.symbol} per hour` + (o.usd_per_hour !== 'unknown' ? ` ($${o.usd_per_hour}/h)` : '')),
		row('Platform fee', `${(o.fee_bps / 100).toFixed(2)} % of the price (included)`),
		row('Minimum / maximum', `${Math.ceil(o.offer.minSecs / 60)} min / ${(o.offer.maxSecs / 3600).toFixed(1)} h`),
		row('Interruptible', o.offer.interruptible ? `yes — the provider may end it with ${Math.round(o.offer.noticeSecs / 60)} min notice` : 'no'),
		row('Grace after running out', `${Math.round(o.offer.graceSecs / 60)} min to top up`),
		row('Dispute window', o.offer.disputeSecs ? `${Math.round(o.offer.disputeSecs / 3600 * 10) / 10} h after the end` : 'none'),
		row('Offer expires', new Date(o.expires_at * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC'),
		row('Offer hash', h('code', { title: o.offer_hash }, short(o.offer_hash, 10))));
	const history = h('table.kv',
		h('caption', 'Provider'),
		row('Address', h('code', { title: o.offer.provider }, short(o.offer.provider, 6))),
		row('Uptime (30 days)', reliabilityText(o)),
		row('Rentals completed', rep ? `${rep.rentals_completed} of ${rep.rentals_total}` : String(o.rentals_completed)),
		row('Rating', rep && rep.ratings ? `${(rep.rating_centi / 100).toFixed(2)} ★ (${rep.ratings} ratings)` : 'no ratings yet'),
		row('Median response', rep && rep.response_median_s !== null && rep.response_median_s !== undefined ? `${rep.response_median_s} s from payment to access` : '—'),
		row('On the marketplace since', prov && prov.first_seen ? new Date(prov.first_seen * 1000).toISOString().slice(0, 10) : '—'));
	mount(h('div.offer',
		h('a', { href: '#/' }, '← Marketplace'),
		h('h1', `${o.num_gpus}× ${o.gpu.replace(/_/g, ' ')}`),
		h('div.offer-grid', h('div', spec, terms, history),
			live ? rentForm(cfg, o, token) : h('section.rent', h('h2', 'Rent'), h('p.error', { role: 'alert' }, `This offer is ${o.status === 'active' ? 'expired' : o.status}: it can no longer be rented.`)))));
}

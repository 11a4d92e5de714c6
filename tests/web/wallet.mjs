// wallet.mjs — a test wallet for the browser tests: an EIP-1193 provider injected into the page and
// announced per EIP-6963, whose requests run here in Node: accounts and signatures from a dev key
// (ethers Wallet), everything else forwarded to the anvil node. It can start on a wrong chain (it then
// honours wallet_switchEthereumChain to the real one, or answers 4902 for an unknown chain), and can be
// told to reject the next signature or transaction (EIP-1193 error 4001) as a person would.
import { createHash } from 'node:crypto';
import { JsonRpcProvider, Wallet, getBytes, toBeHex } from 'ethers';

const pageSide = (fn, name, uuid) => `(() => {
	const listeners = {};
	const provider = {
		isFlopTestWallet: true,
		request: async ({ method, params }) => {
			const o = JSON.parse(await window.${fn}(JSON.stringify({ method, params: params || [] })));
			if (o.error) { const e = new Error(o.error.message); e.code = o.error.code; if (o.error.data !== undefined) e.data = o.error.data; throw e; }
			return o.result;
		},
		on: (ev, fn) => { (listeners[ev] = listeners[ev] || []).push(fn); return provider; },
		removeListener: (ev, fn) => { listeners[ev] = (listeners[ev] || []).filter((f) => f !== fn); return provider; },
	};
	window.${fn}Emit = (ev, arg) => { for (const f of listeners[ev] || []) f(arg); };
	const info = { uuid: '${uuid}', name: '${name}', rdns: 'dev.flopmarket.${fn.toLowerCase()}',
		icon: 'data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSIxNiIgaGVpZ2h0PSIxNiIvPg==' };
	const announce = () => window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }));
	window.addEventListener('eip6963:requestProvider', announce);
	announce();
})();`;

const SIGNING = new Set(['personal_sign', 'eth_signTypedData_v4', 'eth_sendTransaction']);

export class TestWallet {
	// name: how it announces itself (EIP-6963 info.name); several wallets in one page need distinct names.
	constructor({ rpcUrl, key, chainId, startChainId, name = 'Flop Test Wallet' }) {
		this.name = name;
		this.fn = '__flopWallet' + name.replace(/[^A-Za-z0-9]/g, '');
		this.node = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true, cacheTimeout: -1 });
		this.signer = new Wallet(key, this.node);
		this.address = this.signer.address;
		this.realChainId = chainId;
		this.chainId = startChainId ?? chainId;
		this.reject = 0;            // reject this many next signing requests
		this.log = [];              // methods asked, in order
		this.pages = new Set();
		this.inflight = new Map();  // requests being answered, for a test's failure message
		this.delays = {};           // method -> ms to wait before answering (a slow node)
	}

	async attach(page) {
		this.pages.add(page);
		page.flopWallet = this;
		const h = createHash('sha256').update(this.name).digest('hex');
		const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
		await page.exposeFunction(this.fn, async (json) => JSON.stringify(await this.answer(JSON.parse(json))));
		await page.addInitScript(pageSide(this.fn, this.name, uuid));
	}

	async emit(ev, arg) {
		for (const p of this.pages) await p.evaluate(([f, e, a]) => window[f + 'Emit'] && window[f + 'Emit'](e, a), [this.fn, ev, arg]).catch(() => {});
	}

	async answer({ method, params }) {
		const token = {};
		this.log.push(method);
		this.inflight.set(token, `${method} (since ${new Date().toISOString()})`);
		try {
			if (this.delays[method]) await new Promise((r) => setTimeout(r, this.delays[method]));
			return { result: await this.request(method, params) };
		} catch (e) {
			const inner = e.error || e.info?.error || e;
			return { error: { code: inner.code ?? -32603, message: inner.message || String(e), data: inner.data } };
		} finally {
			this.inflight.delete(token);
		}
	}

	async request(method, params) {
		if (SIGNING.has(method) && this.reject > 0) {
			this.reject--;
			throw Object.assign(new Error('User rejected the request.'), { code: 4001 });
		}
		switch (method) {
		case 'eth_requestAccounts':
		case 'eth_accounts':
			return [this.address.toLowerCase()];
		case 'eth_chainId':
			return toBeHex(this.chainId);
		case 'net_version':
			return String(this.chainId);
		case 'wallet_switchEthereumChain': {
			const want = Number(BigInt(params[0].chainId));
			if (want !== this.realChainId) throw Object.assign(new Error('Unrecognized chain ID'), { code: 4902 });
			this.chainId = want;
			await this.emit('chainChanged', toBeHex(want));
			return null;
		}
		case 'wallet_addEthereumChain':
			return null;
		case 'personal_sign':
			return this.signer.signMessage(getBytes(params[0]));
		case 'eth_signTypedData_v4': {
			const td = typeof params[1] === 'string' ? JSON.parse(params[1]) : params[1];
			const types = { ...td.types };
			delete types.EIP712Domain;
			return this.signer.signTypedData(td.domain, types, td.message);
		}
		case 'eth_sendTransaction': {
			if (this.chainId !== this.realChainId) throw Object.assign(new Error('wrong chain'), { code: 4901 });
			const t = params[0];
			const sent = await this.signer.sendTransaction({ to: t.to, data: t.data, value: t.value ? BigInt(t.value) : 0n,
				gasLimit: t.gas ? BigInt(t.gas) : undefined });
			return sent.hash;
		}
		default:
			return this.node.send(method, params || []);
		}
	}
}

// wallet.mjs — a test wallet for the browser tests: an EIP-1193 provider injected into the page and
// announced per EIP-6963, whose requests run here in Node: accounts and signatures from a dev key
// (ethers Wallet), everything else forwarded to the anvil node. It can start on a wrong chain (it then
// honours wallet_switchEthereumChain to the real one, or answers 4902 for an unknown chain), and can be
// told to reject the next signature or transaction (EIP-1193 error 4001) as a person would.
import { JsonRpcProvider, Wallet, getBytes, toBeHex } from 'ethers';

const PAGE_SIDE = `(() => {
	const listeners = {};
	const provider = {
		isFlopTestWallet: true,
		request: async ({ method, params }) => {
			const o = JSON.parse(await window.__flopWallet(JSON.stringify({ method, params: params || [] })));
			if (o.error) { const e = new Error(o.error.message); e.code = o.error.code; if (o.error.data !== undefined) e.data = o.error.data; throw e; }
			return o.result;
		},
		on: (ev, fn) => { (listeners[ev] = listeners[ev] || []).push(fn); return provider; },
		removeListener: (ev, fn) => { listeners[ev] = (listeners[ev] || []).filter((f) => f !== fn); return provider; },
	};
	window.__flopWalletEmit = (ev, arg) => { for (const f of listeners[ev] || []) f(arg); };
	const info = { uuid: '7a1c9a52-4c1e-4b0e-9f7d-3f0f3d2b8f10', name: 'Flop Test Wallet', rdns: 'dev.flopmarket.testwallet',
		icon: 'data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSIxNiIgaGVpZ2h0PSIxNiIvPg==' };
	const announce = () => window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }));
	window.addEventListener('eip6963:requestProvider', announce);
	announce();
})();`;

const SIGNING = new Set(['personal_sign', 'eth_signTypedData_v4', 'eth_sendTransaction']);

export class TestWallet {
	constructor({ rpcUrl, key, chainId, startChainId }) {
		this.node = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true, cacheTimeout: -1 });
		this.signer = new Wallet(key, this.node);
		this.address = this.signer.address;
		this.realChainId = chainId;
		this.chainId = startChainId ?? chainId;
		this.reject = 0;            // reject this many next signing requests
		this.log = [];              // methods asked, in order
		this.pages = new Set();
	}

	async attach(page) {
		this.pages.add(page);
		await page.exposeFunction('__flopWallet', async (json) => JSON.stringify(await this.answer(JSON.parse(json))));
		await page.addInitScript(PAGE_SIDE);
	}

	async emit(ev, arg) {
		for (const p of this.pages) await p.evaluate(([e, a]) => window.__flopWalletEmit && window.__flopWalletEmit(e, a), [ev, arg]).catch(() => {});
	}

	async answer({ method, params }) {
		this.log.push(method);
		try {
			return { result: await this.request(method, params) };
		} catch (e) {
			const inner = e.error || e.info?.error || e;
			return { error: { code: inner.code ?? -32603, message: inner.message || String(e), data: inner.data } };
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

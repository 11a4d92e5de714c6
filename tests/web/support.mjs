// support.mjs — what the browser tests share: the stack tests/web/run started (from the environment),
// chain helpers (anvil's clock, the escrow and token contracts as the tests read them, independently of
// the page), the browser (Debian's chromium through playwright-core) with the test wallet injected,
// and screenshots at desktop and phone widths.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Contract, Interface, JsonRpcProvider } from 'ethers';
import { startProxy } from './proxy.mjs';
import { TestWallet } from './wallet.mjs';

export const env = {
	server: process.env.WEB_SERVER_URL,
	rpc: process.env.WEB_RPC_URL,
	agent: process.env.WEB_AGENT_URL,
	offerUsdc: process.env.WEB_OFFER_USDC,
	offerUsdt: process.env.WEB_OFFER_USDT,
	isolation: process.env.WEB_ISOLATION || 'account', // how the demo's agent isolates rentals
	shots: process.env.WEB_SHOTS || 'build/screenshots',
	chromium: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
	// the browser's own network namespace (tests/web/run): a launcher that enters it, and the host's
	// address on its veth, where proxy.mjs listens
	netnsLauncher: process.env.WEB_NETNS_LAUNCHER || '',
	netnsHost: process.env.WEB_NETNS_HOST || '',
};
const dep = JSON.parse(fs.readFileSync(process.env.WEB_DEPLOYMENT, 'utf8'));
export const addr = {
	escrow: dep.contracts.RentalEscrow.address,
	usdc: dep.contracts.DevUSDC.address,
	usdt: dep.contracts.DevUSDT.address,
};
export const CHAIN_ID = dep.chainId || 31337;
// anvil's public development keys (test use only): 1 = the demo's provider, 2 = its renter.
export const KEYS = {
	provider: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
	renter: '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
};

export const node = new JsonRpcProvider(env.rpc, CHAIN_ID, { staticNetwork: true, cacheTimeout: -1 });

const TERMS = 'tuple(uint64 id,address renter,address provider,address payout,address token,address arbiter,address monitor,uint128 rate,uint16 feeBps,bool interruptible,uint32 noticeSecs,uint32 graceSecs,uint32 disputeSecs,uint32 maxSecs,uint40 epoch,bytes32 specHash)';
export const escrowIface = new Interface([
	`event Opened(uint256 indexed id, address indexed renter, address indexed provider, bytes32 offerHash, bytes32 specHash, ${TERMS} terms, uint256 state)`,
	'event Stopped(uint256 indexed id, uint256 providerAmount, uint256 feeAmount, uint256 refundAmount, uint256 state)',
	'event Extended(uint256 indexed id, uint256 amount, uint256 state)',
	'event Claimed(uint256 indexed id, uint256 providerAmount, uint256 feeAmount, uint256 state)',
	`function quote(${TERMS} t, uint256 atTime) view returns (uint256 billedSecs, uint256 cost, uint256 claimableGross, uint256 held)`,
	'function nextId() view returns (uint64)',
]);
export const escrow = new Contract(addr.escrow, escrowIface, node);
export const erc20 = (a) => new Contract(a, ['function balanceOf(address) view returns (uint256)', 'function allowance(address,address) view returns (uint256)'], node);

export async function rpc(method, params = []) {
	return node.send(method, params);
}

// Moves the chain's clock: the next block is exactly secs later than the latest one.
export async function advance(secs) {
	const b = await node.getBlock('latest');
	await rpc('evm_mine', [b.timestamp + secs]);
	return b.timestamp + secs;
}

// The events of one rental, decoded: { name, args, tx }.
export async function rentalEvents(id) {
	const topic = '0x' + BigInt(id).toString(16).padStart(64, '0');
	const logs = await node.getLogs({ address: addr.escrow, fromBlock: 0, toBlock: 'latest', topics: [null, topic] });
	return logs.map((l) => {
		const p = escrowIface.parseLog(l);
		return p ? { name: p.name, args: p.args, tx: l.transactionHash, block: l.blockNumber } : null;
	}).filter(Boolean);
}

export async function api(pathname, opts = {}) {
	const res = await fetch(env.server + pathname, opts);
	const text = await res.text();
	if (!res.ok) throw new Error(`${pathname}: ${res.status} ${text}`);
	return JSON.parse(text);
}

let browser = null, proxy = null;
export async function launch() {
	if (!browser) {
		// The HOME whose NSS database trusts the run's local CA (tests/web/run), when it made one.
		const e = { ...process.env };
		const args = ['--no-sandbox'];
		let exe = env.chromium;
		if (process.env.WEB_BROWSER_HOME) e.HOME = process.env.WEB_BROWSER_HOME;
		if (env.netnsLauncher && env.netnsHost) {
			proxy = await startProxy(env.netnsHost);
			exe = env.netnsLauncher;
			// everything through the proxy, loopback included (Chromium bypasses it by default)
			args.push(`--proxy-server=${proxy.url}`, '--proxy-bypass-list=<-loopback>');
		}
		browser = await chromium.launch({ executablePath: exe, headless: true, args, env: e });
	}
	return browser;
}

export async function closeBrowser() {
	if (browser) await browser.close();
	if (proxy) await proxy.close();
	browser = proxy = null;
}

// A new page (its own context: storage, downloads) with a test wallet for `key` unless key is null.
export async function openPage({ key = KEYS.renter, startChainId = CHAIN_ID, width = 1280, height = 860 } = {}) {
	const b = await launch();
	const context = await b.newContext({ viewport: { width, height }, acceptDownloads: true });
	const page = await context.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(String(e)));
	page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
	// Requests still in flight, so a view that never gets ready can say what it waited for.
	const pending = new Map();
	page.on('request', (r) => pending.set(r, Date.now()));
	for (const ev of ['requestfinished', 'requestfailed']) page.on(ev, (r) => pending.delete(r));
	page.flopPending = () => [...pending].map(([r, t]) => `${r.method()} ${r.url()} (${Date.now() - t} ms)`);
	page.flopErrors = errors;
	let wallet = null;
	if (key) {
		wallet = new TestWallet({ rpcUrl: env.rpc, key, chainId: CHAIN_ID, startChainId });
		await wallet.attach(page);
	}
	return { context, page, wallet, errors };
}

export async function go(page, hash) {
	await page.goto(env.server + '/' + hash);
	await page.waitForSelector('body[data-ready="1"]', { state: 'attached' }).catch(async (e) => {
		const text = await page.evaluate(() => document.body.innerText.slice(0, 600)).catch(() => '?');
		throw new Error(`${hash} never got ready: ${e.message}\npage says: ${text}\nrequests in flight: ` +
			`${(page.flopPending?.() || []).join(', ') || 'none'}\nwallet requests in flight: ` +
			`${[...(page.flopWallet?.inflight.values() || [])].join(', ') || 'none'}\npage errors: ${(page.flopErrors || []).join(' | ') || 'none'}`);
	});
}

// Screenshots of the page as it is, at desktop width and at phone width (390 px), under build/.
export async function shots(page, name) {
	fs.mkdirSync(env.shots, { recursive: true });
	const vp = page.viewportSize();
	await page.screenshot({ path: path.join(env.shots, `${name}-desktop.png`), fullPage: true });
	await page.setViewportSize({ width: 390, height: 844 });
	await page.waitForTimeout(150);
	await page.screenshot({ path: path.join(env.shots, `${name}-phone.png`), fullPage: true });
	await page.setViewportSize(vp);
}

// Connects the test wallet through the header's button (and switches the network when asked).
export async function connect(page) {
	await page.click('#connect-wallet');
	await page.waitForSelector('#account');
}

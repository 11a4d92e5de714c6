// web.test.mjs — the web marketplace in a real browser (issue 11, "Done when"): Debian's chromium,
// driven by playwright-core, against the real anvil + server + agent + sshd that tests/web/run started.
// Every case asserts on what the page shows and on the chain, read here independently of the page.
// The cases run in order and share the chain: a rental opened by one is used by the next.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { TestWallet } from './wallet.mjs';
import { CHAIN_ID, KEYS, addr, advance, api, closeBrowser, connect, env, erc20, escrow, go, node, openPage, rentalEvents, shots } from './support.mjs';

const renter = new Wallet(KEYS.renter).address;
const provider = new Wallet(KEYS.provider).address;
const T = { timeout: 120000 };
let rental1 = null; // opened with a permit, the dashboard / terminal / extend / stop cases use it
let rental2 = null; // opened with approve + deposit (dUSDT), the provider claims from it

after(closeBrowser);

async function cardHashes(page) {
	return page.$$eval('article.card', (els) => els.map((e) => e.dataset.offer).sort());
}

async function apiHashes(q) {
	const a = await api(`/offers?limit=100${q ? '&q=' + encodeURIComponent(q) : ''}`);
	return a.offers.map((o) => o.offer_hash).sort();
}

test('without a wallet: a read-only marketplace with a plain explanation', T, async () => {
	const { page, context, errors } = await openPage({ key: null });
	await go(page, '#/');
	await page.waitForSelector('article.card');
	assert.match(await page.textContent('#banners'), /No browser wallet found/);
	assert.match(await page.textContent('#wallet'), /No wallet found/);
	const cards = await cardHashes(page);
	assert.deepEqual(cards, await apiHashes(''));
	const text = await page.textContent('article.card');
	assert.match(text, /dUS(DC|DT)\/h/);
	assert.match(text, /\$0\.\d+\/h/);
	assert.match(text, /simulated|verified|unverified/);
	await shots(page, 'marketplace');
	await go(page, '#/rentals');
	assert.match(await page.textContent('main'), /No wallet was found in this browser/);
	assert.deepEqual(errors, []);
	await context.close();
});

test('a GET the network drops (a wifi switch, ERR_NETWORK_CHANGED) is asked again: the page still loads', T, async () => {
	const { page, context } = await openPage({ key: null });
	const dropped = [];
	for (const pattern of ['**/config', '**/offers?*']) {
		await page.route(pattern, (route) => {
			if (!dropped.includes(pattern)) {
				dropped.push(pattern);
				return route.abort('internetdisconnected');
			}
			return route.continue();
		});
	}
	await go(page, '#/');
	await page.waitForSelector('article.card');
	assert.deepEqual(dropped.sort(), ['**/config', '**/offers?*']);
	assert.deepEqual(await cardHashes(page), await apiHashes(''));
	await context.close();
});

test('a filter: the cards equal the API\'s results, the URL holds the query', T, async () => {
	const { page, context } = await openPage({ key: null });
	await go(page, '#/?q=' + encodeURIComponent('token=dUSDT'));
	await page.waitForSelector('article.card');
	assert.deepEqual(await cardHashes(page), await apiHashes('token=dUSDT'));
	assert.deepEqual(await cardHashes(page), [env.offerUsdt]);
	// The form writes the filter: a price bound that only the dUSDT offer (0.50/h) meets.
	await go(page, '#/');
	await page.fill('#flt-price_max', '0.6');
	await page.click('form.filters button[type=submit]');
	await page.waitForFunction(() => decodeURIComponent(location.hash).includes('price<=0.6'));
	await page.waitForSelector('article.card');
	assert.deepEqual(await cardHashes(page), await apiHashes('price<=0.6'));
	// A bad filter is named, not swallowed.
	await go(page, '#/?q=' + encodeURIComponent('vram>=abc'));
	await page.waitForSelector('.results .error');
	assert.match(await page.textContent('.results .error'), /Filter error/);
	await context.close();
});

test('two wallets announce themselves (EIP-6963): pick one, on the wrong network, switch it, sign in (SIWE)', T, async () => {
	const { page, context, wallet } = await openPage({ startChainId: 1 });
	const other = new TestWallet({ rpcUrl: env.rpc, key: KEYS.provider, chainId: CHAIN_ID, name: 'Other Wallet' });
	await other.attach(page);
	await go(page, '#/');
	await page.click('#connect-wallet');
	const names = await page.$$eval('#wallet .menu button', (els) => els.map((e) => e.textContent));
	assert.deepEqual(names.sort(), ['Flop Test Wallet', 'Other Wallet']);
	await page.click('#wallet .menu button:has-text("Flop Test Wallet")');
	await page.waitForSelector('#account');
	assert.deepEqual(other.log, [], 'the wallet not chosen is never asked');
	assert.match(await page.textContent('#account'), /0x3c44/i);
	await page.waitForSelector('#wrong-network');
	assert.match(await page.textContent('#wrong-network'), /Wrong network \(1\)/);
	await go(page, '#/rentals');
	assert.match(await page.textContent('main'), /on chain 1, but this marketplace runs on/);
	await page.click('main #switch-network');
	await page.waitForSelector('.chain.ok');
	assert.equal(wallet.chainId, CHAIN_ID);
	await page.click('#sign-in');
	await page.waitForSelector('.signed-in');
	assert.ok(wallet.log.includes('personal_sign'));
	assert.match(await page.textContent('main'), /My rentals/);
	await context.close();
});

test('bad input in the rent form gives a clear message and sends nothing', T, async () => {
	const { page, context, wallet } = await openPage();
	await go(page, `#/offer/${env.offerUsdc}`);
	await connect(page);
	const before = await escrow.nextId();
	const cases = [
		['#rent-hours', '-1', /cannot be negative/],
		['#rent-hours', '1.23456', /at most 4 decimals/],
		['#rent-hours', 'abc', /a number like 1/],
		['#rent-hours', '1000', /at most 24 h/],
	];
	for (const [sel, v, re] of cases) {
		await page.fill(sel, v);
		assert.match(await page.textContent('#rent-error'), re, `${sel}=${v}`);
	}
	await page.check('#mode-open');
	for (const [v, re] of [['0.1234567', /Too many decimals: dUSDC has 6/], ['-5', /cannot be negative/],
		['99999999999999999999999999999', /more than the largest deposit/], ['0.0001', /less than one second/], ['0', /more than zero/], ['1e5', /not an amount/]]) {
		await page.fill('#rent-deposit', v);
		assert.match(await page.textContent('#rent-error'), re, `deposit=${v}`);
	}
	await page.click('#rent-submit');
	assert.equal(await escrow.nextId(), before);
	// A rejected signature: nothing reaches the chain.
	await page.check('#mode-fixed');
	await page.fill('#rent-hours', '1');
	wallet.reject = 1;
	const bal = await erc20(addr.usdc).balanceOf(renter);
	await page.click('#rent-submit');
	await page.waitForSelector('#rent-error:not(:empty)');
	assert.match(await page.textContent('#rent-error'), /rejected in your wallet\. Nothing was sent/);
	assert.equal(await escrow.nextId(), before);
	assert.equal(await erc20(addr.usdc).balanceOf(renter), bal);
	await context.close();
});

test('rent 1 h with a permit: one transaction, access ready, exact deposit on chain', T, async () => {
	const { page, context, wallet } = await openPage();
	await go(page, `#/offer/${env.offerUsdc}`);
	await connect(page);
	const offer = await api(`/offers/${env.offerUsdc}`);
	const rate = BigInt(offer.offer.rate);
	const want = (rate * 3600n + 10n ** 18n - 1n) / 10n ** 18n;
	assert.match(await page.textContent('#estimate'), new RegExp(`Deposit \\(total now\\)${(Number(want) / 1e6).toString().replace('.', '\\.')}`));
	const bal = await erc20(addr.usdc).balanceOf(renter);
	await shots(page, 'offer');
	if (env.isolation === 'container') {
		// an instance host: the page says so, and the renter picks the image (signed with the key)
		// (base, and notebook where the demo could build the image with Jupyter)
		assert.match(await page.textContent('table.kv'), /Isolationan instance: root in a container of your image \(base(, notebook)?\)/);
		const images = await page.$$eval('#rent-image option', (os) => os.map((x) => x.value));
		assert.equal(images[0], 'base');
		// the image with Jupyter where there is one: the notebook case below opens it
		await page.selectOption('#rent-image', images.includes('notebook') ? 'notebook' : 'base');
	}
	await page.fill('#rent-hours', '1');
	await page.click('#rent-submit');
	await page.waitForSelector('#rent-steps li.ready', { timeout: 90000 });
	const steps = await page.textContent('#rent-steps');
	assert.match(steps, /Permit signed/);
	// (with an image the signed message ends "\nimage base": a wrong one would be refused, never "ready")
	assert.match(steps, /Open rental: confirmed in block/);
	assert.match(steps, /ssh -p \d+ fm[0-9a-f]+@127\.0\.0\.1/);
	assert.ok(wallet.log.includes('eth_signTypedData_v4'));
	rental1 = Number(/Rental #(\d+) is open/.exec(steps)[1]);
	const ev = await rentalEvents(rental1);
	assert.equal(ev[0].name, 'Opened');
	assert.equal(ev[0].args.renter, renter);
	assert.equal(bal - (await erc20(addr.usdc).balanceOf(renter)), want);
	assert.equal(await erc20(addr.usdc).allowance(renter, addr.escrow), 0n);
	await shots(page, 'rent-ready');
	await context.close();
});

async function signedInPage(hash, key = KEYS.renter) {
	const p = await openPage({ key });
	await go(p.page, '#/');
	await connect(p.page);
	await go(p.page, hash);
	if (await p.page.$('#sign-in')) {
		await p.page.click('#sign-in');
	}
	return p;
}

test('dashboard: accrued cost follows chain time and matches the chain to the unit; low-balance alert', T, async () => {
	assert.ok(rental1, 'needs the rental of the permit case');
	const { page, context } = await signedInPage('#/rentals');
	const card = `article.rental[data-rental="${rental1}"]`;
	await page.waitForSelector(`${card} .accrued[data-units]`);
	const t1 = await advance(1200);
	await page.waitForFunction(([c, t]) => {
		const el = document.querySelector(`${c} .accrued`);
		return el && Number(el.dataset.at) >= t;
	}, [card, t1], { timeout: 20000 });
	const { units, at, block } = await page.$eval(`${card} .accrued`, (el) => ({ ...el.dataset }));
	const r = await api(`/rentals/${rental1}`);
	const q = await escrow.quote([r.terms.id, r.terms.renter, r.terms.provider, r.terms.payout, r.terms.token, r.terms.arbiter,
		r.terms.monitor, r.terms.rate, r.terms.feeBps, r.terms.interruptible, r.terms.noticeSecs, r.terms.graceSecs,
		r.terms.disputeSecs, r.terms.maxSecs, r.terms.epoch, r.terms.specHash], BigInt(at), { blockTag: Number(block) });
	assert.equal(BigInt(units), q.cost);
	assert.ok(q.billedSecs >= 1200n);
	assert.match(await page.textContent(`${card} .elapsed`), /20 min/);
	// 40 minutes left: an alert at 50 minutes fires.
	await page.fill('#alert-minutes', '50');
	await page.click('form.alerts button[type=submit]');
	await page.waitForSelector('#banners .low-balance', { timeout: 10000 });
	assert.match(await page.textContent('#banners .low-balance'), new RegExp(`Rental #${rental1}: \\d+ min \\d+ s of paid time left`));
	assert.match(await page.textContent(`${card} .ssh-command`), /^ssh -p \d+ fm[0-9a-f]+@127\.0\.0\.1$/);
	await shots(page, 'rentals');
	await context.close();
});

test('terminal: the rental\'s shell runs `echo` as the rental\'s account (in an instance: as root there)', T, async () => {
	assert.ok(rental1);
	const { page, context } = await signedInPage(`#/terminal/${rental1}`);
	await page.waitForSelector('#terminal[data-connected="1"]', { timeout: 30000 });
	// Served over HTTPS (the run's local CA), the page reaches the agent over WSS.
	if (env.server.startsWith('https://')) {
		assert.equal(await page.evaluate(() => location.protocol), 'https:');
		assert.ok(env.agent.startsWith('https://'));
		assert.equal(await page.$eval('#terminal', (el) => el.dataset.scheme), 'wss:');
	}
	await page.click('#terminal');
	// an instance's hostname is its account's name, and the shell there is root's
	await page.keyboard.type(env.isolation === 'container' ? 'echo ok-$((6*7)) $(hostname) uid=$(id -u)\n' : 'echo ok-$((6*7)) $(id -un)\n');
	await page.waitForFunction(() => /ok-42 fm[0-9a-f]+/.test(document.querySelector('#terminal .xterm-rows')?.textContent || ''), null, { timeout: 15000 });
	const rows = await page.textContent('#terminal .xterm-rows');
	const user = /ok-42 (fm[0-9a-f]{10})/.exec(rows)[1];
	if (env.isolation === 'container') assert.match(rows, /ok-42 fm[0-9a-f]{10} uid=0/);
	const r = await api(`/rentals/${rental1}`);
	if (r.access) assert.equal(user, r.access.user);
	await shots(page, 'terminal');
	await context.close();
});

test('Open Jupyter: a signed one-time link in a new tab lands in the rental\'s notebook', T, async (t) => {
	assert.ok(rental1);
	const r = await api(`/rentals/${rental1}`);
	const offer = await api(`/offers/${r.offer_hash}`);
	if (!offer.jupyter) return t.skip('this host serves no Jupyter (no jupyter-notebook here, or no image with it)');
	const { page, context, wallet } = await signedInPage('#/rentals');
	await page.waitForSelector('.open-jupyter', { timeout: 30000 });
	const [tab] = await Promise.all([context.waitForEvent('page'), page.click('.open-jupyter')]);
	const bad = [];
	tab.on('response', (res) => { if (res.status() >= 400) bad.push(`${res.status()} ${res.url()}`); });
	tab.on('requestfailed', (req) => bad.push(`failed ${req.url()} ${req.failure()?.errorText}`));
	// the wallet signed the agent's challenge; the tab went through /auth (the cookie) to the file tree
	await tab.waitForURL(new RegExp(`/jupyter/${rental1}/tree`), { timeout: 60000 });
	// the notebook's own page: its file list comes from the instance's files
	try {
		await tab.waitForSelector('#notebook_list .list_item', { timeout: 30000 });
	} catch (e) {
		throw new Error(`the notebook page did not render: ${e.message}\nbad responses: ${bad.join('\n')}\npage: ${(await tab.content()).slice(0, 1500)}`);
	}
	assert.ok(wallet.log.includes('personal_sign'));
	const status = await tab.evaluate(async (id) => (await fetch(`/jupyter/${id}/api/status`)).status, rental1);
	assert.equal(status, 200); // the cookie is the tab's: same origin, HttpOnly, path /jupyter/<id>/
	assert.equal(await tab.evaluate(() => document.cookie.includes('fm_jupyter')), false); // HttpOnly: not for scripts
	await shots(tab, 'jupyter');
	await context.close();
});

test('files: upload 100 MB with progress, its size and hash in the terminal, download it back byte-identical', T, async () => {
	assert.ok(rental1);
	const fs = await import('node:fs');
	const os = await import('node:os');
	const path = await import('node:path');
	const crypto = await import('node:crypto');
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flop-web-'));
	const file = path.join(dir, 'web-100m.bin');
	const size = 100 * 1024 * 1024;
	const hash = crypto.createHash('sha256');
	const fd = fs.openSync(file, 'w');
	for (let off = 0; off < size; off += 1 << 20) {
		const chunk = crypto.randomBytes(1 << 20);
		hash.update(chunk);
		fs.writeSync(fd, chunk);
	}
	fs.closeSync(fd);
	const sha = hash.digest('hex');
	const { page, context } = await signedInPage(`#/terminal/${rental1}`);
	await page.waitForSelector('#terminal[data-connected="1"]', { timeout: 30000 });
	await page.setInputFiles('#upload-input', file);
	await page.waitForSelector('#files-log li[data-done="1"], #files-log li[data-failed="1"]', { timeout: 120000 });
	const item = await page.$eval('#files-log li', (el) => ({ ...el.dataset, text: el.textContent }));
	assert.equal(item.done, '1', item.text);
	assert.equal(Number(item.size), size);
	assert.equal(item.sha256, sha);
	assert.match(item.text, /uploaded 100\.0 MiB/);
	await shots(page, 'files');
	// The shell sees the same bytes.
	await page.click('#terminal');
	await page.keyboard.type('clear; stat -c %s web-100m.bin; sha256sum web-100m.bin; ln -sf /etc/passwd pw; echo done-$((1+1))\n');
	await page.waitForFunction(() => /done-2/.test(document.querySelector('#terminal .xterm-rows')?.textContent || ''), null, { timeout: 30000 });
	const rows = await page.textContent('#terminal .xterm-rows');
	assert.ok(rows.includes(String(size)), rows);
	assert.ok(rows.includes(sha), rows);
	// Download it back.
	await page.fill('#download-path', 'web-100m.bin');
	const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120000 }), page.click('form.download button')]);
	const back = await download.path();
	const h2 = crypto.createHash('sha256').update(fs.readFileSync(back)).digest('hex');
	assert.equal(h2, sha);
	assert.equal(fs.statSync(back).size, size);
	// Nothing outside the home: a symlink out of it, "..", an absolute path.
	await page.fill('#download-path', 'pw');
	await page.click('form.download button');
	await page.waitForFunction(() => /leaves the rental's home/.test(document.querySelector('#download-msg')?.textContent || ''), null, { timeout: 20000 });
	for (const [p, re] of [['../etc/passwd', /"\.\."/], ['/etc/passwd', /relative to the rental's home/]]) {
		await page.fill('#download-path', p);
		await page.click('form.download button');
		assert.match(await page.textContent('#download-msg'), re);
	}
	// An upload the agent refuses gets its reason before any byte is taken: a folder that does not exist,
	// a path through the symlink out of the home.
	const signer = new Wallet(KEYS.renter);
	for (const [p, status, code] of [['nodir/x.bin', 404, 'not_found'], ['pw/x.bin', 403, 'outside_home']]) {
		const c = await (await fetch(`${env.agent}/terminal/${rental1}/challenge`)).json();
		const sig = await signer.signMessage(c.message);
		const res = await fetch(`${env.agent}/files/${rental1}?path=${encodeURIComponent(p)}&challenge=${c.challenge}&sig=${sig}`,
			{ method: 'PUT', body: Buffer.from('hello'), headers: { 'Content-Type': 'application/octet-stream' } });
		assert.equal(res.status, status, p);
		assert.equal((await res.json()).error.code, code, p);
	}
	fs.rmSync(dir, { recursive: true, force: true });
	await context.close();
});

test('extend: the deposit grows by exactly the amount typed, in one transaction (a permit)', T, async () => {
	const { page, context } = await signedInPage('#/rentals');
	const card = `article.rental[data-rental="${rental1}"]`;
	const sent = await node.getTransactionCount(renter);
	await page.waitForSelector(`${card} .extend-amount`);
	await page.fill(`${card} .extend-amount`, '0.1234567');
	await page.click(`${card} form.extend button`);
	assert.match(await page.textContent(`${card} form.extend`), /Too many decimals/);
	await page.fill(`${card} .extend-amount`, '0.25');
	await page.click(`${card} form.extend button`);
	await page.waitForFunction((c) => /Extend by .*confirmed in block/.test(document.querySelector(`${c} form.extend`)?.textContent || ''), card, { timeout: 30000 })
		.catch(async () => { throw new Error(await page.textContent(`${card} form.extend`)); });
	const ext = (await rentalEvents(rental1)).filter((e) => e.name === 'Extended');
	assert.equal(ext.length, 1);
	assert.equal(ext[0].args.amount, 250000n);
	assert.equal(await node.getTransactionCount(renter), sent + 1); /* extendWithPermit: no approve first */
	await context.close();
});

test('stop: the page shows the refund preview, then the same split as the chain', T, async () => {
	const { page, context } = await signedInPage('#/rentals');
	const card = `article.rental[data-rental="${rental1}"]`;
	await page.waitForSelector(`${card} .accrued[data-units]`);
	const bal = await erc20(addr.usdc).balanceOf(renter);
	await page.click(`${card} button.stop`);
	assert.match(await page.textContent(`${card} .confirm`), /You get back about [\d.]+ dUSDC/);
	await page.click(`${card} .confirm-stop`);
	await page.waitForSelector(`${card} .split`, { timeout: 30000 });
	const split = await page.$eval(`${card} .split`, (el) => ({ ...el.dataset }));
	const stopped = (await rentalEvents(rental1)).find((e) => e.name === 'Stopped');
	assert.ok(stopped);
	assert.equal(BigInt(split.refund), stopped.args.refundAmount);
	assert.equal(BigInt(split.provider), stopped.args.providerAmount);
	assert.equal(BigInt(split.fee), stopped.args.feeAmount);
	assert.equal((await erc20(addr.usdc).balanceOf(renter)) - bal, stopped.args.refundAmount);
	await context.close();
});

test('receipts: the table links the transactions and the CSV downloads with their hashes', T, async () => {
	const { page, context } = await signedInPage('#/receipts');
	const ev = await rentalEvents(rental1);
	// The server mirrors the stop once the indexer has seen it.
	for (let i = 0; i < 50; i++) {
		const r = await api(`/rentals/${rental1}/receipt`);
		if (r.transactions.some((t) => t.kind === 'Stopped')) break;
		await new Promise((res) => setTimeout(res, 200));
	}
	await go(page, '#/receipts');
	await page.waitForSelector(`tr[data-rental="${rental1}"]`);
	const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
	const file = await download.path();
	const csv = (await import('node:fs')).readFileSync(file, 'utf8');
	assert.match(csv.split('\n')[0], /^rental_id,state,renter/);
	const line = csv.split('\n').find((l) => l.startsWith(`${rental1},`));
	assert.ok(line, csv);
	for (const e of ev.filter((x) => x.name === 'Opened' || x.name === 'Stopped')) assert.ok(line.includes(e.tx), `${e.name} ${e.tx} in ${line}`);
	await shots(page, 'receipts');
	await context.close();
});

test('gasless: a wallet with dUSDC and no ETH pays the network fee in dUSDC; the relayer sends the open, the extend and the stop', { timeout: 240000 }, async () => {
	const { Wallet: W, Contract: C } = await import('ethers');
	const nogas = W.createRandom();
	const giver = new W(KEYS.renter, node);
	await (await new C(addr.usdc, ['function transfer(address,uint256)'], giver).transfer(nogas.address, 20000000n)).wait();
	const info = await api('/relay');
	const relBefore = await erc20(addr.usdc).balanceOf(info.relayer);
	const offer = await api(`/offers/${env.offerUsdc}`);
	const want = (BigInt(offer.offer.rate) * 3600n + 10n ** 18n - 1n) / 10n ** 18n;
	const { page, context, wallet } = await openPage({ key: nogas.privateKey });
	await go(page, `#/offer/${env.offerUsdc}`);
	await connect(page);
	await page.waitForSelector('#rent-gasless-row:not([hidden])');
	await page.waitForFunction(() => document.querySelector('#rent-gasless')?.checked);
	await page.waitForSelector('#est-relay-fee');
	// the most the relayer may take, in the token and in USD, before anything is signed
	assert.match(await page.textContent('#estimate'), /Relayer fee \(at most; paid in dUSDC, no gas coin needed\)[0-9.]+ dUSDC \$[0-9.]+/);
	await shots(page, 'rent-gasless');
	await page.fill('#rent-hours', '1');
	await page.click('#rent-submit');
	await page.waitForSelector('#rent-steps li.ready', { timeout: 120000 }).catch(async (e) => {
		throw new Error(`${e.message}: ${await page.textContent('#rent-steps')} / ${await page.textContent('#rent-error')}`);
	});
	const steps = await page.textContent('#rent-steps');
	assert.match(steps, /Relayed: confirmed in block \d+; the relayer's fee was [0-9.]+ dUSDC/);
	const id = Number(/Rental #(\d+) is open/.exec(steps)[1]);
	const ev = await rentalEvents(id);
	assert.equal(ev[0].name, 'Opened');
	assert.equal(ev[0].args.renter, nogas.address);
	const fee = (await erc20(addr.usdc).balanceOf(info.relayer)) - relBefore;
	assert.ok(fee > 0n);
	assert.equal(20000000n - (await erc20(addr.usdc).balanceOf(nogas.address)), want + fee, 'deposit + the relayer fee, to the unit');
	assert.ok(!wallet.log.includes('eth_sendTransaction'), 'the wallet sent no transaction');
	assert.equal(await node.getBalance(nogas.address), 0n);
	assert.equal(await node.getTransactionCount(nogas.address), 0);
	await context.close();
	// My rentals: extend and stop, each through the relayer (the wallet still has no ETH); the page says so
	const p2 = await signedInPage('#/rentals', nogas.privateKey);
	const card = `article.rental[data-rental="${id}"]`;
	await p2.page.waitForSelector(`${card} .extend-amount`);
	await p2.page.fill(`${card} .extend-amount`, '0.25');
	await p2.page.click(`${card} form.extend button`);
	await p2.page.waitForFunction((c) => /relayed, confirmed in block \d+; the relayer's fee was/.test(document.querySelector(`${c} form.extend`)?.textContent || ''), card, { timeout: 60000 })
		.catch(async () => { throw new Error(await p2.page.textContent(`${card} form.extend`)); });
	const ext = (await rentalEvents(id)).filter((e) => e.name === 'Extended');
	assert.equal(ext.length, 1);
	assert.equal(ext[0].args.amount, 250000n);
	// the extend redraws the list; the stop is pressed on the card as it is after that
	await p2.page.reload();
	await p2.page.waitForSelector(`${card} .accrued[data-units]`);
	await p2.page.click(`${card} button.stop`);
	await p2.page.waitForSelector(`${card} .confirm .relay-note`);
	assert.match(await p2.page.textContent(`${card} .confirm`), /relayer sends the stop and takes at most [\d.]+ dUSDC of the refund/);
	await p2.page.click(`${card} .confirm-stop`);
	await p2.page.waitForSelector(`${card} .split`, { timeout: 60000 }).catch(async () => { throw new Error(await p2.page.textContent(`${card} .tx-status`)); });
	const split = await p2.page.$eval(`${card} .split`, (el) => ({ ...el.dataset }));
	const stopped = (await rentalEvents(id)).find((x) => x.name === 'Stopped');
	assert.ok(stopped);
	assert.equal(BigInt(split.refund), stopped.args.refundAmount);
	// every unit: 20 dUSDC - deposits + refund - the relayer's three fees
	const fees = (await erc20(addr.usdc).balanceOf(info.relayer)) - relBefore;
	assert.equal(await erc20(addr.usdc).balanceOf(nogas.address), 20000000n - want - 250000n + stopped.args.refundAmount - fees);
	assert.ok(!p2.wallet.log.includes('eth_sendTransaction'), 'the wallet sent no transaction');
	assert.equal(await node.getBalance(nogas.address), 0n);
	assert.equal(await node.getTransactionCount(nogas.address), 0);
	await shots(p2.page, 'rentals-gasless');
	await p2.context.close();
});

test('rent with approve + deposit (dUSDT has no permit): the approval is exactly the deposit', T, async () => {
	const { page, context, wallet } = await openPage();
	await go(page, `#/offer/${env.offerUsdt}`);
	await connect(page);
	await page.fill('#rent-hours', '1');
	await page.click('#rent-submit');
	await page.waitForSelector('#rent-steps li.ready', { timeout: 90000 });
	const steps = await page.textContent('#rent-steps');
	assert.match(steps, /dUSDT has no permit: approving instead/);
	assert.match(steps, /Approve [\d.]+ dUSDT: confirmed/);
	assert.ok(!wallet.log.includes('eth_signTypedData_v4'), 'no permit was signed for a token without one');
	rental2 = Number(/Rental #(\d+) is open/.exec(steps)[1]);
	assert.equal(await erc20(addr.usdt).allowance(renter, addr.escrow), 0n);
	const opened = (await rentalEvents(rental2))[0];
	assert.equal(opened.args.terms.token.toLowerCase(), addr.usdt.toLowerCase());
	await context.close();
});

test('renting errors a person can act on: wrong network, too few tokens, no gas coin, a named revert', T, async () => {
	assert.ok(rental2, 'needs the dUSDT rental (the machine is full)');
	const before = await escrow.nextId();
	// Wrong network: said in the form, one click switches, nothing sent.
	let p = await openPage({ startChainId: 1 });
	await go(p.page, `#/offer/${env.offerUsdc}`);
	await connect(p.page);
	await p.page.click('#rent-submit');
	await p.page.waitForSelector('#rent-error #switch-network');
	assert.match(await p.page.textContent('#rent-error'), /Your wallet is on chain 1; this marketplace runs on/);
	// The fee estimate the switch triggers answers late (a slow node): the message must outlive it.
	p.wallet.delays = { eth_gasPrice: 1500, eth_maxPriorityFeePerGas: 1500, eth_getBlockByNumber: 1500 };
	await p.page.click('#rent-error #switch-network');
	await p.page.waitForFunction(() => /Network switched/.test(document.querySelector('#rent-error')?.textContent || ''));
	assert.equal(p.wallet.chainId, CHAIN_ID);
	await p.page.waitForTimeout(2500);
	assert.match(await p.page.textContent('#rent-error'), /Network switched/, 'the late fee estimate kept the message');
	p.wallet.delays = {};
	// The machine is rented (rental 2): the open would revert, and the page names why before sending.
	await p.page.click('#rent-submit');
	await p.page.waitForFunction(() => /OfferFull/.test(document.querySelector('#rent-error')?.textContent || ''), null, { timeout: 30000 })
		.catch(async () => { throw new Error('rent-error: ' + await p.page.textContent('#rent-error')); });
	assert.match(await p.page.textContent('#rent-error'), /would fail on chain: OfferFull\(1, 1\): the machine is already rented.*Nothing was sent/);
	assert.ok(!p.wallet.log.includes('eth_sendTransaction'));
	await p.context.close();
	// A wallet with no dUSDC, and one with dUSDC but none of the chain's coin for gas.
	const { Wallet: W, Contract: C } = await import('ethers');
	const poor = W.createRandom();
	p = await openPage({ key: poor.privateKey });
	await go(p.page, `#/offer/${env.offerUsdt}`);
	await connect(p.page);
	await p.page.check('#mode-open');
	await p.page.fill('#rent-deposit', '1');
	await p.page.click('#rent-submit');
	await p.page.waitForSelector('#rent-error:not(:empty)');
	assert.match(await p.page.textContent('#rent-error'), /Not enough dUSDT: you hold 0\.00 dUSDT and this rental needs 1\.00 dUSDT/);
	const giver = new W(KEYS.renter, node);
	await (await new C(addr.usdt, ['function transfer(address,uint256)'], giver).transfer(poor.address, 2000000n)).wait();
	await p.page.click('#rent-submit');
	await p.page.waitForFunction(() => /for the network fee/.test(document.querySelector('#rent-error')?.textContent || ''));
	assert.match(await p.page.textContent('#rent-error'), /Not enough ETH for the network fee: you hold 2\.00 dUSDT but 0 ETH/);
	assert.equal(await escrow.nextId(), before);
	assert.equal(await node.getTransactionCount(poor.address), 0);
	await p.context.close();
});

test('provider: claims what a running rental has earned, as the chain pays it', T, async () => {
	assert.ok(rental2);
	await advance(1800);
	const { page, context } = await signedInPage('#/provider', KEYS.provider);
	const row = `.earnings-table tr[data-rental="${rental2}"]`;
	await page.waitForSelector(row);
	assert.ok(BigInt(await page.$eval(row, (el) => el.dataset.claimable)) > 0n);
	// Both offers of the rented machine are the provider's still, though search does not show them now.
	await page.waitForSelector(`.offers-table tr[data-offer="${env.offerUsdt}"]`);
	assert.match(await page.textContent(`.offers-table tr[data-offer="${env.offerUsdt}"] .listed`), /not listed now/);
	await shots(page, 'provider');
	const payout = (await rentalEvents(rental2))[0].args.terms.payout;
	const bal = await erc20(addr.usdt).balanceOf(payout);
	await page.click(`${row} button.claim`);
	await page.waitForFunction((r) => /Claimed in block/.test(document.querySelector(r)?.textContent || ''), row, { timeout: 30000 });
	const evs2 = await rentalEvents(rental2);
	const claimed = evs2.find((e) => e.name === 'Claimed');
	if (!claimed) console.log('events', evs2.map((e) => e.name), await page.textContent(row));
	assert.ok(claimed);
	assert.equal((await erc20(addr.usdt).balanceOf(payout)) - bal, claimed.args.providerAmount);
	assert.ok(claimed.args.providerAmount > 0n);
	await context.close();
});

test('provider: publish an offer from the page (bad input refused first), then withdraw it', T, async () => {
	const { page, context, wallet } = await signedInPage('#/provider', KEYS.provider);
	await page.waitForSelector('#publish-form');
	const before = (await api('/offers?limit=100')).total;
	for (const [field, v, re] of [['#pub-price', '1.1234567', /Too many decimals: dUSDC has 6/], ['#pub-price', '-1', /cannot be negative/],
		['#pub-price', '0', /more than zero/], ['#pub-maxHours', '0', /Maximum hours: from 1/]]) {
		await page.fill('#pub-price', '1.25');
		await page.fill('#pub-maxHours', '24');
		await page.fill(field, v);
		await page.selectOption('#pub-token', 'dUSDC');
		await page.click('#publish-form button[type=submit]');
		assert.match(await page.textContent('#pub-msg'), re, `${field}=${v}`);
	}
	assert.ok(!wallet.log.includes('eth_signTypedData_v4'), 'nothing was signed for bad input');
	await page.fill('#pub-price', '1.25');
	await page.fill('#pub-maxHours', '12');
	await page.click('#publish-form button[type=submit]');
	await page.waitForFunction(() => /Published/.test(document.querySelector('#pub-msg')?.textContent || ''), null, { timeout: 20000 })
		.catch(async () => { throw new Error(await page.textContent('#pub-msg')); });
	const hash = await page.$eval('#pub-msg', (el) => el.dataset.offer);
	const o = await api(`/offers/${hash}`);
	assert.equal(o.status, 'active');
	assert.equal(o.token_units_per_hour, '1250000');
	assert.equal(o.offer.maxSecs, 12 * 3600);
	assert.equal(o.offer.provider.toLowerCase(), provider.toLowerCase());
	// Withdraw it from the offers table.
	await page.waitForSelector(`.offers-table tr[data-offer="${hash}"]`);
	await page.click(`.offers-table tr[data-offer="${hash}"] button.withdraw`);
	await page.waitForFunction((h) => !document.querySelector(`.offers-table tr[data-offer="${h}"]`), hash, { timeout: 20000 });
	assert.equal((await api(`/offers/${hash}`)).status, 'cancelled');
	assert.equal((await api('/offers?limit=100')).total, before);
	await context.close();
});

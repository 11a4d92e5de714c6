// proxy.mjs — the browser's only way out of its network namespace: an HTTP proxy on the host side of
// the namespace's veth that tunnels CONNECT (HTTPS, WSS) and forwards plain requests, to loopback only.
// Why: podman adds and removes bridges and veths as instances come and go, and Chromium aborts every
// request in flight with net::ERR_NETWORK_CHANGED when it sees an interface change. A renter's browser
// is on another machine and never sees the provider's interfaces; a browser in a namespace of its own
// sees none either, so the tests meet the page as a renter does (tests/web/run makes the namespace).
import http from 'node:http';
import net from 'node:net';

const LOOPBACK = new Set(['127.0.0.1', 'localhost']);

// host:port of a CONNECT line, or null unless it names a loopback port.
function loopbackTarget(authority) {
	const m = /^([^:]+):(\d{1,5})$/.exec(authority || '');
	if (!m || !LOOPBACK.has(m[1]) || Number(m[2]) < 1 || Number(m[2]) > 65535) return null;
	return { host: '127.0.0.1', port: Number(m[2]) };
}

function tunnel(req, client, head) {
	const t = loopbackTarget(req.url);
	if (!t) {
		client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
		return;
	}
	const up = net.connect(t.port, t.host, () => {
		client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
		if (head && head.length) up.write(head);
		up.pipe(client);
		client.pipe(up);
	});
	up.on('error', () => client.destroy());
	client.on('error', () => up.destroy());
	client.on('close', () => up.destroy());
}

function forward(req, res) {
	let u;
	try { u = new URL(req.url); } catch { u = null; }
	if (!u || u.protocol !== 'http:' || !LOOPBACK.has(u.hostname)) {
		res.writeHead(403).end();
		return;
	}
	const up = http.request({ host: '127.0.0.1', port: u.port || 80, path: u.pathname + u.search, method: req.method,
		headers: req.headers }, (r) => {
		res.writeHead(r.statusCode, r.headers);
		r.pipe(res);
	});
	up.on('error', () => res.destroy());
	req.pipe(up);
}

// Starts the proxy on host (an address of this namespace); resolves to { url, close }.
export async function startProxy(host) {
	const sockets = new Set();
	const srv = http.createServer(forward);
	srv.on('connect', tunnel);
	srv.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
	await new Promise((resolve, reject) => { srv.once('error', reject); srv.listen(0, host, resolve); });
	return {
		url: `http://${host}:${srv.address().port}`,
		close: () => new Promise((resolve) => {
			for (const s of sockets) s.destroy();
			srv.close(() => resolve());
		}),
	};
}

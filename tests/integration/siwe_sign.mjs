// siwe_sign.mjs — an INDEPENDENT client for the server's sign-in tests: builds an EIP-4361 message
// with the pinned npm `siwe` package and signs it with the pinned npm `ethers` (personal_sign), as a
// wallet would. Test keys only.
//
//   node tests/integration/siwe_sign.mjs <domain> <uri> <chainId> <nonce> <privateKeyHex> [expirySecs]
//
// Prints one JSON line: {"message": "...", "signature": "0x...", "address": "0x..."}.
import { SiweMessage } from 'siwe';
import { Wallet } from 'ethers';

const [domain, uri, chainId, nonce, key, expiry] = process.argv.slice(2);
if (!key) {
	console.error('usage: siwe_sign.mjs domain uri chainId nonce privateKey [expirySecs]');
	process.exit(2);
}
const wallet = new Wallet(key);
const now = new Date();
const fields = {
	domain,
	address: wallet.address,
	statement: 'Sign in to Flopmarket.',
	uri,
	version: '1',
	chainId: Number(chainId),
	nonce,
	issuedAt: now.toISOString(),
};
if (expiry)
	fields.expirationTime = new Date(now.getTime() + Number(expiry) * 1000).toISOString();
const message = new SiweMessage(fields).prepareMessage();
const signature = await wallet.signMessage(message);
console.log(JSON.stringify({ message, signature, address: wallet.address }));

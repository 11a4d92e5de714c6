// escrow.js — the RentalEscrow contract and ERC-20 tokens as the page calls them (docs/escrow.md):
// ABI fragments, the Offer and Terms tuples from the server's JSON, and revert decoding so a failed
// transaction is named ("OfferFull", "DepositBelowMinimum", ...).
import { AbiCoder, Contract, Interface, Signature, keccak256 } from 'ethers';

const OFFER = 'tuple(address provider,address payout,address token,address arbiter,uint128 rate,uint32 minSecs,' +
	'uint32 maxSecs,bool interruptible,uint32 noticeSecs,uint32 graceSecs,uint32 disputeSecs,bytes32 specHash,' +
	'uint16 capacity,address monitor,uint16 maxFeeBps,uint40 expiry,uint64 nonce)';
const TERMS = 'tuple(uint64 id,address renter,address provider,address payout,address token,address arbiter,' +
	'address monitor,uint128 rate,uint16 feeBps,bool interruptible,uint32 noticeSecs,uint32 graceSecs,' +
	'uint32 disputeSecs,uint32 maxSecs,uint40 epoch,bytes32 specHash)';

export const ESCROW_ABI = [
	`function open(${OFFER} offer, bytes signature, uint256 amount) payable returns (uint256)`,
	`function openWithPermit(${OFFER} offer, bytes signature, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) returns (uint256)`,
	`function extend(${TERMS} t, uint256 amount) payable`,
	`function extendWithPermit(${TERMS} t, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)`,
	`function stop(${TERMS} t)`,
	`function claim(${TERMS} t)`,
	`function dispute(${TERMS} t)`,
	`function quote(${TERMS} t, uint256 atTime) view returns (uint256 billedSecs, uint256 cost, uint256 claimableGross, uint256 held)`,
	`function stateOf(${TERMS} t) view returns (tuple(uint128 deposited, uint128 claimed, uint128 refunded, uint40 segStart, uint40 paidUntil, uint32 usedSecs, uint40 stopAt, uint40 endedAt, uint40 disputedAt, uint32 claimedSecs))`,
	`function liveRentals(address provider, bytes32 specHash) view returns (uint256)`,
	'function feeBps() view returns (uint16)',
	`event Opened(uint256 indexed id, address indexed renter, address indexed provider, bytes32 offerHash, bytes32 specHash, ${TERMS} terms, uint256 state)`,
	'event Stopped(uint256 indexed id, uint256 providerAmount, uint256 feeAmount, uint256 refundAmount, uint256 state)',
	'event Claimed(uint256 indexed id, uint256 providerAmount, uint256 feeAmount, uint256 state)',
	'event Extended(uint256 indexed id, uint256 amount, uint256 state)',
	'error OfferExpired(uint256 expiry)', 'error OfferNonceCancelled(address provider, uint64 nonce)',
	'error BadOfferSignature()', 'error ZeroRate()', 'error ZeroAddress()', 'error ZeroAmount()',
	'error BadNativeValue(uint256 expected, uint256 got)', 'error NoPermitForNative()',
	'error DepositBelowMinimum(uint256 paidSecs, uint256 minSecs)', 'error DepositAboveMaximum(uint256 paidSecs, uint256 maxSecs)',
	'error DepositTooLarge(uint256 deposited)', 'error UnknownRental(uint256 id)', 'error NotRenter()', 'error NotProvider()',
	'error NotArbiter()', 'error NotInterruptible()', 'error AlreadyReclaimed()', 'error RentalEnded()', 'error RentalOver()',
	'error NotOver()', 'error NothingToClaim()', 'error RentalDisputed()', 'error NotDisputed()', 'error DisputeWindowClosed()',
	'error DisputeWindowOpen()', 'error FeeAboveCap(uint16 feeBps)', 'error TransferFailed()', 'error TimeOverflow()',
	'error OfferFull(uint256 live, uint256 capacity)', 'error ZeroCapacity()',
	'error FeeAboveOfferMax(uint16 feeBps, uint16 maxFeeBps)', 'error MonitorMismatch(address monitor, address offerMonitor)',
	'error TokenNotAllowed(address token)',
	'error SafeERC20FailedOperation(address token)', 'error ReentrancyGuardReentrantCall()',
];

export const ERC20_ABI = [
	'function balanceOf(address) view returns (uint256)',
	'function allowance(address owner, address spender) view returns (uint256)',
	'function approve(address spender, uint256 value)',
	'function nonces(address owner) view returns (uint256)',
	'function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)',
	'error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)',
	'error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)',
	'error InsufficientAllowance()', 'error InsufficientBalance()', 'error Blacklisted(address account)',
];

const escrowIface = new Interface(ESCROW_ABI);
const erc20Iface = new Interface(ERC20_ABI);

export function escrowContract(cfg, runner) {
	return new Contract(cfg.escrow, ESCROW_ABI, runner);
}

export function tokenContract(address, runner) {
	return new Contract(address, ERC20_ABI, runner);
}

// The signed Offer (server JSON, docs/api.md) as the tuple the contract takes.
export function offerTuple(o) {
	return [o.provider, o.payout, o.token, o.arbiter, BigInt(o.rate), o.minSecs, o.maxSecs, !!o.interruptible,
		o.noticeSecs, o.graceSecs, o.disputeSecs, o.specHash, o.capacity, o.monitor, o.maxFeeBps, BigInt(o.expiry),
		BigInt(o.nonce)];
}

// A rental's Terms (GET /rentals/{id} -> terms) as the tuple the contract takes.
export function termsTuple(t) {
	return [BigInt(t.id), t.renter, t.provider, t.payout, t.token, t.arbiter, t.monitor, BigInt(t.rate), t.feeBps,
		!!t.interruptible, t.noticeSecs, t.graceSecs, t.disputeSecs, t.maxSecs, BigInt(t.epoch), t.specHash];
}

// A rental's Terms ABI-encoded (512 bytes, 0x-hex), and its storage key keccak256 of that (`rentalKey`):
// what a gasless extend or stop names (relay.js).
export function termsEncoded(t) {
	return AbiCoder.defaultAbiCoder().encode([TERMS], [termsTuple(t)]);
}

export function rentalKey(t) {
	return keccak256(termsEncoded(t));
}

// Reads the revert data out of an ethers/wallet error and names it: "OfferFull(1, 1)".
export function revertName(e) {
	const seen = new Set();
	const stack = [e];
	while (stack.length) {
		const x = stack.pop();
		if (!x || typeof x !== 'object' || seen.has(x)) continue;
		seen.add(x);
		const data = typeof x.data === 'string' ? x.data : (x.data && typeof x.data.data === 'string' ? x.data.data : null);
		if (data && /^0x[0-9a-fA-F]{8}/.test(data)) {
			for (const iface of [escrowIface, erc20Iface]) {
				try {
					const d = iface.parseError(data);
					if (d) return `${d.name}(${d.args.map(String).join(', ')})`;
				} catch { /* not this one */ }
			}
		}
		if (x.revert && x.revert.name) return `${x.revert.name}(${(x.revert.args || []).map(String).join(', ')})`;
		for (const k of ['error', 'info', 'cause', 'data']) if (x[k] && typeof x[k] === 'object') stack.push(x[k]);
	}
	return null;
}

// What a revert means for a person.
const REVERT_WORDS = {
	OfferExpired: 'this offer has expired',
	OfferNonceCancelled: 'the provider cancelled this offer',
	OfferFull: 'the machine is already rented (the offer is full)',
	DepositBelowMinimum: 'the deposit is below the offer\'s minimum duration',
	DepositAboveMaximum: 'the deposit pays for more than the offer\'s maximum duration',
	TokenNotAllowed: 'the escrow does not accept this token',
	RentalOver: 'the rental is over (its paid time and grace have run out)',
	RentalEnded: 'the rental has already ended',
	NothingToClaim: 'there is nothing to claim yet',
	ERC20InsufficientBalance: 'you do not hold enough tokens',
	ERC20InsufficientAllowance: 'the escrow is not approved for this amount',
	InsufficientAllowance: 'the escrow is not approved for this amount',
	InsufficientBalance: 'you do not hold enough tokens',
};

export function explainRevert(e) {
	const name = revertName(e);
	if (!name) return null;
	const base = name.split('(')[0];
	return REVERT_WORDS[base] ? `${name}: ${REVERT_WORDS[base]}` : name;
}

// An EIP-2612 permit signature for amount, or null when the token has no permit (no nonces() or no
// EIP-5267 domain).
export async function permitSignature(token, owner, spender, amount, deadline, chainId, signTypedData) {
	let domain, nonce;
	try {
		const d = await token.eip712Domain();
		nonce = await token.nonces(owner);
		domain = { name: d.name, version: d.version, chainId, verifyingContract: await token.getAddress() };
	} catch {
		return null;
	}
	const types = { Permit: [
		{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' },
		{ name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] };
	const sig = await signTypedData(domain, types, { owner, spender, value: amount, nonce, deadline });
	return Signature.from(sig);
}

// The rental id out of an open transaction's receipt (its Opened log).
export function openedId(cfg, receipt) {
	for (const log of receipt.logs || []) {
		if (log.address.toLowerCase() !== cfg.escrow.toLowerCase()) continue;
		try {
			const p = escrowIface.parseLog(log);
			if (p && p.name === 'Opened') return p.args.id;
		} catch { /* another event */ }
	}
	return null;
}

// The amounts of a Stopped log in a receipt: { provider, fee, refund } or null.
export function stoppedSplit(cfg, receipt) {
	for (const log of receipt.logs || []) {
		if (log.address.toLowerCase() !== cfg.escrow.toLowerCase()) continue;
		try {
			const p = escrowIface.parseLog(log);
			if (p && p.name === 'Stopped') return { provider: p.args.providerAmount, fee: p.args.feeAmount, refund: p.args.refundAmount };
		} catch { /* another event */ }
	}
	return null;
}

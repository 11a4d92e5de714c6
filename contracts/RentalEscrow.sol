// SPDX-License-Identifier: MIT
//
// RentalEscrow: the non-custodial escrow behind Flopmarket GPU rentals. One deployment per chain.
//
// A provider signs an EIP-712 `Offer` (price, token, durations, notice/grace/dispute windows, arbiter).
// A renter opens a rental from it with a deposit (native coin or ERC-20, optionally via EIP-2612 permit);
// the contract streams payment to the provider per second, refunds the unused rest, and settles disputes
// by fixed rules. Money moves only by these rules: no address, the owner included, can take escrowed funds.
//
// Storage: ONE slot per rental. Its key is `keccak256(abi.encode(Terms))` (the rental's fixed terms, id
// included) and its value the rental's mutable state packed into one word (see `State` below for the bit
// layout). Callers pass the `Terms` in calldata (from the `Opened` event); a forged or altered `Terms`
// hashes to an empty slot (`UnknownRental`). Every event carries the new packed state word, so an indexer or
// client rebuilds every rental from logs alone. When a rental closes its slot is deleted (gas refund) and
// it can never pay again. See docs/escrow.md for the full ABI and the reasoning.
//
// Money rules (all amounts integers in the token's smallest unit; rates scaled by RATE_SCALE = 1e18):
//   cost(secs)    = floor(rate * secs / 1e18), always on CUMULATIVE billed seconds, so extensions and
//                   partial claims never drift: the payer is rounded in its favour once, not per step.
//                   The provider side's cumulative gross is always cost(claimedSecs) for a second count.
//   billed(now)   = usedSecs + max(0, min(now, paidUntil, stopAt) - segStart). When the deposit runs out
//                   (now > paidUntil) billing pauses; within `graceSecs` the renter may `extend` and billing
//                   restarts at the extension: the gap is never billed.
//   fee(gross)    = floor(gross * feeBps / 10000) on the cumulative gross paid to the provider side, so
//                   many small claims pay exactly the fee of one big claim. feeBps <= MAX_FEE_BPS (15 %),
//                   fixed per rental at open. Each payout's fee stays in escrow with the rental; when the
//                   rental closes its total fee is credited to `fees[token]` (one write per rental, not per
//                   payout), which `withdrawFees(token)` (anyone may call it) sends to the treasury.
//   dispute bound = provider claims lag by `disputeSecs` billed seconds: at any time the provider side
//                   has received at most cost(max(0, billed - disputeSecs)). After the end the renter may
//                   dispute for `disputeSecs` seconds; a ruling can only move the held part, so it can
//                   always be honoured. Rules: monitor attestation -> provider is paid for seconds up only;
//                   arbiter ruling before `arbiterWindow` ends; otherwise the default rule (billing stands).
//   invariant     = per rental: provider net + fee + refunded + held == deposited, to the unit;
//                   per token: balance of this contract == sum over open rentals of (held + fee so far)
//                   + sum of `owed` + `fees[token]`.
//   failed payout = a transfer that fails (blacklisted/paused token, reverting receiver) never blocks the
//                   others: the amount is credited to `owed[token][to]`, pulled later with `withdrawOwed`.
//
// Owner powers (Ownable2Step), none of which can move escrowed funds:
//   setTreasury(addr)   where fees are sent by withdrawFees (fee AMOUNTS are fixed per rental at open);
//   setFeeBps(bps)      fee for NEW rentals, capped at MAX_FEE_BPS and at the offer's signed maxFeeBps;
//   setMonitor(addr)    uptime-attestation key for NEW rentals; an offer only opens with the monitor it
//                       names (each rental keeps the key it opened with);
//   setTokenAllowed     which ERC-20 tokens NEW rentals may use (docs/escrow.md "Tokens"): a token that
//                       charges its transfer fee to the sender would make every payout cost more than the
//                       books say, so only tokens the operator has checked are accepted.
//
// Capacity: an offer names the machine it rents (provider, specHash) and how many rentals of it may be
// live at once (`capacity`, usually 1). `open` reverts `OfferFull` while that many are live, so one GPU is
// never paid for twice; a rental stops counting when it ends (stop, or settle once over).
// Attestations are bound to the ended rental: `Uptime` names its end time and its billed seconds, which
// only exist once it has ended, so an attestation signed while it ran can never decide its dispute.
//
// Gasless calls: the constructor creates this escrow's own RentalRelay (RentalRelay.sol), the one address
// trusted as an ERC-2771 forwarder. A call from it carries, in its last 20 bytes, the renter whose signed
// intent it runs; `_msgSender()` returns that renter, and every identity check uses `_msgSender()`.
// Deposits are always taken from the immediate caller (`msg.sender`): the renter, or the relay, which
// took exactly that deposit from the renter in the same call.
//
// Specs: EIP-712 (typed signatures, domain has chainId + verifyingContract), EIP-2612 (permit),
// ERC-1271 (contract-wallet providers), ERC-5267 (eip712Domain), EIP-1153 (transient reentrancy guard,
// so evm_version >= cancun), EIP-3529 (refund on slot deletion).
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {RentalRelay} from "./RentalRelay.sol";

contract RentalEscrow is EIP712, ReentrancyGuardTransient, Ownable2Step {
    using SafeERC20 for IERC20;

    // ----------------------------------------------------------------------------------------------
    // Types
    // ----------------------------------------------------------------------------------------------

    /// What a provider signs (EIP-712 type `Offer`). Renters may open it until it expires or its nonce is
    /// cancelled, while fewer than `capacity` rentals of the machine (provider, specHash) are live.
    struct Offer {
        address provider; // signer; may reclaim; receives nothing directly
        address payout; // where the provider's share is sent
        address token; // ERC-20 token, or address(0) for the native coin
        address arbiter; // decides subjective disputes; address(0) = none (attestation/default only)
        uint128 rate; // price: token units * 1e18 per second (RATE_SCALE)
        uint32 minSecs; // the opening deposit must pay for at least this many seconds
        uint32 maxSecs; // total paid seconds (all deposits) may never exceed this
        bool interruptible; // provider may `reclaim` with `noticeSecs` notice
        uint32 noticeSecs; // notice window of a reclaim (interruptible offers)
        uint32 graceSecs; // after a runout the renter may still extend for this long
        uint32 disputeSecs; // dispute window after the end = claim lag in billed seconds
        bytes32 specHash; // hash of the spec document of the machine the offer rents (names the machine)
        uint16 capacity; // rentals of (provider, specHash) that may be live at once, >= 1
        address monitor; // the uptime-attestation key the provider accepts; open reverts if it differs
        uint16 maxFeeBps; // the highest platform fee the provider accepts; open reverts above it
        uint40 expiry; // unix seconds; the offer cannot be opened after it
        uint64 nonce; // cancellable with cancelOffer(nonce)
    }

    /// A rental's fixed terms, written at open, never changed. keccak256(abi.encode(terms)) is the key of
    /// the rental's storage slot; every per-rental call takes the Terms as its first argument.
    struct Terms {
        uint64 id; // rental id (1, 2, ...), unique per deployment
        address renter; // who opened; may extend, stop, dispute; receives refunds
        address provider; // offer signer
        address payout; // receives the provider's share
        address token; // address(0) = native coin
        address arbiter; // from the offer; address(0) = none
        address monitor; // uptime-attestation key at open
        uint128 rate; // token units * 1e18 per second
        uint16 feeBps; // platform fee at open, <= MAX_FEE_BPS
        bool interruptible;
        uint32 noticeSecs;
        uint32 graceSecs;
        uint32 disputeSecs;
        uint32 maxSecs;
        uint40 epoch; // block time at open minus 1: packed times count seconds after it (0 = unset)
        bytes32 specHash; // the machine (with provider): its live-rental count drops when this rental ends
    }

    /// A rental's mutable state, unpacked (views only: `stateOf`, `decodeState`). Storage and events hold the
    /// packed word: bits [0,96) deposited, [96,128) claimedSecs, [128,160) usedSecs, [160,192) segStart,
    /// [192,224) stopAt while active / disputedAt once ended, [224,256) endedAt; times are seconds after
    /// `Terms.epoch` (0 = unset). Derived: claimed = cost(claimedSecs); paidUntil = segStart +
    /// deposited*1e18/rate - usedSecs; refunded = endedAt == 0 ? 0 : deposited - cost(usedSecs).
    /// Phase: endedAt == 0 -> active (running, paused in grace, or under reclaim notice);
    /// endedAt != 0 && disputedAt == 0 -> ended; disputedAt != 0 -> disputed; slot empty -> closed/unknown.
    struct State {
        uint128 deposited; // all deposits credited (amount actually received)
        uint128 claimed; // gross paid to the provider side so far (provider net + fee) = cost(claimedSecs)
        uint128 refunded; // paid back to the renter so far
        uint40 segStart; // start of the current billing segment (unix seconds)
        uint40 paidUntil; // end of the paid time of the current segment (meaningful while active)
        uint32 usedSecs; // billed seconds of earlier segments; once ended: all billed (after a ruling: awarded)
        uint40 stopAt; // 0, or when a reclaim notice ends (billing stops there)
        uint40 endedAt; // 0 while active; when the rental ended on chain
        uint40 disputedAt; // 0, or when the renter disputed
        uint32 claimedSecs; // billed seconds whose cost the provider side has received
    }

    /// How a rental's final amounts were decided (`Resolved.rule`).
    uint8 public constant RULE_ATTESTATION = 1;
    uint8 public constant RULE_ARBITER = 2;
    uint8 public constant RULE_DEFAULT = 3;

    // ----------------------------------------------------------------------------------------------
    // Constants and storage
    // ----------------------------------------------------------------------------------------------

    uint256 public constant RATE_SCALE = 1e18;
    uint16 public constant MAX_FEE_BPS = 1500;
    uint256 public constant BPS = 10_000;
    /// Largest total deposit of one rental (the packed state keeps 96 bits).
    uint256 public constant MAX_DEPOSIT = type(uint96).max;
    /// Gas forwarded with native-coin payouts; enough for contract wallets, bounds griefing.
    uint256 public constant NATIVE_SEND_GAS = 50_000;

    bytes32 public constant OFFER_TYPEHASH = keccak256(
        "Offer(address provider,address payout,address token,address arbiter,uint128 rate,uint32 minSecs,"
        "uint32 maxSecs,bool interruptible,uint32 noticeSecs,uint32 graceSecs,uint32 disputeSecs,"
        "bytes32 specHash,uint16 capacity,address monitor,uint16 maxFeeBps,uint40 expiry,uint64 nonce)"
    );
    /// An uptime attestation of an ENDED rental: `endedAt` (unix seconds) and `secondsObserved` (its billed
    /// seconds) must equal the rental's on chain, so it can only be signed after the end.
    bytes32 public constant UPTIME_TYPEHASH =
        keccak256("Uptime(uint256 rentalId,uint40 endedAt,uint32 secondsUp,uint32 secondsObserved)");

    /// Longest arbiter window a deployment may set (a dispute never freezes funds for longer).
    uint32 public constant MAX_ARBITER_WINDOW = 30 days;

    /// How long an arbiter has to rule after a dispute opens; after it the default rule applies. Rentals
    /// without an arbiter apply the default rule as soon as the dispute window closes.
    uint32 public immutable arbiterWindow;

    /// This escrow's gasless relay (created by the constructor), its only trusted forwarder.
    address public immutable relay;

    // One slot, read together by `open`: monitor | feeBps | nextId.
    address public monitor;
    uint16 public feeBps;
    uint64 public nextId;

    address public treasury;

    /// keccak256(abi.encode(Terms)) -> packed state word; 0 = unknown or closed.
    mapping(bytes32 => uint256) public rentals;
    /// provider -> offer nonce -> cancelled.
    mapping(address => mapping(uint64 => bool)) public offerCancelled;
    /// token -> account -> amount whose transfer failed, to pull with withdrawOwed.
    mapping(address => mapping(address => uint256)) public owed;
    /// token -> platform fees not yet sent to the treasury (withdrawFees).
    mapping(address => uint256) public fees;
    /// ERC-20 token -> new rentals may use it (the native coin always may).
    mapping(address => bool) public tokenAllowed;
    /// provider -> specHash -> live rentals + 1 (0 = never rented; the +1 keeps the slot warm-priced).
    mapping(address => mapping(bytes32 => uint256)) private _live;

    // ----------------------------------------------------------------------------------------------
    // Events (every state change; `state` is the new packed state word; see docs/escrow.md)
    // ----------------------------------------------------------------------------------------------

    event Opened(
        uint256 indexed id,
        address indexed renter,
        address indexed provider,
        bytes32 offerHash,
        bytes32 specHash,
        Terms terms,
        uint256 state
    );
    event Extended(uint256 indexed id, uint256 amount, uint256 state);
    event Claimed(uint256 indexed id, uint256 providerAmount, uint256 feeAmount, uint256 state);
    event Reclaimed(uint256 indexed id, uint256 state);
    event Stopped(uint256 indexed id, uint256 providerAmount, uint256 feeAmount, uint256 refundAmount, uint256 state);
    event Settled(uint256 indexed id, uint256 providerAmount, uint256 feeAmount, uint256 refundAmount, uint256 state);
    event Disputed(uint256 indexed id, uint256 state);
    event Resolved(
        uint256 indexed id, uint8 rule, uint256 providerAmount, uint256 feeAmount, uint256 refundAmount, uint256 state
    );
    event Closed(uint256 indexed id);
    event Credited(address indexed token, address indexed account, uint256 amount);
    event Withdrawn(address indexed token, address indexed account, address to, uint256 amount);
    event FeesWithdrawn(address indexed token, address to, uint256 amount);
    event OfferCancelled(address indexed provider, uint64 nonce);
    event TreasurySet(address treasury);
    event FeeSet(uint16 feeBps);
    event MonitorSet(address monitor);
    event TokenAllowed(address indexed token, bool allowed);

    // ----------------------------------------------------------------------------------------------
    // Errors (every revert has one)
    // ----------------------------------------------------------------------------------------------

    error OfferExpired(uint256 expiry);
    error OfferNonceCancelled(address provider, uint64 nonce);
    error BadOfferSignature();
    error ZeroRate();
    error ZeroAddress();
    error ZeroAmount();
    error BadNativeValue(uint256 expected, uint256 got);
    error NoPermitForNative();
    error DepositBelowMinimum(uint256 paidSecs, uint256 minSecs);
    error DepositAboveMaximum(uint256 paidSecs, uint256 maxSecs);
    error DepositTooLarge(uint256 deposited);
    error UnknownRental(uint256 id);
    error NotRenter();
    error NotProvider();
    error NotArbiter();
    error NotInterruptible();
    error AlreadyReclaimed();
    error RentalEnded();
    error RentalOver();
    error NotOver();
    error NothingToClaim();
    error RentalDisputed();
    error NotDisputed();
    error DisputeWindowClosed();
    error DisputeWindowOpen();
    error ArbiterWindowClosed();
    error ArbiterWindowOpen();
    error BadAttestation(uint32 secondsUp, uint32 secondsObserved);
    error BadAttestationSignature();
    error FeeAboveCap(uint16 feeBps);
    error NothingOwed();
    error TransferFailed();
    error TimeOverflow();
    error OfferFull(uint256 live, uint256 capacity);
    error ZeroCapacity();
    error FeeAboveOfferMax(uint16 feeBps, uint16 maxFeeBps);
    error MonitorMismatch(address monitor, address offerMonitor);
    error TokenNotAllowed(address token);
    error ArbiterWindowTooLong(uint32 secs, uint32 maxSecs);
    error AttestationNotForThisEnd(uint256 endedAt, uint256 billedSecs);

    // ----------------------------------------------------------------------------------------------
    // Setup and owner
    // ----------------------------------------------------------------------------------------------

    constructor(
        address owner_,
        address treasury_,
        address monitor_,
        uint16 feeBps_,
        uint32 arbiterWindow_,
        address[] memory tokens_
    ) EIP712("Flopmarket RentalEscrow", "1") Ownable(owner_) {
        if (treasury_ == address(0)) revert ZeroAddress();
        if (feeBps_ > MAX_FEE_BPS) revert FeeAboveCap(feeBps_);
        if (arbiterWindow_ > MAX_ARBITER_WINDOW) revert ArbiterWindowTooLong(arbiterWindow_, MAX_ARBITER_WINDOW);
        treasury = treasury_;
        monitor = monitor_;
        feeBps = feeBps_;
        nextId = 1;
        arbiterWindow = arbiterWindow_;
        relay = address(new RentalRelay());
        emit TreasurySet(treasury_);
        emit MonitorSet(monitor_);
        emit FeeSet(feeBps_);
        for (uint256 i = 0; i < tokens_.length; i++) {
            _setTokenAllowed(tokens_[i], true);
        }
    }

    /// Owner: whether NEW rentals may use ERC-20 `token` (running rentals are unaffected). Only tokens that
    /// move exactly the amount asked from the sender belong here (docs/escrow.md "Tokens").
    function setTokenAllowed(address token, bool allowed) external onlyOwner {
        _setTokenAllowed(token, allowed);
    }

    function _setTokenAllowed(address token, bool allowed) private {
        if (token == address(0)) revert ZeroAddress();
        tokenAllowed[token] = allowed;
        emit TokenAllowed(token, allowed);
    }

    /// Owner: where fees go from now on (also the fees already credited, at the next withdrawFees).
    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// Owner: fee for rentals opened from now on, at most MAX_FEE_BPS.
    function setFeeBps(uint16 feeBps_) external onlyOwner {
        if (feeBps_ > MAX_FEE_BPS) revert FeeAboveCap(feeBps_);
        feeBps = feeBps_;
        emit FeeSet(feeBps_);
    }

    /// Owner: uptime-attestation key for rentals opened from now on (address(0) disables attestations).
    function setMonitor(address monitor_) external onlyOwner {
        monitor = monitor_;
        emit MonitorSet(monitor_);
    }

    // ----------------------------------------------------------------------------------------------
    // Offers and opening
    // ----------------------------------------------------------------------------------------------

    /// Provider: make offer `nonce` unusable for new rentals (running rentals are unaffected).
    function cancelOffer(uint64 nonce) external {
        offerCancelled[_msgSender()][nonce] = true;
        emit OfferCancelled(_msgSender(), nonce);
    }

    /// Open a rental from a signed offer, depositing `amount` of `offer.token` (native: msg.value ==
    /// amount; ERC-20: needs allowance). The deposit credited is what actually arrived (fee-on-transfer
    /// tokens). Returns the rental id.
    function open(Offer calldata offer, bytes calldata signature, uint256 amount)
        external
        payable
        nonReentrant
        returns (uint256 id)
    {
        bytes32 offerHash = _checkOffer(offer, signature);
        uint256 received = _pull(offer.token, amount);
        id = _open(offer, offerHash, received);
    }

    /// Like `open` for ERC-20 tokens with EIP-2612: runs `permit(msg.sender, this, amount, deadline, v, r, s)`
    /// first. A failing permit (already used by a front-runner, or unsupported) is ignored: the transfer
    /// then needs an existing allowance.
    function openWithPermit(
        Offer calldata offer,
        bytes calldata signature,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant returns (uint256 id) {
        if (offer.token == address(0)) revert NoPermitForNative();
        bytes32 offerHash = _checkOffer(offer, signature);
        try IERC20Permit(offer.token).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        uint256 received = _pull(offer.token, amount);
        id = _open(offer, offerHash, received);
    }

    function _checkOffer(Offer calldata offer, bytes calldata signature) private view returns (bytes32 offerHash) {
        if (block.timestamp > offer.expiry) revert OfferExpired(offer.expiry);
        if (offer.rate == 0) revert ZeroRate();
        if (offer.payout == address(0)) revert ZeroAddress();
        if (offer.capacity == 0) revert ZeroCapacity();
        if (offer.token != address(0) && !tokenAllowed[offer.token]) revert TokenNotAllowed(offer.token);
        if (offerCancelled[offer.provider][offer.nonce]) revert OfferNonceCancelled(offer.provider, offer.nonce);
        offerHash = _hashTypedDataV4(keccak256(abi.encode(OFFER_TYPEHASH, offer)));
        if (!SignatureChecker.isValidSignatureNowCalldata(offer.provider, offerHash, signature)) {
            revert BadOfferSignature();
        }
    }

    function _open(Offer calldata offer, bytes32 offerHash, uint256 received) private returns (uint256 id) {
        uint256 paidSecs = received * RATE_SCALE / offer.rate;
        if (paidSecs < offer.minSecs) revert DepositBelowMinimum(paidSecs, offer.minSecs);
        if (paidSecs > offer.maxSecs) revert DepositAboveMaximum(paidSecs, offer.maxSecs);
        if (received > MAX_DEPOSIT) revert DepositTooLarge(received);
        uint16 fee = feeBps;
        address mon = monitor;
        if (fee > offer.maxFeeBps) revert FeeAboveOfferMax(fee, offer.maxFeeBps);
        if (mon != offer.monitor) revert MonitorMismatch(mon, offer.monitor);
        uint256 v = _live[offer.provider][offer.specHash];
        uint256 live = v == 0 ? 0 : v - 1;
        if (live >= offer.capacity) revert OfferFull(live, offer.capacity);
        _live[offer.provider][offer.specHash] = live + 2;
        id = nextId;
        nextId = uint64(id + 1);
        Terms memory t = Terms({
            id: uint64(id),
            renter: _msgSender(),
            provider: offer.provider,
            payout: offer.payout,
            token: offer.token,
            arbiter: offer.arbiter,
            monitor: mon,
            rate: offer.rate,
            feeBps: fee,
            interruptible: offer.interruptible,
            noticeSecs: offer.noticeSecs,
            graceSecs: offer.graceSecs,
            disputeSecs: offer.disputeSecs,
            maxSecs: offer.maxSecs,
            epoch: uint40(block.timestamp - 1),
            specHash: offer.specHash
        });
        // deposited = received, segStart = 1 (now, relative to epoch), everything else 0.
        uint256 w = received | (uint256(1) << SEG_AT);
        rentals[keccak256(abi.encode(t))] = w;
        emit Opened(id, _msgSender(), offer.provider, offerHash, offer.specHash, t, w);
    }

    // ----------------------------------------------------------------------------------------------
    // Running rentals
    // ----------------------------------------------------------------------------------------------

    /// Renter: add `amount` to the deposit (native: msg.value == amount). Allowed while running, and after
    /// a runout until paidUntil + graceSecs; after a runout billing restarts now (the gap is not billed).
    function extend(Terms calldata t, uint256 amount) external payable nonReentrant {
        _extend(t, amount);
    }

    /// Like `extend` for ERC-20 tokens with EIP-2612, in one transaction: runs
    /// `permit(msg.sender, this, amount, deadline, v, r, s)` first. A failing permit (already used by a
    /// front-runner, or unsupported) is ignored: the transfer then needs an existing allowance.
    function extendWithPermit(Terms calldata t, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        if (t.token == address(0)) revert NoPermitForNative();
        try IERC20Permit(t.token).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _extend(t, amount);
    }

    function _extend(Terms calldata t, uint256 amount) private {
        (bytes32 key, Rental memory r) = _load(t);
        if (_msgSender() != t.renter) revert NotRenter();
        if (r.endedAt != 0) revert RentalEnded();
        uint256 nowRel = _nowRel(t);
        if (r.mark != 0 && nowRel >= r.mark) revert RentalOver();
        uint256 paidUntil = _paidUntil(t, r);
        if (nowRel > paidUntil + t.graceSecs) revert RentalOver();
        uint256 received = _pull(t.token, amount);
        if (nowRel > paidUntil) {
            // Paused in grace: close the billed segment at paidUntil, restart billing now.
            r.usedSecs += paidUntil - r.segStart;
            r.segStart = nowRel;
        }
        uint256 deposited = r.deposited + received;
        uint256 paidSecs = deposited * RATE_SCALE / t.rate;
        if (paidSecs > t.maxSecs) revert DepositAboveMaximum(paidSecs, t.maxSecs);
        if (deposited > MAX_DEPOSIT) revert DepositTooLarge(deposited);
        r.deposited = deposited;
        uint256 w = _pack(r);
        rentals[key] = w;
        emit Extended(t.id, received, w);
    }

    /// Provider or payout address: pay out what has accrued and is past the dispute lag
    /// (cost(billed - disputeSecs) minus what was paid). After an undisputed end's dispute window it pays
    /// the rest and closes the rental (same as `settle`).
    function claim(Terms calldata t) external nonReentrant {
        (bytes32 key, Rental memory r) = _load(t);
        if (_msgSender() != t.provider && _msgSender() != t.payout) revert NotProvider();
        uint256 nowRel = _nowRel(t);
        if (r.endedAt != 0) {
            if (r.mark != 0) revert RentalDisputed();
            if (nowRel <= r.endedAt + t.disputeSecs) revert NothingToClaim();
            _release(key, t, r);
            return;
        }
        uint256 secs = _lagged(_billed(t, r, nowRel), t.disputeSecs);
        if (_cost(t.rate, secs) <= _cost(t.rate, r.claimedSecs)) revert NothingToClaim();
        (uint256 net, uint256 fee) = _account(t, r, secs);
        uint256 w = _pack(r);
        rentals[key] = w;
        emit Claimed(t.id, net, fee, w);
        _send(t.token, t.payout, net);
    }

    /// Provider of an interruptible rental: start the notice. Billing and access continue until
    /// now + noticeSecs, then the rental can be settled and the renter is refunded the rest.
    function reclaim(Terms calldata t) external nonReentrant {
        (bytes32 key, Rental memory r) = _load(t);
        if (_msgSender() != t.provider) revert NotProvider();
        if (!t.interruptible) revert NotInterruptible();
        if (r.endedAt != 0) revert RentalEnded();
        if (r.mark != 0) revert AlreadyReclaimed();
        r.mark = _nowRel(t) + t.noticeSecs;
        uint256 w = _pack(r);
        rentals[key] = w;
        emit Reclaimed(t.id, w);
    }

    /// Renter: end the rental now. Billing stops at min(now, paidUntil, stopAt); the renter is refunded
    /// the rest, the provider paid what is past the dispute lag, all in this transaction.
    function stop(Terms calldata t) external nonReentrant {
        (bytes32 key, Rental memory r) = _load(t);
        if (_msgSender() != t.renter) revert NotRenter();
        if (r.endedAt != 0) revert RentalEnded();
        (uint256 net, uint256 fee, uint256 refund, uint256 w, bool closed) = _end(key, t, r, _nowRel(t));
        emit Stopped(t.id, net, fee, refund, w);
        if (closed) emit Closed(t.id);
        _payAll(t, net, refund, closed ? _feeOf(t, r.claimedSecs) : 0);
    }

    /// Anyone: move whatever is due when nobody else will.
    ///  - active and over (now > paidUntil + graceSecs, or a reclaim notice has ended): end it like `stop`;
    ///  - ended, undisputed, dispute window over: pay the provider's held share, close;
    ///  - disputed and the arbiter window over (no arbiter: the dispute window over): apply the default
    ///    rule (billing stands), close.
    function settle(Terms calldata t) external nonReentrant {
        (bytes32 key, Rental memory r) = _load(t);
        uint256 nowRel = _nowRel(t);
        if (r.endedAt == 0) {
            bool over = (r.mark != 0 && nowRel >= r.mark) || nowRel > _paidUntil(t, r) + t.graceSecs;
            if (!over) revert NotOver();
            (uint256 net, uint256 fee, uint256 refund, uint256 w, bool closed) = _end(key, t, r, nowRel);
            emit Settled(t.id, net, fee, refund, w);
            if (closed) emit Closed(t.id);
            _payAll(t, net, refund, closed ? _feeOf(t, r.claimedSecs) : 0);
        } else if (r.mark == 0) {
            if (nowRel <= r.endedAt + t.disputeSecs) revert DisputeWindowOpen();
            _release(key, t, r);
        } else {
            // With an arbiter: after its window. Without one nobody can rule, so the default rule applies
            // as soon as the dispute window closes (an attestation may still resolve it until then).
            uint256 deadline = t.arbiter == address(0) ? r.endedAt + t.disputeSecs : r.mark + arbiterWindow;
            if (nowRel <= deadline) revert ArbiterWindowOpen();
            _resolve(key, t, r, r.usedSecs, RULE_DEFAULT);
        }
    }

    // ----------------------------------------------------------------------------------------------
    // Disputes
    // ----------------------------------------------------------------------------------------------

    /// Renter: dispute an ended rental within disputeSecs of its end. Freezes the held share until an
    /// attestation, the arbiter, or (after arbiterWindow) the default rule decides it.
    function dispute(Terms calldata t) external nonReentrant {
        (bytes32 key, Rental memory r) = _load(t);
        if (_msgSender() != t.renter) revert NotRenter();
        if (r.endedAt == 0) revert NotOver();
        if (r.mark != 0) revert RentalDisputed();
        uint256 nowRel = _nowRel(t);
        if (nowRel > r.endedAt + t.disputeSecs) revert DisputeWindowClosed();
        r.mark = nowRel;
        uint256 w = _pack(r);
        rentals[key] = w;
        emit Disputed(t.id, w);
    }

    /// Anyone: resolve a dispute with an EIP-712 `Uptime` attestation signed by the rental's monitor key
    /// for this rental's end: `endedAt` and `secondsObserved` must be the rental's end time and billed
    /// seconds. Fixed rule: the provider is paid for secondsUp seconds (never less than the part already
    /// past the dispute lag).
    function resolveWithAttestation(
        Terms calldata t,
        uint40 endedAt,
        uint32 secondsUp,
        uint32 secondsObserved,
        bytes calldata signature
    ) external nonReentrant {
        (bytes32 key, Rental memory r) = _load(t);
        if (r.endedAt == 0 || r.mark == 0) revert NotDisputed();
        if (endedAt != t.epoch + r.endedAt || secondsObserved != r.usedSecs) {
            revert AttestationNotForThisEnd(t.epoch + r.endedAt, r.usedSecs);
        }
        if (secondsUp > secondsObserved) revert BadAttestation(secondsUp, secondsObserved);
        bytes32 digest = uptimeDigest(t.id, endedAt, secondsUp, secondsObserved);
        if (t.monitor == address(0) || !SignatureChecker.isValidSignatureNowCalldata(t.monitor, digest, signature)) {
            revert BadAttestationSignature();
        }
        _resolve(key, t, r, secondsUp < r.usedSecs ? secondsUp : r.usedSecs, RULE_ATTESTATION);
    }

    /// Arbiter: rule a dispute before disputedAt + arbiterWindow: the provider is paid for
    /// min(providerSecs, billed) seconds (never less than the part already past the dispute lag).
    function rule(Terms calldata t, uint32 providerSecs) external nonReentrant {
        (bytes32 key, Rental memory r) = _load(t);
        if (_msgSender() != t.arbiter) revert NotArbiter();
        if (r.endedAt == 0 || r.mark == 0) revert NotDisputed();
        if (_nowRel(t) > r.mark + arbiterWindow) revert ArbiterWindowClosed();
        _resolve(key, t, r, providerSecs < r.usedSecs ? providerSecs : r.usedSecs, RULE_ARBITER);
    }

    // ----------------------------------------------------------------------------------------------
    // Credits: failed payouts and platform fees
    // ----------------------------------------------------------------------------------------------

    /// Pull everything credited to the caller in `token` (address(0) = native) to `to`. Reverts if the
    /// transfer fails, so the credit stays.
    function withdrawOwed(address token, address to) external nonReentrant {
        uint256 amount = owed[token][_msgSender()];
        if (amount == 0) revert NothingOwed();
        if (to == address(0)) revert ZeroAddress();
        owed[token][_msgSender()] = 0;
        emit Withdrawn(token, _msgSender(), to, amount);
        _sendOrRevert(token, to, amount);
    }

    /// Anyone: send the fees credited in `token` to the treasury. Reverts if the transfer fails, so the
    /// credit stays.
    function withdrawFees(address token) external nonReentrant {
        uint256 amount = fees[token];
        if (amount == 0) revert NothingOwed();
        fees[token] = 0;
        address to = treasury;
        emit FeesWithdrawn(token, to, amount);
        _sendOrRevert(token, to, amount);
    }

    // ----------------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------------

    /// EIP-712 digest a provider signs for `offer`.
    function offerDigest(Offer calldata offer) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(OFFER_TYPEHASH, offer)));
    }

    /// EIP-712 digest the monitor signs for an uptime attestation of a rental that ended at `endedAt`.
    function uptimeDigest(uint256 rentalId, uint40 endedAt, uint32 secondsUp, uint32 secondsObserved)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(UPTIME_TYPEHASH, rentalId, endedAt, secondsUp, secondsObserved))
        );
    }

    /// Rentals of the machine (provider, specHash) that are live now (opened and not yet ended).
    function liveRentals(address provider, bytes32 specHash) external view returns (uint256) {
        uint256 v = _live[provider][specHash];
        return v == 0 ? 0 : v - 1;
    }

    /// The EIP-712 domain separator of this deployment.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// The storage key of the rental with these terms: keccak256(abi.encode(t)).
    function rentalKey(Terms calldata t) external pure returns (bytes32) {
        return keccak256(abi.encode(t));
    }

    /// The current state of the live rental with these terms (reverts UnknownRental if none).
    function stateOf(Terms calldata t) external view returns (State memory) {
        (, Rental memory r) = _load(t);
        return _decode(t, r);
    }

    /// Unpacks a state word (from storage or from an event) of the rental with these terms.
    function decodeState(Terms calldata t, uint256 word) external pure returns (State memory) {
        return _decode(t, _unpack(word));
    }

    /// Live figures of the live rental with these terms at unix time `atTime`: billed seconds, their cost,
    /// what the provider side could claim at that time (gross, before fee), and what is held.
    function quote(Terms calldata t, uint256 atTime)
        external
        view
        returns (uint256 billedSecs, uint256 cost, uint256 claimableGross, uint256 held)
    {
        (, Rental memory r) = _load(t);
        uint256 rel = atTime > t.epoch ? atTime - t.epoch : 0;
        billedSecs = r.endedAt == 0 ? _billed(t, r, rel) : r.usedSecs;
        cost = _cost(t.rate, billedSecs);
        uint256 claimed = _cost(t.rate, r.claimedSecs);
        uint256 lagged = _cost(t.rate, _lagged(billedSecs, t.disputeSecs));
        claimableGross = lagged > claimed ? lagged - claimed : 0;
        held = r.deposited - claimed - (r.endedAt == 0 ? 0 : r.deposited - _cost(t.rate, r.usedSecs));
    }

    // ----------------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------------

    /// The packed state word, unpacked into 256-bit fields (times relative to Terms.epoch).
    struct Rental {
        uint256 deposited;
        uint256 claimedSecs;
        uint256 usedSecs;
        uint256 segStart;
        uint256 mark; // stopAt while active, disputedAt once ended
        uint256 endedAt;
    }

    uint256 private constant CLAIMED_AT = 96;
    uint256 private constant USED_AT = 128;
    uint256 private constant SEG_AT = 160;
    uint256 private constant MARK_AT = 192;
    uint256 private constant ENDED_AT = 224;
    uint256 private constant M32 = 0xffffffff;
    uint256 private constant M96 = (uint256(1) << 96) - 1;
    /// Terms is the first argument of every per-rental function: 16 static words at calldata offset 4.
    uint256 private constant TERMS_AT = 0x04;
    uint256 private constant TERMS_SIZE = 16 * 32;

    /// Hashes the raw calldata words of `t` (a non-canonical encoding cannot match a key of clean values)
    /// and loads the rental; reverts UnknownRental if the slot is empty (never opened, closed, or altered Terms).
    function _load(Terms calldata t) private view returns (bytes32 key, Rental memory r) {
        uint256 o;
        assembly ("memory-safe") {
            o := t
            let p := mload(0x40)
            calldatacopy(p, TERMS_AT, TERMS_SIZE)
            key := keccak256(p, TERMS_SIZE)
        }
        // The decoder must agree on where t lives (the 1st argument).
        assert(o == TERMS_AT);
        uint256 w = rentals[key];
        if (w == 0) revert UnknownRental(t.id);
        r = _unpack(w);
    }

    function _unpack(uint256 w) private pure returns (Rental memory r) {
        r.deposited = w & M96;
        r.claimedSecs = (w >> CLAIMED_AT) & M32;
        r.usedSecs = (w >> USED_AT) & M32;
        r.segStart = (w >> SEG_AT) & M32;
        r.mark = (w >> MARK_AT) & M32;
        r.endedAt = w >> ENDED_AT;
    }

    /// Packs `r`. deposited <= MAX_DEPOSIT and claimedSecs <= usedSecs <= maxSecs are checked where they
    /// grow; times are checked here (TimeOverflow after 2^32 - 1 seconds, ~136 years).
    function _pack(Rental memory r) private pure returns (uint256) {
        if ((r.segStart | r.mark | r.endedAt) > M32) revert TimeOverflow();
        return r.deposited | (r.claimedSecs << CLAIMED_AT) | (r.usedSecs << USED_AT) | (r.segStart << SEG_AT)
            | (r.mark << MARK_AT) | (r.endedAt << ENDED_AT);
    }

    function _decode(Terms calldata t, Rental memory r) private pure returns (State memory s) {
        uint256 e = t.epoch;
        s.deposited = uint128(r.deposited);
        s.claimedSecs = uint32(r.claimedSecs);
        s.claimed = uint128(_cost(t.rate, r.claimedSecs));
        s.usedSecs = uint32(r.usedSecs);
        s.segStart = uint40(e + r.segStart);
        s.paidUntil = uint40(e + _paidUntil(t, r));
        if (r.endedAt == 0) {
            if (r.mark != 0) s.stopAt = uint40(e + r.mark);
        } else {
            s.endedAt = uint40(e + r.endedAt);
            if (r.mark != 0) s.disputedAt = uint40(e + r.mark);
            s.refunded = uint128(r.deposited - _cost(t.rate, r.usedSecs));
        }
    }

    /// Seconds since Terms.epoch now.
    function _nowRel(Terms calldata t) private view returns (uint256) {
        return block.timestamp - t.epoch;
    }

    function _cost(uint256 rate, uint256 secs) private pure returns (uint256) {
        return rate * secs / RATE_SCALE;
    }

    function _lagged(uint256 billedSecs, uint256 lagSecs) private pure returns (uint256) {
        return billedSecs > lagSecs ? billedSecs - lagSecs : 0;
    }

    /// End of the paid time of the current segment (relative). deposited buys paidSecs in total; earlier
    /// segments used usedSecs of them, so paidSecs >= usedSecs always.
    function _paidUntil(Terms calldata t, Rental memory r) private pure returns (uint256) {
        return r.segStart + r.deposited * RATE_SCALE / t.rate - r.usedSecs;
    }

    /// Seconds billed by relative time `at` (active rentals).
    function _billed(Terms calldata t, Rental memory r, uint256 at) private pure returns (uint256) {
        uint256 end = _paidUntil(t, r);
        if (r.mark != 0 && r.mark < end) end = r.mark;
        if (at < end) end = at;
        return end > r.segStart ? r.usedSecs + (end - r.segStart) : r.usedSecs;
    }

    /// Moves the provider side's cumulative paid seconds to `secs` (never backwards) and returns the deltas:
    /// provider net and fee (on cumulative gross, so rounding never depends on how claims are split).
    function _account(Terms calldata t, Rental memory r, uint256 secs) private pure returns (uint256 net, uint256 fee) {
        if (secs < r.claimedSecs) secs = r.claimedSecs; // cannot happen (claims are lagged too); defensive
        uint256 oldGross = _cost(t.rate, r.claimedSecs);
        uint256 newGross = _cost(t.rate, secs);
        fee = newGross * t.feeBps / BPS - oldGross * t.feeBps / BPS;
        net = newGross - oldGross - fee;
        r.claimedSecs = secs;
    }

    /// Ends an active rental at relative time `nowRel`: fixes the billed seconds, refunds the renter, pays
    /// the provider side up to the dispute lag (everything if disputeSecs == 0), frees its place in the
    /// machine's capacity. Stores the new word, or deletes the slot when nothing is held any more; the
    /// caller emits and pays. Never reverts on time: a rental still active 2^32 s after its epoch ends at
    /// the last representable second (its billing ended long before, at paidUntil).
    function _end(bytes32 key, Terms calldata t, Rental memory r, uint256 nowRel)
        private
        returns (uint256 net, uint256 fee, uint256 refund, uint256 w, bool closed)
    {
        uint256 billed = _billed(t, r, nowRel);
        r.usedSecs = billed;
        r.endedAt = nowRel < M32 ? nowRel : M32;
        _live[t.provider][t.specHash] -= 1;
        r.mark = 0; // the stopAt field holds disputedAt from now on
        (net, fee) = _account(t, r, _lagged(billed, t.disputeSecs));
        uint256 billedCost = _cost(t.rate, billed);
        refund = r.deposited - billedCost;
        w = _pack(r);
        closed = _cost(t.rate, r.claimedSecs) == billedCost;
        if (closed) delete rentals[key];
        else rentals[key] = w;
    }

    /// Ended and undisputed past the window: pay the held share to the provider side and close.
    function _release(bytes32 key, Terms calldata t, Rental memory r) private {
        (uint256 net, uint256 fee) = _account(t, r, r.usedSecs);
        delete rentals[key];
        emit Settled(t.id, net, fee, 0, _pack(r));
        emit Closed(t.id);
        _payAll(t, net, 0, _feeOf(t, r.claimedSecs));
    }

    /// Final amounts of a disputed rental: the provider side gets cost(max(awardedSecs, lagged part)),
    /// the renter the rest. usedSecs becomes the final paid seconds. Closes the rental.
    function _resolve(bytes32 key, Terms calldata t, Rental memory r, uint256 awardedSecs, uint8 how) private {
        uint256 floorSecs = _lagged(r.usedSecs, t.disputeSecs);
        uint256 finalSecs = awardedSecs > floorSecs ? awardedSecs : floorSecs;
        (uint256 net, uint256 fee) = _account(t, r, finalSecs);
        // The renter already got deposited - cost(usedSecs) at the end; now the rest above the final cost.
        uint256 refund = _cost(t.rate, r.usedSecs) - _cost(t.rate, r.claimedSecs);
        r.usedSecs = r.claimedSecs;
        delete rentals[key];
        emit Resolved(t.id, how, net, fee, refund, _pack(r));
        emit Closed(t.id);
        _payAll(t, net, refund, _feeOf(t, r.claimedSecs));
    }

    /// Credits `feeCredit` to the treasury (a closing rental's total fee), then pays the provider's net and
    /// the renter's refund (each may fall back to a credit).
    function _payAll(Terms calldata t, uint256 net, uint256 refund, uint256 feeCredit) private {
        address token = t.token;
        if (feeCredit != 0) fees[token] += feeCredit;
        _send(token, t.payout, net);
        _send(token, t.renter, refund);
    }

    /// Total fee of a provider side paid for `claimedSecs` seconds: fee(cost(claimedSecs)).
    function _feeOf(Terms calldata t, uint256 claimedSecs) private pure returns (uint256) {
        return _cost(t.rate, claimedSecs) * t.feeBps / BPS;
    }

    /// Tries to pay; on failure credits `owed[token][to]` so the other parties are never blocked.
    function _send(address token, address to, uint256 amount) private {
        if (amount == 0) return;
        bool ok;
        if (token == address(0)) {
            assembly ("memory-safe") {
                ok := call(NATIVE_SEND_GAS, to, amount, 0, 0, 0, 0)
            }
        } else {
            ok = IERC20(token).trySafeTransfer(to, amount);
        }
        if (!ok) {
            owed[token][to] += amount;
            emit Credited(token, to, amount);
        }
    }

    /// Pays or reverts (withdrawals: the credit stays if the transfer fails).
    function _sendOrRevert(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    /// ERC-2771: from the relay, the renter it appended; from anyone else, the caller itself.
    function _msgSender() internal view override returns (address) {
        if (msg.sender == relay && msg.data.length >= 20) {
            return address(bytes20(msg.data[msg.data.length - 20:]));
        }
        return msg.sender;
    }

    /// Takes a deposit from the immediate caller (the renter, or the relay passing the deposit its intent
    /// took from the renter); returns the amount that actually arrived.
    function _pull(address token, uint256 amount) private returns (uint256 received) {
        if (amount == 0) revert ZeroAmount();
        if (token == address(0)) {
            if (msg.value != amount) revert BadNativeValue(amount, msg.value);
            return amount;
        }
        if (msg.value != 0) revert BadNativeValue(0, msg.value);
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        received = IERC20(token).balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
    }
}

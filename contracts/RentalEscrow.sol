// SPDX-License-Identifier: MIT
//
// RentalEscrow: the non-custodial escrow behind Flopmarket GPU rentals. One deployment per chain.
//
// A provider signs an EIP-712 `Offer` (price, token, durations, notice/grace/dispute windows, arbiter).
// A renter opens a rental from it with a deposit (native coin or ERC-20, optionally via EIP-2612 permit);
// the contract streams payment to the provider per second, refunds the unused rest, and settles disputes
// by fixed rules. Money moves only by these rules: no address, the owner included, can take escrowed funds.
//
// Storage: ONE slot per rental, `commitments[id] = keccak256(abi.encode(Terms, State))`. Callers pass the
// full `Terms` (fixed at open) and current `State` in calldata; every event carries the new `State` (and
// `Opened` the `Terms`), so an indexer or client rebuilds every rental from logs alone. A stale or forged
// struct fails the hash check (`StaleState`). When a rental closes its slot is deleted (gas refund) and it
// can never pay again (`RentalClosed`). See docs/escrow.md for the full ABI and the reasoning.
//
// Money rules (all amounts integers in the token's smallest unit; rates scaled by RATE_SCALE = 1e18):
//   cost(secs)    = floor(rate * secs / 1e18), always on CUMULATIVE billed seconds, so extensions and
//                   partial claims never drift: the payer is rounded in its favour once, not per step.
//   billed(now)   = usedSecs + max(0, min(now, paidUntil, stopAt) - segStart). When the deposit runs out
//                   (now > paidUntil) billing pauses; within `graceSecs` the renter may `extend` and billing
//                   restarts at the extension: the gap is never billed.
//   fee(gross)    = floor(gross * feeBps / 10000) on the cumulative gross paid to the provider side, so
//                   many small claims pay exactly the fee of one big claim. feeBps <= MAX_FEE_BPS (15 %),
//                   fixed per rental at open.
//   dispute bound = provider claims lag by `disputeSecs` billed seconds: at any time the provider side
//                   has received at most cost(max(0, billed - disputeSecs)). After the end the renter may
//                   dispute for `disputeSecs` seconds; a ruling can only move the held part, so it can
//                   always be honoured. Rules: monitor attestation -> provider is paid for seconds up only;
//                   arbiter ruling before `arbiterWindow` ends; otherwise the default rule (billing stands).
//   invariant     = per rental: provider net + fee + refunded + held == deposited, to the unit;
//                   per token: balance of this contract == sum of held + sum of `owed` credits.
//   failed payout = a transfer that fails (blacklisted/paused token, reverting receiver) never blocks the
//                   others: the amount is credited to `owed[token][to]`, pulled later with `withdrawOwed`.
//
// Owner powers (Ownable2Step), none of which can move escrowed funds:
//   setTreasury(addr)   where future fees are sent (fee AMOUNTS are fixed per rental at open);
//   setFeeBps(bps)      fee for NEW rentals, capped at MAX_FEE_BPS;
//   setMonitor(addr)    uptime-attestation key for NEW rentals (each rental keeps the key it opened with).
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

contract RentalEscrow is EIP712, ReentrancyGuardTransient, Ownable2Step {
    using SafeERC20 for IERC20;

    // ----------------------------------------------------------------------------------------------
    // Types
    // ----------------------------------------------------------------------------------------------

    /// What a provider signs (EIP-712 type `Offer`). Many renters may open the same offer until it
    /// expires or its nonce is cancelled.
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
        bytes32 specHash; // hash of the GPU spec document the offer describes
        uint40 expiry; // unix seconds; the offer cannot be opened after it
        uint64 nonce; // cancellable with cancelOffer(nonce)
    }

    /// A rental's fixed terms, written at open, never changed.
    struct Terms {
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
    }

    /// A rental's mutable state. Phase: endedAt == 0 -> active (running, paused in grace, or under
    /// reclaim notice); endedAt != 0 && disputedAt == 0 -> ended; disputedAt != 0 -> disputed;
    /// commitment deleted -> closed.
    struct State {
        uint128 deposited; // all deposits credited (amount actually received)
        uint128 claimed; // gross paid to the provider side so far (provider net + fee)
        uint128 refunded; // paid back to the renter so far
        uint40 segStart; // start of the current billing segment
        uint40 paidUntil; // end of the paid time of the current segment
        uint32 usedSecs; // billed seconds of earlier segments; once ended: all billed seconds
        uint40 stopAt; // 0, or when a reclaim notice ends (billing stops there)
        uint40 endedAt; // 0 while active; when the rental ended on chain
        uint40 disputedAt; // 0, or when the renter disputed
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
    /// Gas forwarded with native-coin payouts; enough for contract wallets, bounds griefing.
    uint256 public constant NATIVE_SEND_GAS = 50_000;

    bytes32 public constant OFFER_TYPEHASH = keccak256(
        "Offer(address provider,address payout,address token,address arbiter,uint128 rate,uint32 minSecs,"
        "uint32 maxSecs,bool interruptible,uint32 noticeSecs,uint32 graceSecs,uint32 disputeSecs,"
        "bytes32 specHash,uint40 expiry,uint64 nonce)"
    );
    bytes32 public constant UPTIME_TYPEHASH =
        keccak256("Uptime(uint256 rentalId,uint32 secondsUp,uint32 secondsObserved)");

    /// How long an arbiter has to rule after a dispute opens; after it the default rule applies.
    uint32 public immutable arbiterWindow;

    // One slot, read together by `open`: monitor | feeBps | nextId.
    address public monitor;
    uint16 public feeBps;
    uint64 public nextId;

    address public treasury;

    /// id -> keccak256(abi.encode(Terms, State)); 0 = unknown or closed.
    mapping(uint256 => bytes32) public commitments;
    /// provider -> offer nonce -> cancelled.
    mapping(address => mapping(uint64 => bool)) public offerCancelled;
    /// token -> account -> amount whose transfer failed, to pull with withdrawOwed.
    mapping(address => mapping(address => uint256)) public owed;

    // ----------------------------------------------------------------------------------------------
    // Events (every state change; see docs/escrow.md for the indexer's view)
    // ----------------------------------------------------------------------------------------------

    event Opened(
        uint256 indexed id,
        address indexed renter,
        address indexed provider,
        bytes32 offerHash,
        bytes32 specHash,
        Terms terms,
        State state
    );
    event Extended(uint256 indexed id, uint256 amount, State state);
    event Claimed(uint256 indexed id, uint256 providerAmount, uint256 feeAmount, State state);
    event Reclaimed(uint256 indexed id, State state);
    event Stopped(uint256 indexed id, uint256 providerAmount, uint256 feeAmount, uint256 refundAmount, State state);
    event Settled(uint256 indexed id, uint256 providerAmount, uint256 feeAmount, uint256 refundAmount, State state);
    event Disputed(uint256 indexed id, State state);
    event Resolved(
        uint256 indexed id,
        uint8 rule,
        uint32 finalSecs,
        uint256 providerAmount,
        uint256 feeAmount,
        uint256 refundAmount,
        State state
    );
    event Closed(uint256 indexed id);
    event Credited(address indexed token, address indexed account, uint256 amount);
    event Withdrawn(address indexed token, address indexed account, address to, uint256 amount);
    event OfferCancelled(address indexed provider, uint64 nonce);
    event TreasurySet(address treasury);
    event FeeSet(uint16 feeBps);
    event MonitorSet(address monitor);

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
    error UnknownRental(uint256 id);
    error RentalClosed(uint256 id);
    error StaleState(uint256 id);
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

    // ----------------------------------------------------------------------------------------------
    // Setup and owner
    // ----------------------------------------------------------------------------------------------

    constructor(address owner_, address treasury_, address monitor_, uint16 feeBps_, uint32 arbiterWindow_)
        EIP712("Flopmarket RentalEscrow", "1")
        Ownable(owner_)
    {
        if (treasury_ == address(0)) revert ZeroAddress();
        if (feeBps_ > MAX_FEE_BPS) revert FeeAboveCap(feeBps_);
        treasury = treasury_;
        monitor = monitor_;
        feeBps = feeBps_;
        nextId = 1;
        arbiterWindow = arbiterWindow_;
        emit TreasurySet(treasury_);
        emit MonitorSet(monitor_);
        emit FeeSet(feeBps_);
    }

    /// Owner: where fees go from now on. Cannot be zero.
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
        offerCancelled[msg.sender][nonce] = true;
        emit OfferCancelled(msg.sender, nonce);
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
        id = nextId;
        nextId = uint64(id + 1);
        Terms memory t = Terms({
            renter: msg.sender,
            provider: offer.provider,
            payout: offer.payout,
            token: offer.token,
            arbiter: offer.arbiter,
            monitor: monitor,
            rate: offer.rate,
            feeBps: feeBps,
            interruptible: offer.interruptible,
            noticeSecs: offer.noticeSecs,
            graceSecs: offer.graceSecs,
            disputeSecs: offer.disputeSecs,
            maxSecs: offer.maxSecs
        });
        // received < (maxSecs + 1) * rate / 1e18 < 2^128 because paidSecs <= maxSecs < 2^32.
        State memory s = State({
            deposited: uint128(received),
            claimed: 0,
            refunded: 0,
            segStart: uint40(block.timestamp),
            paidUntil: uint40(block.timestamp + paidSecs),
            usedSecs: 0,
            stopAt: 0,
            endedAt: 0,
            disputedAt: 0
        });
        commitments[id] = keccak256(abi.encode(t, s));
        emit Opened(id, msg.sender, offer.provider, offerHash, offer.specHash, t, s);
    }

    // ----------------------------------------------------------------------------------------------
    // Running rentals
    // ----------------------------------------------------------------------------------------------

    /// Renter: add `amount` to the deposit (native: msg.value == amount). Allowed while running, and after
    /// a runout until paidUntil + graceSecs; after a runout billing restarts now (the gap is not billed).
    function extend(uint256 id, Terms calldata t, State calldata sIn, uint256 amount)
        external
        payable
        nonReentrant
    {
        _verify(id, t, sIn);
        if (msg.sender != t.renter) revert NotRenter();
        if (sIn.endedAt != 0) revert RentalEnded();
        if (sIn.stopAt != 0 && block.timestamp >= sIn.stopAt) revert RentalOver();
        if (block.timestamp > uint256(sIn.paidUntil) + t.graceSecs) revert RentalOver();
        uint256 received = _pull(t.token, amount);
        State memory s = sIn;
        if (block.timestamp > s.paidUntil) {
            // Paused in grace: close the billed segment at paidUntil, restart billing now.
            s.usedSecs += uint32(s.paidUntil - s.segStart);
            s.segStart = uint40(block.timestamp);
        }
        uint256 deposited = uint256(s.deposited) + received;
        uint256 paidSecs = deposited * RATE_SCALE / t.rate;
        if (paidSecs > t.maxSecs) revert DepositAboveMaximum(paidSecs, t.maxSecs);
        s.deposited = uint128(deposited);
        s.paidUntil = uint40(s.segStart + (paidSecs - s.usedSecs));
        commitments[id] = _hash(s);
        emit Extended(id, received, s);
    }

    /// Provider or payout address: pay out what has accrued and is past the dispute lag
    /// (cost(billed - disputeSecs) minus what was paid). After an undisputed end's dispute window it pays
    /// the rest and closes the rental (same as `settle`).
    function claim(uint256 id, Terms calldata t, State calldata sIn) external nonReentrant {
        _verify(id, t, sIn);
        if (msg.sender != t.provider && msg.sender != t.payout) revert NotProvider();
        if (sIn.disputedAt != 0) revert RentalDisputed();
        State memory s = sIn;
        if (s.endedAt != 0) {
            if (block.timestamp <= uint256(s.endedAt) + t.disputeSecs) revert NothingToClaim();
            _release(id, t, s);
            return;
        }
        uint256 target = _cost(t.rate, _lagged(_billed(s, block.timestamp), t.disputeSecs));
        if (target <= s.claimed) revert NothingToClaim();
        (uint256 net, uint256 fee,) = _account(t, s, target, s.refunded);
        commitments[id] = _hash(s);
        emit Claimed(id, net, fee, s);
        _payAll(t, net, fee, 0);
    }

    /// Provider of an interruptible rental: start the notice. Billing and access continue until
    /// now + noticeSecs, then the rental can be settled and the renter is refunded the rest.
    function reclaim(uint256 id, Terms calldata t, State calldata sIn) external nonReentrant {
        _verify(id, t, sIn);
        if (msg.sender != t.provider) revert NotProvider();
        if (!t.interruptible) revert NotInterruptible();
        if (sIn.endedAt != 0) revert RentalEnded();
        if (sIn.stopAt != 0) revert AlreadyReclaimed();
        State memory s = sIn;
        s.stopAt = uint40(block.timestamp + t.noticeSecs);
        commitments[id] = _hash(s);
        emit Reclaimed(id, s);
    }

    /// Renter: end the rental now. Billing stops at min(now, paidUntil, stopAt); the renter is refunded
    /// the rest, the provider paid what is past the dispute lag, all in this transaction.
    function stop(uint256 id, Terms calldata t, State calldata sIn) external nonReentrant {
        _verify(id, t, sIn);
        if (msg.sender != t.renter) revert NotRenter();
        if (sIn.endedAt != 0) revert RentalEnded();
        State memory s = sIn;
        (uint256 net, uint256 fee, uint256 refund) = _end(t, s);
        bool closed = _store(id, t, s);
        emit Stopped(id, net, fee, refund, s);
        if (closed) emit Closed(id);
        _payAll(t, net, fee, refund);
    }

    /// Anyone: move whatever is due when nobody else will.
    ///  - active and over (now > paidUntil + graceSecs, or a reclaim notice has ended): end it like `stop`;
    ///  - ended, undisputed, dispute window over: pay the provider's held share, close;
    ///  - disputed and the arbiter window over: apply the default rule (billing stands), close.
    function settle(uint256 id, Terms calldata t, State calldata sIn) external nonReentrant {
        _verify(id, t, sIn);
        State memory s = sIn;
        if (s.endedAt == 0) {
            bool over = (s.stopAt != 0 && block.timestamp >= s.stopAt)
                || block.timestamp > uint256(s.paidUntil) + t.graceSecs;
            if (!over) revert NotOver();
            (uint256 net, uint256 fee, uint256 refund) = _end(t, s);
            bool closed = _store(id, t, s);
            emit Settled(id, net, fee, refund, s);
            if (closed) emit Closed(id);
            _payAll(t, net, fee, refund);
        } else if (s.disputedAt == 0) {
            if (block.timestamp <= uint256(s.endedAt) + t.disputeSecs) revert DisputeWindowOpen();
            _release(id, t, s);
        } else {
            if (block.timestamp <= uint256(s.disputedAt) + arbiterWindow) revert ArbiterWindowOpen();
            _resolve(id, t, s, s.usedSecs, RULE_DEFAULT);
        }
    }

    // ----------------------------------------------------------------------------------------------
    // Disputes
    // ----------------------------------------------------------------------------------------------

    /// Renter: dispute an ended rental within disputeSecs of its end. Freezes the held share until an
    /// attestation, the arbiter, or (after arbiterWindow) the default rule decides it.
    function dispute(uint256 id, Terms calldata t, State calldata sIn) external nonReentrant {
        _verify(id, t, sIn);
        if (msg.sender != t.renter) revert NotRenter();
        if (sIn.endedAt == 0) revert NotOver();
        if (sIn.disputedAt != 0) revert RentalDisputed();
        if (block.timestamp > uint256(sIn.endedAt) + t.disputeSecs) revert DisputeWindowClosed();
        State memory s = sIn;
        s.disputedAt = uint40(block.timestamp);
        commitments[id] = _hash(s);
        emit Disputed(id, s);
    }

    /// Anyone: resolve a dispute with an EIP-712 `Uptime` attestation signed by the rental's monitor key.
    /// Fixed rule: the provider is paid for min(secondsUp, billed) seconds (never less than the part
    /// already past the dispute lag).
    function resolveWithAttestation(
        uint256 id,
        Terms calldata t,
        State calldata sIn,
        uint32 secondsUp,
        uint32 secondsObserved,
        bytes calldata signature
    ) external nonReentrant {
        _verify(id, t, sIn);
        if (sIn.disputedAt == 0) revert NotDisputed();
        if (secondsUp > secondsObserved) revert BadAttestation(secondsUp, secondsObserved);
        bytes32 digest = uptimeDigest(id, secondsUp, secondsObserved);
        if (t.monitor == address(0) || !SignatureChecker.isValidSignatureNowCalldata(t.monitor, digest, signature)) {
            revert BadAttestationSignature();
        }
        State memory s = sIn;
        _resolve(id, t, s, secondsUp < s.usedSecs ? secondsUp : s.usedSecs, RULE_ATTESTATION);
    }

    /// Arbiter: rule a dispute before disputedAt + arbiterWindow: the provider is paid for
    /// min(providerSecs, billed) seconds (never less than the part already past the dispute lag).
    function rule(uint256 id, Terms calldata t, State calldata sIn, uint32 providerSecs) external nonReentrant {
        _verify(id, t, sIn);
        if (msg.sender != t.arbiter) revert NotArbiter();
        if (sIn.disputedAt == 0) revert NotDisputed();
        if (block.timestamp > uint256(sIn.disputedAt) + arbiterWindow) revert ArbiterWindowClosed();
        State memory s = sIn;
        _resolve(id, t, s, providerSecs < s.usedSecs ? providerSecs : s.usedSecs, RULE_ARBITER);
    }

    // ----------------------------------------------------------------------------------------------
    // Credits from failed payouts
    // ----------------------------------------------------------------------------------------------

    /// Pull everything credited to msg.sender in `token` (address(0) = native) to `to`. Reverts if the
    /// transfer fails, so the credit stays.
    function withdrawOwed(address token, address to) external nonReentrant {
        uint256 amount = owed[token][msg.sender];
        if (amount == 0) revert NothingOwed();
        if (to == address(0)) revert ZeroAddress();
        owed[token][msg.sender] = 0;
        emit Withdrawn(token, msg.sender, to, amount);
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    // ----------------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------------

    /// EIP-712 digest a provider signs for `offer`.
    function offerDigest(Offer calldata offer) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(OFFER_TYPEHASH, offer)));
    }

    /// EIP-712 digest the monitor signs for an uptime attestation.
    function uptimeDigest(uint256 rentalId, uint32 secondsUp, uint32 secondsObserved) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(UPTIME_TYPEHASH, rentalId, secondsUp, secondsObserved)));
    }

    /// The EIP-712 domain separator of this deployment.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// The commitment stored for (terms, state).
    function commitmentOf(Terms calldata t, State calldata s) external pure returns (bytes32) {
        return keccak256(abi.encode(t, s));
    }

    /// Live figures of an active rental at `atTime`: billed seconds, their cost, what the provider side
    /// could claim now (gross, before fee), and what is held for disputes. Does not verify the commitment.
    function quote(Terms calldata t, State calldata s, uint256 atTime)
        external
        pure
        returns (uint256 billedSecs, uint256 cost, uint256 claimableGross, uint256 held)
    {
        billedSecs = s.endedAt == 0 ? _billed(s, atTime) : s.usedSecs;
        cost = _cost(t.rate, billedSecs);
        uint256 lagged = _cost(t.rate, _lagged(billedSecs, t.disputeSecs));
        claimableGross = lagged > s.claimed ? lagged - s.claimed : 0;
        held = s.deposited - s.claimed - s.refunded;
    }

    // ----------------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------------

    /// Byte offset of `Terms` in the calldata of every per-rental function: f(uint256 id, Terms, State, ...).
    /// Both structs are static, so their ABI encoding is the calldata itself: 13 + 9 words from here.
    uint256 private constant TERMS_AT = 0x24;
    uint256 private constant TERMS_SIZE = 13 * 32;
    uint256 private constant STATE_SIZE = 9 * 32;

    /// keccak256(abi.encode(t, s)) for the calldata `t` and the updated memory `s`, without re-encoding:
    /// copies the Terms words from calldata and the State words from memory (memory structs keep one
    /// cleaned 32-byte word per field, the ABI layout of a static struct).
    function _hash(State memory s) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            calldatacopy(p, TERMS_AT, TERMS_SIZE)
            mcopy(add(p, TERMS_SIZE), s, STATE_SIZE)
            h := keccak256(p, add(TERMS_SIZE, STATE_SIZE))
        }
    }

    /// Reverts unless (t, s) is the current committed state of rental `id`. Hashes the raw calldata words
    /// of (t, s): a non-canonical encoding (dirty high bits) cannot match a commitment of clean values.
    function _verify(uint256 id, Terms calldata t, State calldata s) private view {
        bytes32 c = commitments[id];
        bytes32 h;
        assembly ("memory-safe") {
            let p := mload(0x40)
            calldatacopy(p, TERMS_AT, add(TERMS_SIZE, STATE_SIZE))
            h := keccak256(p, add(TERMS_SIZE, STATE_SIZE))
        }
        // The decoder must agree on where t and s live (they are the 2nd and 3rd arguments).
        assert(_offset(t) == TERMS_AT && _offsetS(s) == TERMS_AT + TERMS_SIZE);
        if (c == h) return;
        if (c != 0) revert StaleState(id);
        if (id != 0 && id < nextId) revert RentalClosed(id);
        revert UnknownRental(id);
    }

    function _offset(Terms calldata t) private pure returns (uint256 o) {
        assembly {
            o := t
        }
    }

    function _offsetS(State calldata s) private pure returns (uint256 o) {
        assembly {
            o := s
        }
    }

    /// Stores the new commitment, or deletes it when nothing is held any more (rental closed).
    function _store(uint256 id, Terms calldata t, State memory s) private returns (bool closed) {
        closed = uint256(s.claimed) + s.refunded == s.deposited;
        if (closed) delete commitments[id];
        else commitments[id] = _hash(s);
    }

    function _cost(uint256 rate, uint256 secs) private pure returns (uint256) {
        return rate * secs / RATE_SCALE;
    }

    function _lagged(uint256 billedSecs, uint256 lagSecs) private pure returns (uint256) {
        return billedSecs > lagSecs ? billedSecs - lagSecs : 0;
    }

    /// Seconds billed by time `atTime` (active rentals).
    function _billed(State memory s, uint256 atTime) private pure returns (uint256) {
        uint256 end = s.paidUntil;
        if (s.stopAt != 0 && s.stopAt < end) end = s.stopAt;
        if (atTime < end) end = atTime;
        return end > s.segStart ? s.usedSecs + (end - s.segStart) : s.usedSecs;
    }

    /// Ends an active rental now: fixes the billed seconds, refunds the renter, pays the provider side
    /// up to the dispute lag (everything if disputeSecs == 0). Updates `s`; the caller stores and pays.
    function _end(Terms calldata t, State memory s) private view returns (uint256 net, uint256 fee, uint256 refund) {
        uint256 billed = _billed(s, block.timestamp);
        s.usedSecs = uint32(billed);
        s.endedAt = uint40(block.timestamp);
        uint256 cost = _cost(t.rate, billed);
        uint256 target = _cost(t.rate, _lagged(billed, t.disputeSecs));
        if (target < s.claimed) target = s.claimed; // cannot happen (claims are lagged too); defensive
        (net, fee, refund) = _account(t, s, target, s.deposited - cost);
    }

    /// Ended and undisputed past the window: pay the held share to the provider side and close.
    function _release(uint256 id, Terms calldata t, State memory s) private {
        (uint256 net, uint256 fee, uint256 refund) = _account(t, s, _cost(t.rate, s.usedSecs), s.refunded);
        delete commitments[id];
        emit Settled(id, net, fee, refund, s);
        emit Closed(id);
        _payAll(t, net, fee, refund);
    }

    /// Final amounts of a disputed rental: the provider side gets cost(max(awardedSecs, lagged part)),
    /// the renter the rest. Closes the rental.
    function _resolve(uint256 id, Terms calldata t, State memory s, uint256 awardedSecs, uint8 how) private {
        uint256 floorSecs = _lagged(s.usedSecs, t.disputeSecs);
        uint256 finalSecs = awardedSecs > floorSecs ? awardedSecs : floorSecs;
        uint256 target = _cost(t.rate, finalSecs);
        if (target < s.claimed) target = s.claimed; // cannot happen; defensive
        (uint256 net, uint256 fee, uint256 refund) = _account(t, s, target, s.deposited - target);
        delete commitments[id];
        emit Resolved(id, how, uint32(finalSecs), net, fee, refund, s);
        emit Closed(id);
        _payAll(t, net, fee, refund);
    }

    /// Moves the cumulative totals to (providerGross, refundTotal) and returns the deltas to pay:
    /// provider net, fee (on cumulative gross, so rounding never depends on how claims are split), refund.
    function _account(Terms calldata t, State memory s, uint256 providerGross, uint256 refundTotal)
        private
        pure
        returns (uint256 net, uint256 fee, uint256 refund)
    {
        uint256 gross = providerGross - s.claimed;
        fee = providerGross * t.feeBps / BPS - uint256(s.claimed) * t.feeBps / BPS;
        net = gross - fee;
        refund = refundTotal - s.refunded;
        s.claimed = uint128(providerGross);
        s.refunded = uint128(refundTotal);
    }

    function _payAll(Terms calldata t, uint256 net, uint256 fee, uint256 refund) private {
        _send(t.token, t.payout, net);
        if (fee != 0) _send(t.token, treasury, fee);
        _send(t.token, t.renter, refund);
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

    /// Takes a deposit from msg.sender; returns the amount that actually arrived.
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

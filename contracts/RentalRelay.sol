// SPDX-License-Identifier: MIT
//
// RentalRelay: gasless rentals. A renter who holds only the rental's ERC-20 token (no gas coin) signs an
// EIP-712 intent (open, extend or stop) plus, for tokens with EIP-2612, a permit for this contract; anyone
// (a relayer) submits them and pays the gas, and is paid back in the rental's token, from the renter's own
// funds, at most the fee the renter signed.
//
// Trust: none new. Each RentalEscrow creates its own relay in its constructor and trusts exactly that
// address as an ERC-2771-style forwarder: a call from the relay names the renter in its last 20 bytes, and
// the relay only ever appends the address that signed the intent it is running. So a relayer can delay or
// refuse an intent, never change it:
//   - the intent names the exact offer (its EIP-712 digest under the escrow's domain) or rental (its
//     storage key, keccak256(abi.encode(Terms))), the amount, the maximum fee, a nonce and a deadline;
//   - the domain is this relay (one per escrow) on this chain, so an intent is void on any other chain or
//     escrow deployment;
//   - each (renter, nonce) runs at most once (`nonceUsed`), a renter may void a nonce (`cancelNonce`), and
//     an intent past its deadline never runs;
//   - the fee is at most `maxFee`, taken from the renter's token balance (open and extend: next to the
//     deposit; stop: after the refund arrived), never from the provider's share or any other rental.
// The escrow treats the renter as the caller in every respect: the rental's `Terms.renter` is the signer,
// refunds go to it, and only its intents may extend or stop it. Deposits pass through this contract within
// the call: it takes `amount` from the renter, the escrow takes it from here, nothing stays (the relay
// approves the escrow once per token; the escrow takes only from its immediate caller, so that allowance
// can only ever move a deposit this relay is passing on).
// The native coin is never relayed: a renter paying in it has gas by definition.
//
// Tokens without EIP-2612 (USDT) need the renter's `approve(relay, ...)` once, which costs gas; with a zero
// `Permit.value` the relay uses that allowance.
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {RentalEscrow} from "./RentalEscrow.sol";

contract RentalRelay is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// An EIP-2612 permit of the rental's token for this contract (value 0: none, use the allowance).
    struct Permit {
        uint256 value;
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// Open a rental from the offer whose escrow EIP-712 digest is `offer`, depositing `amount`.
    struct OpenIntent {
        address renter;
        bytes32 offer;
        uint256 amount;
        uint256 maxFee;
        uint256 nonce;
        uint256 deadline;
    }

    /// Add `amount` to the rental whose storage key is `rental`.
    struct ExtendIntent {
        address renter;
        bytes32 rental;
        uint256 amount;
        uint256 maxFee;
        uint256 nonce;
        uint256 deadline;
    }

    /// Stop the rental whose storage key is `rental`.
    struct StopIntent {
        address renter;
        bytes32 rental;
        uint256 maxFee;
        uint256 nonce;
        uint256 deadline;
    }

    bytes32 public constant OPEN_TYPEHASH = keccak256(
        "Open(address renter,bytes32 offer,uint256 amount,uint256 maxFee,uint256 nonce,uint256 deadline)"
    );
    bytes32 public constant EXTEND_TYPEHASH = keccak256(
        "Extend(address renter,bytes32 rental,uint256 amount,uint256 maxFee,uint256 nonce,uint256 deadline)"
    );
    bytes32 public constant STOP_TYPEHASH =
        keccak256("Stop(address renter,bytes32 rental,uint256 maxFee,uint256 nonce,uint256 deadline)");

    uint8 public constant KIND_OPEN = 1;
    uint8 public constant KIND_EXTEND = 2;
    uint8 public constant KIND_STOP = 3;

    /// The escrow that created this relay and trusts it.
    RentalEscrow public immutable escrow;
    /// renter -> nonce -> used (ran, or cancelled).
    mapping(address => mapping(uint256 => bool)) public nonceUsed;

    /// An intent ran: `fee` of the rental's token went from `renter` to `relayer`.
    event Relayed(
        address indexed renter, uint256 indexed nonce, uint8 kind, uint256 indexed rentalId, address relayer, uint256 fee
    );
    event NonceCancelled(address indexed renter, uint256 nonce);

    error IntentExpired(uint256 deadline);
    error IntentUsed(address renter, uint256 nonce);
    error BadIntentSignature();
    error FeeAboveMax(uint256 fee, uint256 maxFee);
    error WrongOffer();
    error WrongRental();
    error NativeNotRelayed();

    constructor() EIP712("Flopmarket Relay", "1") {
        escrow = RentalEscrow(msg.sender);
    }

    /// Renter: void `nonce`, so no intent signed with it can run.
    function cancelNonce(uint256 nonce) external {
        nonceUsed[msg.sender][nonce] = true;
        emit NonceCancelled(msg.sender, nonce);
    }

    /// Relayer: open `offer` for `it.renter` with `it.amount`, paying the relayer `fee` (<= it.maxFee).
    function openFor(
        OpenIntent calldata it,
        bytes calldata sig,
        RentalEscrow.Offer calldata offer,
        bytes calldata offerSig,
        Permit calldata p,
        uint256 fee
    ) external nonReentrant returns (uint256 id) {
        if (offer.token == address(0)) revert NativeNotRelayed();
        if (escrow.offerDigest(offer) != it.offer) revert WrongOffer();
        _use(it.renter, it.nonce, it.deadline, fee, it.maxFee, openDigest(it), sig);
        _permit(offer.token, it.renter, p);
        _deposit(offer.token, it.renter, it.amount, fee);
        id = abi.decode(_forward(abi.encodeCall(RentalEscrow.open, (offer, offerSig, it.amount)), it.renter), (uint256));
        if (fee != 0) IERC20(offer.token).safeTransfer(msg.sender, fee);
        emit Relayed(it.renter, it.nonce, KIND_OPEN, id, msg.sender, fee);
    }

    /// Relayer: add `it.amount` to rental `t`, paying the relayer `fee` (<= it.maxFee).
    function extendFor(
        ExtendIntent calldata it,
        bytes calldata sig,
        RentalEscrow.Terms calldata t,
        Permit calldata p,
        uint256 fee
    ) external nonReentrant {
        _checkRental(t, it.rental);
        _use(it.renter, it.nonce, it.deadline, fee, it.maxFee, extendDigest(it), sig);
        _permit(t.token, it.renter, p);
        _deposit(t.token, it.renter, it.amount, fee);
        _forward(abi.encodeCall(RentalEscrow.extend, (t, it.amount)), it.renter);
        if (fee != 0) IERC20(t.token).safeTransfer(msg.sender, fee);
        emit Relayed(it.renter, it.nonce, KIND_EXTEND, t.id, msg.sender, fee);
    }

    /// Relayer: stop rental `t`; the refund goes to its renter, then the relayer gets `fee` (<= it.maxFee).
    function stopFor(
        StopIntent calldata it,
        bytes calldata sig,
        RentalEscrow.Terms calldata t,
        Permit calldata p,
        uint256 fee
    ) external nonReentrant {
        _checkRental(t, it.rental);
        _use(it.renter, it.nonce, it.deadline, fee, it.maxFee, stopDigest(it), sig);
        _forward(abi.encodeCall(RentalEscrow.stop, (t)), it.renter);
        _permit(t.token, it.renter, p);
        if (fee != 0) IERC20(t.token).safeTransferFrom(it.renter, msg.sender, fee);
        emit Relayed(it.renter, it.nonce, KIND_STOP, t.id, msg.sender, fee);
    }

    /// The EIP-712 digests a renter signs.
    function openDigest(OpenIntent calldata it) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(OPEN_TYPEHASH, it)));
    }

    function extendDigest(ExtendIntent calldata it) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(EXTEND_TYPEHASH, it)));
    }

    function stopDigest(StopIntent calldata it) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(STOP_TYPEHASH, it)));
    }

    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// The Terms passed are the signed rental's, and it is paid in a token.
    function _checkRental(RentalEscrow.Terms calldata t, bytes32 rental) private pure {
        if (t.token == address(0)) revert NativeNotRelayed();
        if (keccak256(abi.encode(t)) != rental) revert WrongRental();
    }

    /// Checks an intent and marks its nonce used (before any external call).
    function _use(
        address renter,
        uint256 nonce,
        uint256 deadline,
        uint256 fee,
        uint256 maxFee,
        bytes32 digest,
        bytes calldata sig
    ) private {
        if (block.timestamp > deadline) revert IntentExpired(deadline);
        if (fee > maxFee) revert FeeAboveMax(fee, maxFee);
        if (nonceUsed[renter][nonce]) revert IntentUsed(renter, nonce);
        if (!SignatureChecker.isValidSignatureNowCalldata(renter, digest, sig)) revert BadIntentSignature();
        nonceUsed[renter][nonce] = true;
    }

    /// Runs the renter's permit if one is given; a failing one (already used by a front-runner) is ignored:
    /// the transfers then need an existing allowance.
    function _permit(address token, address renter, Permit calldata p) private {
        if (p.value == 0) return;
        try IERC20Permit(token).permit(renter, address(this), p.value, p.deadline, p.v, p.r, p.s) {} catch {}
    }

    /// Takes the deposit and the fee from the renter in one transfer and lets the escrow take the deposit
    /// from here, in this same call (the caller then sends the fee on: nothing stays). The escrow's allowance
    /// is set to the maximum once per token: the escrow only ever takes from its immediate caller, and this
    /// relay calls it only inside these functions, so the allowance can move nothing but these deposits.
    function _deposit(address token, address renter, uint256 amount, uint256 fee) private {
        IERC20(token).safeTransferFrom(renter, address(this), amount + fee);
        if (IERC20(token).allowance(address(this), address(escrow)) < amount) {
            IERC20(token).forceApprove(address(escrow), type(uint256).max);
        }
    }

    /// Calls the escrow with `renter` appended (ERC-2771); bubbles the escrow's revert unchanged.
    function _forward(bytes memory data, address renter) private returns (bytes memory ret) {
        bool ok;
        (ok, ret) = address(escrow).call(abi.encodePacked(data, renter));
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}

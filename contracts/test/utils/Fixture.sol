// SPDX-License-Identifier: MIT
// Shared fixture for RentalEscrow tests: deploys the escrow and dev tokens, builds and signs offers,
// and wraps every escrow call so the test keeps each rental's Terms/State exactly as an off-chain client
// would: by decoding the escrow's events (vm.recordLogs) and unpacking the state word with its own decoder
// (independent of the contract's). After every call it checks the result against the contract's
// `stateOf` view, so events alone are shown to suffice.
pragma solidity ^0.8.30;

import {TestBase, VmLog} from "./Test.sol";
import {RentalEscrow} from "../../RentalEscrow.sol";
import {RentalRelay} from "../../RentalRelay.sol";
import {DevUSDC} from "../../dev/DevUSDC.sol";
import {DevUSDT} from "../../dev/DevUSDT.sol";
import {DevDAI} from "../../dev/DevDAI.sol";

interface IMintable {
    function mint(address to, uint256 amount) external;
    function approve(address spender, uint256 amount) external;
    function balanceOf(address) external view returns (uint256);
}

interface IPermitToken {
    function nonces(address) external view returns (uint256);
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}

abstract contract Fixture is TestBase {
    RentalEscrow internal esc;
    RentalRelay internal rly; // esc's relay
    DevUSDC internal usdc;
    DevUSDT internal usdt;
    DevDAI internal dai;

    uint256 internal constant PROVIDER_KEY = 0xA11CE;
    uint256 internal constant MONITOR_KEY = 0xB0B;
    uint256 internal constant RENTER_KEY = 0xCAFE;
    address internal provider;
    address internal monitor;
    address internal renter;
    address internal constant PAYOUT = address(0x9A1D);
    address internal constant TREASURY = address(0x7EA5);
    address internal constant OWNER = address(0x0E1);
    address internal constant ARBITER = address(0xA4B);
    uint16 internal constant FEE_BPS = 1000; // 10 %
    uint32 internal constant ARB_WINDOW = 7 days;
    uint256 internal constant T0 = 1_700_000_000;
    address internal constant RELAYER = address(0x4E1A);
    bytes32 internal constant PERMIT_TYPEHASH_ =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    uint256 internal relayNonce;
    bytes internal lastRelayCall; // calldata of the last relayed call (replay tests)

    mapping(uint256 => RentalEscrow.Terms) internal T;
    mapping(uint256 => RentalEscrow.State) internal S;
    mapping(uint256 => bool) internal closed;
    // amounts of the last payout event seen
    uint256 internal lastNet;
    uint256 internal lastFee;
    uint256 internal lastRefund;
    uint256 internal lastAmount;

    function setUp() public virtual {
        vm.warp(T0);
        provider = vm.addr(PROVIDER_KEY);
        monitor = vm.addr(MONITOR_KEY);
        renter = vm.addr(RENTER_KEY);
        usdc = new DevUSDC();
        usdt = new DevUSDT();
        dai = new DevDAI();
        esc = new RentalEscrow(OWNER, TREASURY, monitor, FEE_BPS, ARB_WINDOW, devTokens());
        rly = RentalRelay(esc.relay());
    }

    /// The tokens the fixture's escrow allows (the dev tokens; the native coin is always allowed).
    function devTokens() internal view returns (address[] memory a) {
        a = new address[](3);
        a[0] = address(usdc);
        a[1] = address(usdt);
        a[2] = address(dai);
    }

    /// Owner: allow one more token (test mocks).
    function allowToken(address token) internal {
        vm.prank(OWNER);
        esc.setTokenAllowed(token, true);
    }

    /// $/h price in 6-decimal units per hour -> scaled per-second rate.
    function ratePerHour(uint256 unitsPerHour) internal pure returns (uint128) {
        return uint128(unitsPerHour * 1e18 / 3600);
    }

    /// A default offer: 1 USDC/h, 1 min .. 30 days, 10 min grace, 1 h dispute window, arbiter set, the
    /// escrow's monitor, fee up to the cap, and room for many live rentals of its machine (capacity
    /// tests lower it).
    function baseOffer(address token) internal view returns (RentalEscrow.Offer memory o) {
        o = RentalEscrow.Offer({
            provider: provider,
            payout: PAYOUT,
            token: token,
            arbiter: ARBITER,
            rate: ratePerHour(1e6),
            minSecs: 60,
            maxSecs: 30 days,
            interruptible: true,
            noticeSecs: 300,
            graceSecs: 600,
            disputeSecs: 3600,
            specHash: keccak256("H100 80GB"),
            capacity: 1000,
            monitor: esc.monitor(),
            maxFeeBps: 1500,
            expiry: uint40(block.timestamp + 1 days),
            nonce: 1
        });
    }

    function signOffer(RentalEscrow.Offer memory o) internal returns (bytes memory) {
        return signDigest(PROVIDER_KEY, esc.offerDigest(o));
    }

    function fund(address token, address who, uint256 amount) internal {
        if (token == address(0)) vm.deal(who, who.balance + amount);
        else IMintable(token).mint(who, amount);
    }

    function bal(address token, address who) internal view returns (uint256) {
        return token == address(0) ? who.balance : IMintable(token).balanceOf(who);
    }

    /// Funds `who`, approves, opens `o` with `amount`; returns the id. State comes from the events.
    function doOpen(RentalEscrow.Offer memory o, address who, uint256 amount) internal returns (uint256 id) {
        bytes memory sig = signOffer(o);
        fund(o.token, who, amount);
        if (o.token != address(0)) {
            vm.prank(who);
            IMintable(o.token).approve(address(esc), amount);
        }
        vm.recordLogs();
        vm.prank(who);
        id = esc.open{value: o.token == address(0) ? amount : 0}(o, sig, amount);
        sync();
    }

    function doExtend(uint256 id, uint256 amount) internal {
        address token = T[id].token;
        address who = T[id].renter;
        fund(token, who, amount);
        if (token != address(0)) {
            vm.prank(who);
            IMintable(token).approve(address(esc), amount);
        }
        vm.recordLogs();
        vm.prank(who);
        esc.extend{value: token == address(0) ? amount : 0}(T[id], amount);
        sync();
    }

    function doClaim(uint256 id) internal {
        vm.recordLogs();
        vm.prank(T[id].provider);
        esc.claim(T[id]);
        sync();
    }

    function doStop(uint256 id) internal {
        vm.recordLogs();
        vm.prank(T[id].renter);
        esc.stop(T[id]);
        sync();
    }

    function doSettle(uint256 id) internal {
        vm.recordLogs();
        vm.prank(address(0xD00D));
        esc.settle(T[id]);
        sync();
    }

    function doReclaim(uint256 id) internal {
        vm.recordLogs();
        vm.prank(T[id].provider);
        esc.reclaim(T[id]);
        sync();
    }

    function doDispute(uint256 id) internal {
        vm.recordLogs();
        vm.prank(T[id].renter);
        esc.dispute(T[id]);
        sync();
    }

    /// An attestation of rental `id` as it ended (S[id].endedAt), signed with `key`.
    function attest(uint256 id, uint32 up, uint32 observed, uint256 key) internal returns (bytes memory) {
        return signDigest(key, esc.uptimeDigest(id, S[id].endedAt, up, observed));
    }

    /// Resolves with the monitor's attestation of the ended rental: `up` of its billed seconds.
    function doAttest(uint256 id, uint32 up) internal {
        uint32 billed = S[id].usedSecs;
        bytes memory sig = attest(id, up, billed, MONITOR_KEY);
        vm.recordLogs();
        esc.resolveWithAttestation(T[id], S[id].endedAt, up, billed, sig);
        sync();
    }

    function doRule(uint256 id, uint32 secs) internal {
        vm.recordLogs();
        vm.prank(T[id].arbiter);
        esc.rule(T[id], secs);
        sync();
    }

    // ------------------------------------------------------------------ relayed (gasless) calls

    /// esc's relay (kept in storage: a prank or expectRevert must apply to the call after it, not to a getter).
    function relay() internal view returns (RentalRelay) {
        return rly;
    }

    /// What a renter gives the relay for `value` of `token`: an EIP-2612 permit, or (USDT-like, no permit)
    /// an approval sent once by the renter itself, and an empty permit.
    function relayPermit(address token, uint256 key, uint256 value) internal returns (RentalRelay.Permit memory p) {
        address owner = vm.addr(key);
        if (token == address(usdt)) {
            vm.prank(owner);
            IMintable(token).approve(address(relay()), value);
            return p;
        }
        p.value = value;
        p.deadline = block.timestamp + 1 hours;
        bytes32 sh = keccak256(
            abi.encode(PERMIT_TYPEHASH_, owner, address(relay()), value, IPermitToken(token).nonces(owner), p.deadline)
        );
        (p.v, p.r, p.s) = vm.sign(key, keccak256(abi.encodePacked("\x19\x01", IPermitToken(token).DOMAIN_SEPARATOR(), sh)));
    }

    function openIntent(RentalEscrow.Offer memory o, address who, uint256 amount, uint256 maxFee)
        internal
        returns (RentalRelay.OpenIntent memory)
    {
        return RentalRelay.OpenIntent(who, esc.offerDigest(o), amount, maxFee, ++relayNonce, block.timestamp + 1 hours);
    }

    function extendIntent(uint256 id, uint256 amount, uint256 maxFee) internal returns (RentalRelay.ExtendIntent memory) {
        return RentalRelay.ExtendIntent(
            T[id].renter, esc.rentalKey(T[id]), amount, maxFee, ++relayNonce, block.timestamp + 1 hours
        );
    }

    function stopIntent(uint256 id, uint256 maxFee) internal returns (RentalRelay.StopIntent memory) {
        return RentalRelay.StopIntent(T[id].renter, esc.rentalKey(T[id]), maxFee, ++relayNonce, block.timestamp + 1 hours);
    }

    /// Funds the renter of `key` with exactly amount + fee, and RELAYER opens `o` for it with a signed intent.
    function relayOpen(RentalEscrow.Offer memory o, uint256 key, uint256 amount, uint256 fee)
        internal
        returns (uint256 id)
    {
        address who = vm.addr(key);
        bytes memory sig = signOffer(o);
        fund(o.token, who, amount + fee);
        RentalRelay.OpenIntent memory it = openIntent(o, who, amount, fee);
        RentalRelay.Permit memory p = relayPermit(o.token, key, amount + fee);
        bytes memory isig = signDigest(key, relay().openDigest(it));
        lastRelayCall = abi.encodeCall(RentalRelay.openFor, (it, isig, o, sig, p, fee));
        vm.recordLogs();
        vm.prank(RELAYER);
        id = relay().openFor(it, isig, o, sig, p, fee);
        sync();
    }

    function relayExtend(uint256 id, uint256 key, uint256 amount, uint256 fee) internal {
        fund(T[id].token, T[id].renter, amount + fee);
        RentalRelay.ExtendIntent memory it = extendIntent(id, amount, fee);
        RentalRelay.Permit memory p = relayPermit(T[id].token, key, amount + fee);
        bytes memory isig = signDigest(key, relay().extendDigest(it));
        lastRelayCall = abi.encodeCall(RentalRelay.extendFor, (it, isig, T[id], p, fee));
        vm.recordLogs();
        vm.prank(RELAYER);
        relay().extendFor(it, isig, T[id], p, fee);
        sync();
    }

    /// The renter gets `fee` of fresh funds just before, so its balance afterwards is exactly its refund.
    function relayStop(uint256 id, uint256 key, uint256 fee) internal {
        fund(T[id].token, T[id].renter, fee);
        RentalRelay.StopIntent memory it = stopIntent(id, fee);
        RentalRelay.Permit memory p = relayPermit(T[id].token, key, fee);
        bytes memory isig = signDigest(key, relay().stopDigest(it));
        lastRelayCall = abi.encodeCall(RentalRelay.stopFor, (it, isig, T[id], p, fee));
        vm.recordLogs();
        vm.prank(RELAYER);
        relay().stopFor(it, isig, T[id], p, fee);
        sync();
    }

    /// Rebuild Terms/State from the escrow's events, exactly as an indexer would.
    function sync() internal {
        VmLog[] memory logs = vm.getRecordedLogs();
        uint256 last;
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].emitter != address(esc)) continue;
            bytes32 sig = logs[i].topics[0];
            bytes memory d = logs[i].data;
            uint256 id = logs[i].topics.length > 1 ? uint256(logs[i].topics[1]) : 0;
            uint256 w;
            if (sig == RentalEscrow.Opened.selector) {
                RentalEscrow.Terms memory t;
                (,, t, w) = abi.decode(d, (bytes32, bytes32, RentalEscrow.Terms, uint256));
                T[id] = t;
            } else if (sig == RentalEscrow.Extended.selector) {
                (lastAmount, w) = abi.decode(d, (uint256, uint256));
            } else if (sig == RentalEscrow.Claimed.selector) {
                (lastNet, lastFee, w) = abi.decode(d, (uint256, uint256, uint256));
                lastRefund = 0;
            } else if (sig == RentalEscrow.Reclaimed.selector || sig == RentalEscrow.Disputed.selector) {
                w = abi.decode(d, (uint256));
            } else if (sig == RentalEscrow.Stopped.selector || sig == RentalEscrow.Settled.selector) {
                (lastNet, lastFee, lastRefund, w) = abi.decode(d, (uint256, uint256, uint256, uint256));
            } else if (sig == RentalEscrow.Resolved.selector) {
                (, lastNet, lastFee, lastRefund, w) = abi.decode(d, (uint8, uint256, uint256, uint256, uint256));
            } else if (sig == RentalEscrow.Closed.selector) {
                closed[id] = true;
                continue;
            } else {
                continue;
            }
            S[id] = unpack(T[id], w);
            assertEq(esc.decodeState(T[id], w).claimedSecs, S[id].claimedSecs, "contract decoder agrees");
            last = id;
        }
        if (last != 0 && !closed[last]) {
            RentalEscrow.State memory c = esc.stateOf(T[last]);
            assertEq(keccak256(abi.encode(c)), keccak256(abi.encode(S[last])), "events rebuild the stored state");
        }
    }

    /// The packed state word's layout (docs/escrow.md), decoded independently of the contract.
    function unpack(RentalEscrow.Terms memory t, uint256 w) internal pure returns (RentalEscrow.State memory s) {
        uint256 e = t.epoch;
        uint256 dep = w & ((uint256(1) << 96) - 1);
        uint256 cs = (w >> 96) & 0xffffffff;
        uint256 used = (w >> 128) & 0xffffffff;
        uint256 seg = (w >> 160) & 0xffffffff;
        uint256 mark = (w >> 192) & 0xffffffff;
        uint256 ended = w >> 224;
        s.deposited = uint128(dep);
        s.claimedSecs = uint32(cs);
        s.claimed = uint128(uint256(t.rate) * cs / 1e18);
        s.usedSecs = uint32(used);
        s.segStart = uint40(e + seg);
        s.paidUntil = uint40(e + seg + dep * 1e18 / t.rate - used);
        if (ended == 0) {
            if (mark != 0) s.stopAt = uint40(e + mark);
        } else {
            s.endedAt = uint40(e + ended);
            if (mark != 0) s.disputedAt = uint40(e + mark);
            s.refunded = uint128(dep - uint256(t.rate) * used / 1e18);
        }
    }

    /// Everything the treasury has been given: sent to it plus credited in the escrow.
    function treasuryGot(address token) internal view returns (uint256) {
        return bal(token, TREASURY) + esc.fees(token);
    }

    /// The escrow's balance of `token` minus the fee credit (what still belongs to rentals or `owed`).
    function escNet(address token) internal view returns (uint256) {
        return bal(token, address(esc)) - esc.fees(token);
    }

    function held(uint256 id) internal view returns (uint256) {
        if (closed[id]) return 0;
        return uint256(S[id].deposited) - S[id].claimed - S[id].refunded;
    }

    function cost(uint256 id, uint256 secs) internal view returns (uint256) {
        return uint256(T[id].rate) * secs / 1e18;
    }
}

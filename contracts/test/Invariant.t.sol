// SPDX-License-Identifier: MIT
// Invariant tests for RentalEscrow. A handler opens rentals in four tokens (native coin, USDC-like with
// blacklist, USDT-like without return values, DAI-like) and calls open/extend/claim/reclaim/stop/settle/
// dispute/attested resolve/arbiter rule/warp/blacklist in random order. After every step:
//  (1) per rental: provider paid + fee + renter refunded + still held == total deposited, to the unit;
//  (2) per token: escrow balance == sum of held + fees so far of open rentals + sum of credited (owed)
//      amounts + the treasury's fee credit;
//  (3) nobody gets more than the rules give: provider side <= cost(min(paid secs, secs since open)),
//      fee == floor(provider gross * feeBps / 1e4) exactly, refund <= deposited - provider gross;
//  (4) a closed rental never pays again (the handler keeps trying; any success is counted);
//  (5) capacity: rentals open on 3 machines (provider, specHash) with offers of capacity 1..3; the escrow's
//      live count per machine equals the rentals not yet ended, and an open beyond capacity never succeeds;
//  (6) attestations: one signed for any other end time or billed seconds (e.g. while the rental ran, as in
//      the early-attestation attack) never resolves a dispute, and a contract wallet that disputes and
//      resolves in one call gets exactly what the attested rule gives;
//  (7) token behaviours: a token that charges its transfer fee to the sender is never accepted;
//  (8) relayed (gasless) open / extend / stop, mixed with direct calls on the same rentals: the relayer holds
//      exactly the fees it charged, the relay holds nothing, and a replayed intent never runs again
//      ((1)-(5) cover the relayed rentals too: a relayed renter's balance is exactly its refunds).
// forge-std 1.1.2 has no StdInvariant, so targetContracts()/targetSelectors() are declared here.
pragma solidity ^0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {TestBase} from "./utils/Test.sol";
import {RentalEscrow} from "../RentalEscrow.sol";
import {RentalRelay} from "../RentalRelay.sol";
import {SenderFeeToken} from "./utils/Mocks.sol";

contract Handler is Fixture {
    address[4] public tokens;
    uint256[] public ids;
    mapping(uint256 => uint256) public openedAt;
    mapping(uint256 => uint256) public depositedGhost; // measured by the escrow's balance delta
    mapping(uint256 => uint256) public feeGhost; // sum of fee amounts from events
    uint256 public closedPaid; // (4): successful calls on closed rentals
    uint256 public calls;
    mapping(uint256 => uint256) public machineOf; // rental -> machine 0..2
    uint256[3] public liveGhost; // (5) rentals opened and not ended, per machine
    uint256 public overbooked; // (5) opens that succeeded beyond capacity
    uint256 public foreignAttestations; // (6) attestations for another end that resolved a dispute
    uint256 public senderFeeOpens; // (7) opens with a sender-fee token that succeeded
    SenderFeeToken public senderFee;
    mapping(uint256 => uint256) public keyOf; // (8) rental -> its renter's key (relayed rentals)
    mapping(address => uint256) public relayerFees; // (8) fees charged, per token
    uint256 public replays; // (8) replayed intents that ran
    bytes internal lastRelayed; // (8) calldata of the last relayed call that ran
    address internal lastRelayedRenter;
    uint256 public relayedRuns; // (8) relayed calls that ran (the run must exercise them)

    constructor() {
        setUp();
        tokens = [address(0), address(usdc), address(usdt), address(dai)];
        senderFee = new SenderFeeToken();
    }

    function providerAddr() external view returns (address) {
        return provider;
    }

    function machineSpec(uint256 m) public pure returns (bytes32) {
        return keccak256(abi.encode("machine", m));
    }

    /// Keeps liveGhost in step after a call that may have ended rental `id`.
    function noteEnd(uint256 id, bool wasActive) internal {
        if (wasActive && S[id].endedAt != 0) liveGhost[machineOf[id]]--;
    }

    function count() external view returns (uint256) {
        return ids.length;
    }

    function terms(uint256 id) external view returns (RentalEscrow.Terms memory) {
        return T[id];
    }

    function state(uint256 id) external view returns (RentalEscrow.State memory) {
        return S[id];
    }

    function isClosed(uint256 id) external view returns (bool) {
        return closed[id];
    }

    function renterOf(uint256 n) public pure returns (address) {
        return address(uint160(0x100000 + n));
    }

    function payoutOf(uint256 n) public pure returns (address) {
        return address(uint160(0x200000 + n));
    }

    function pick(uint256 seed) internal view returns (uint256) {
        return ids[seed % ids.length];
    }

    function escBal(address token) internal view returns (uint256) {
        return bal(token, address(esc));
    }

    // ------------------------------------------------------------------ actions

    function open(uint256 tokenSeed, uint256 rateSeed, uint256 secsSeed, uint256 paramSeed) external {
        openVia(tokens[tokenSeed % 4], rateSeed, secsSeed, paramSeed, false, 0);
    }

    /// (8) a relayed open in one of the ERC-20 tokens, with a fee of up to 0.1 of a token unit's million.
    function relayedOpen(uint256 tokenSeed, uint256 rateSeed, uint256 secsSeed, uint256 paramSeed, uint256 fee)
        external
    {
        openVia(tokens[1 + tokenSeed % 3], rateSeed, secsSeed, paramSeed, true, bound(fee, 0, 1e5));
    }

    function openVia(address token, uint256 rateSeed, uint256 secsSeed, uint256 paramSeed, bool relayed, uint256 fee)
        internal
    {
        uint256 n = ids.length + 1;
        RentalEscrow.Offer memory o = baseOffer(token);
        o.payout = payoutOf(n);
        o.rate = uint128(bound(rateSeed, 1e12, 1e24));
        o.minSecs = 1;
        o.interruptible = paramSeed % 2 == 0;
        o.noticeSecs = uint32(bound(paramSeed >> 8, 0, 3600));
        o.graceSecs = uint32(bound(paramSeed >> 24, 0, 3600));
        o.disputeSecs = uint32(bound(paramSeed >> 40, 0, 7200));
        o.nonce = uint64(n);
        uint256 m = (paramSeed >> 56) % 3;
        o.specHash = machineSpec(m);
        o.capacity = uint16(1 + (paramSeed >> 64) % 3);
        uint256 secs = bound(secsSeed, 1, 3 days);
        uint256 amount = (secs * o.rate + 1e18 - 1) / 1e18;
        if (amount == 0) return;
        if (liveGhost[m] >= o.capacity) {
            // (5) the machine is full: the open must revert and move nothing.
            // A renter of its own (never one of the rentals'), so refused funds stay out of the books.
            address late = address(uint160(0x300000 + n));
            bytes memory sig = signOffer(o);
            fund(o.token, late, amount);
            if (o.token != address(0)) {
                vm.prank(late);
                IApprove(o.token).approve(address(esc), amount);
            }
            vm.prank(late);
            try esc.open{value: o.token == address(0) ? amount : 0}(o, sig, amount) {
                overbooked++;
            } catch {}
            return;
        }
        uint256 before = escBal(o.token);
        uint256 id;
        if (relayed) {
            uint256 key = 0x500000 + n;
            id = relayOpen(o, key, amount, fee);
            keyOf[id] = key;
            noteRelayed(o.token, fee, T[id].renter);
        } else {
            id = doOpen(o, renterOf(n), amount);
        }
        ids.push(id);
        machineOf[id] = m;
        liveGhost[m]++;
        openedAt[id] = block.timestamp;
        depositedGhost[id] = escBal(o.token) - before;
        calls++;
    }

    /// (7) a token that takes its fee from the sender is refused whatever the offer says.
    function openSenderFee(uint256 amountSeed) external {
        RentalEscrow.Offer memory o = baseOffer(address(senderFee));
        uint256 amount = bound(amountSeed, 1e6, 1e9);
        bytes memory sig = signOffer(o);
        senderFee.mint(address(this), amount * 2);
        senderFee.approve(address(esc), amount * 2);
        try esc.open(o, sig, amount) {
            senderFeeOpens++;
        } catch {}
    }

    /// (6) an attestation signed for another end (while running: endedAt 0; or other billed seconds)
    /// must never resolve the dispute.
    function foreignAttestation(uint256 seed, uint32 up, uint32 shift) external {
        if (ids.length == 0) return;
        uint256 id = pick(seed);
        if (closed[id] || S[id].disputedAt == 0) return;
        uint40 endedAt = shift % 2 == 0 ? 0 : S[id].endedAt;
        uint32 billed = shift % 2 == 0 ? S[id].usedSecs : S[id].usedSecs + uint32(bound(shift, 1, 1000));
        up = uint32(bound(up, 0, billed));
        bytes memory sig = signDigest(MONITOR_KEY, esc.uptimeDigest(id, endedAt, up, billed));
        try esc.resolveWithAttestation(T[id], endedAt, up, billed, sig) {
            foreignAttestations++;
        } catch {}
    }

    /// (6) a contract wallet renter disputes and resolves in one transaction, with a valid attestation of
    /// the end: the attested rule applies (the conservation invariants check the amounts).
    function disputeAndResolve(uint256 seed, uint32 up) external {
        if (ids.length == 0) return;
        uint256 id = pick(seed);
        if (closed[id] || S[id].endedAt == 0 || S[id].disputedAt != 0) return;
        if (block.timestamp > uint256(S[id].endedAt) + T[id].disputeSecs) return;
        doDispute(id);
        doAttest(id, uint32(bound(up, 0, S[id].usedSecs)));
        feeGhost[id] += lastFee;
        calls++;
    }

    function extend(uint256 seed, uint256 amountSeed) external {
        if (ids.length == 0) return;
        uint256 id = pick(seed);
        if (closed[id] || S[id].endedAt != 0) return;
        if (S[id].stopAt != 0 && block.timestamp >= S[id].stopAt) return;
        if (block.timestamp > uint256(S[id].paidUntil) + T[id].graceSecs) return;
        uint256 amount = bound(amountSeed, 1, uint256(T[id].rate) * 1 days / 1e18 + 1);
        uint256 before = escBal(T[id].token);
        doExtend(id, amount);
        depositedGhost[id] += escBal(T[id].token) - before;
        calls++;
    }

    /// (8) relayed extend of a relayed rental.
    function relayedExtend(uint256 seed, uint256 amountSeed, uint256 fee) external {
        if (ids.length == 0) return;
        uint256 id = pick(seed);
        if (keyOf[id] == 0 || closed[id] || S[id].endedAt != 0) return;
        if (S[id].stopAt != 0 && block.timestamp >= S[id].stopAt) return;
        if (block.timestamp > uint256(S[id].paidUntil) + T[id].graceSecs) return;
        uint256 amount = bound(amountSeed, 1, uint256(T[id].rate) * 1 days / 1e18 + 1);
        fee = bound(fee, 0, 1e5);
        uint256 before = escBal(T[id].token);
        relayExtend(id, keyOf[id], amount, fee);
        depositedGhost[id] += escBal(T[id].token) - before;
        noteRelayed(T[id].token, fee, T[id].renter);
        calls++;
    }

    /// (8) relayed stop of a relayed rental.
    function relayedStop(uint256 seed, uint256 fee) external {
        if (ids.length == 0) return;
        uint256 id = pick(seed);
        if (keyOf[id] == 0) return;
        if (closed[id]) return tryClosed(id);
        bool active = S[id].endedAt == 0;
        fee = bound(fee, 0, 1e5);
        relayStop(id, keyOf[id], fee);
        noteRelayed(T[id].token, fee, T[id].renter);
        noteEnd(id, active);
        feeGhost[id] += lastFee;
        calls++;
    }

    /// (8) the last relayed call that ran, sent again by another relayer, while its renter has the funds
    /// and an unlimited allowance for the relay: only the used nonce stands in the way, and must suffice.
    /// The attempt runs in a call that always reverts, so the funds given for it leave no trace.
    function replayRelayed() external {
        if (lastRelayed.length == 0) return;
        try this.replayProbe() {} catch (bytes memory why) {
            if (keccak256(why) == keccak256("replay ran")) replays++;
        }
    }

    function replayProbe() external {
        for (uint256 k = 1; k < 4; k++) {
            fund(tokens[k], lastRelayedRenter, 1e24);
            vm.prank(lastRelayedRenter);
            IApprove(tokens[k]).approve(address(rly), type(uint256).max);
        }
        vm.prank(address(0x4E1B));
        (bool ok,) = address(rly).call(lastRelayed);
        bytes memory flag = ok ? bytes("replay ran") : bytes("replay refused");
        assembly ("memory-safe") {
            revert(add(flag, 32), mload(flag))
        }
    }

    function noteRelayed(address token, uint256 fee, address who) internal {
        relayerFees[token] += fee;
        lastRelayed = lastRelayCall;
        lastRelayedRenter = who;
        relayedRuns++;
    }

    function relayFeesOf(address token) external view returns (uint256) {
        return relayerFees[token];
    }

    function relayAddr() external view returns (address) {
        return address(rly);
    }

    function claim(uint256 seed) external {
        if (ids.length == 0) return;
        uint256 id = pick(seed);
        if (closed[id]) return tryClosed(id);
        doClaim(id);
        feeGhost[id] += lastFee;
        calls++;
    }

    function reclaim(uint256 seed) external {
        if (ids.length == 0) return;
        uint256 id = pick(seed);
        if (closed[id]) return tryClosed(id);
        doReclaim(id);
        calls++;
    }

    function stop(uint256 seed) external {
        if (ids.length == 0) return;
        uint256 id = pick(seed);
        if (closed[id]) return tryClosed(id);
        bool active = S[id].endedAt == 0;
        doStop(id);
        noteEnd(id, active);
        feeGhost[id] += lastFee;
        calls++;
    }

    function settle(uint256 seed) external {
        if (ids.length == 0) return;
        uint256 id = pick(seed);
        if (closed[id]) return tryClosed(id);
        lastFee = 0;
        bool active = S[id].endedAt == 0;
        doSettle(id);
        noteEnd(id, active);
        feeGhost[id] += lastFee;
        calls++;
    }

    function dispute(uint256 seed) external {
        if (ids.length == 0) return;
        uint256 id = pick(seed);
        if (closed[id]) return tryClosed(id);
        doDispute(id);
        calls++;
    }

    function attestResolve(uint256 seed, uint32 up) external {
        if (ids.length == 0) return;
        uint256 id = pick(seed);
        if (closed[id]) return tryClosed(id);
        if (S[id].endedAt == 0 || S[id].disputedAt == 0) return;
        doAttest(id, uint32(bound(up, 0, S[id].usedSecs)));
        feeGhost[id] += lastFee;
        calls++;
    }

    function arbiterRule(uint256 seed, uint32 secs) external {
        if (ids.length == 0) return;
        uint256 id = pick(seed);
        if (closed[id]) return tryClosed(id);
        doRule(id, secs);
        feeGhost[id] += lastFee;
        calls++;
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 4 hours));
    }

    function blacklist(uint256 seed, bool on) external {
        if (ids.length == 0) return;
        uint256 id = ids[seed % ids.length];
        address who = seed % 3 == 0 ? T[id].renter : T[id].payout;
        usdc.setBlacklisted(who, on);
        usdt.setBlacklisted(who, on);
    }

    /// (4): every path on a closed rental must fail.
    function tryClosed(uint256 id) internal {
        RentalEscrow.Terms memory t = T[id];
        vm.prank(t.provider);
        try esc.claim(t) {
            closedPaid++;
        } catch {}
        try esc.settle(t) {
            closedPaid++;
        } catch {}
        vm.prank(t.renter);
        try esc.stop(t) {
            closedPaid++;
        } catch {}
        if (keyOf[id] != 0) {
            RentalRelay.StopIntent memory it = stopIntent(id, 0);
            bytes memory sig = signDigest(keyOf[id], rly.stopDigest(it));
            RentalRelay.Permit memory p;
            vm.prank(RELAYER);
            try rly.stopFor(it, sig, t, p, 0) {
                closedPaid++;
            } catch {}
        }
    }

    // ------------------------------------------------------------------ ghost views for the invariants

    function providerPaid(uint256 id) public view returns (uint256) {
        address p = T[id].payout;
        return bal(T[id].token, p) + esc.owed(T[id].token, p);
    }

    function renterRefunded(uint256 id) public view returns (uint256) {
        address r = T[id].renter;
        return bal(T[id].token, r) + esc.owed(T[id].token, r);
    }

    function heldOf(uint256 id) public view returns (uint256) {
        return held(id);
    }

    function owedTotal(address token) public view returns (uint256 sum) {
        for (uint256 i = 0; i < ids.length; i++) {
            uint256 id = ids[i];
            sum += esc.owed(token, T[id].payout) + esc.owed(token, T[id].renter);
        }
        sum += esc.owed(token, TREASURY) + esc.fees(token);
    }

    function tokenAt(uint256 i) external view returns (address) {
        return tokens[i];
    }

    function escrow() external view returns (RentalEscrow) {
        return esc;
    }
}

struct FuzzSelector {
    address addr;
    bytes4[] selectors;
}

contract RentalEscrowInvariantTest is TestBase {
    Handler internal h;

    function setUp() public {
        h = new Handler();
    }

    function targetContracts() public view returns (address[] memory a) {
        a = new address[](1);
        a[0] = address(h);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory f) {
        bytes4[] memory s = new bytes4[](18);
        s[0] = Handler.open.selector;
        s[1] = Handler.extend.selector;
        s[2] = Handler.claim.selector;
        s[3] = Handler.reclaim.selector;
        s[4] = Handler.stop.selector;
        s[5] = Handler.settle.selector;
        s[6] = Handler.dispute.selector;
        s[7] = Handler.attestResolve.selector;
        s[8] = Handler.arbiterRule.selector;
        s[9] = Handler.warp.selector;
        s[10] = Handler.blacklist.selector;
        s[11] = Handler.openSenderFee.selector;
        s[12] = Handler.foreignAttestation.selector;
        s[13] = Handler.disputeAndResolve.selector;
        s[14] = Handler.relayedOpen.selector;
        s[15] = Handler.relayedExtend.selector;
        s[16] = Handler.relayedStop.selector;
        s[17] = Handler.replayRelayed.selector;
        f = new FuzzSelector[](1);
        f[0] = FuzzSelector(address(h), s);
    }

    /// (1) and (3), per rental.
    function invariant_perRentalConservationAndBounds() public view {
        uint256 n = h.count();
        for (uint256 i = 0; i < n; i++) {
            uint256 id = h.ids(i);
            RentalEscrow.Terms memory t = h.terms(id);
            RentalEscrow.State memory s = h.state(id);
            uint256 dep = h.depositedGhost(id);
            uint256 prov = h.providerPaid(id);
            uint256 fee = h.feeGhost(id);
            uint256 refund = h.renterRefunded(id);
            uint256 heldNow = h.heldOf(id);
            assertEq(prov + fee + refund + heldNow, dep, "(1) paid + fee + refunded + held == deposited");
            assertEq(s.deposited, dep, "(1) state deposited == measured deposits");
            uint256 maxSecs = dep * 1e18 / t.rate;
            uint256 since = block.timestamp - h.openedAt(id);
            if (since < maxSecs) maxSecs = since;
            assertLe(prov + fee, uint256(t.rate) * maxSecs / 1e18, "(3) provider side <= cost(possible secs)");
            assertEq(fee, (prov + fee) * t.feeBps / 10_000, "(3) fee exactly on cumulative gross");
            assertLe(refund, dep - (prov + fee), "(3) refund <= deposited - provider side");
        }
    }

    /// (2) per token.
    function invariant_tokenBalancesMatchHeldPlusOwed() public view {
        RentalEscrow esc = h.escrow();
        for (uint256 k = 0; k < 4; k++) {
            address token = h.tokenAt(k);
            uint256 sum = h.owedTotal(token);
            uint256 n = h.count();
            for (uint256 i = 0; i < n; i++) {
                uint256 id = h.ids(i);
                if (h.terms(id).token != token) continue;
                sum += h.heldOf(id);
                // the fee part of what an open rental has paid out stays in escrow until it closes
                if (!h.isClosed(id)) sum += uint256(h.state(id).claimed) * h.terms(id).feeBps / 10_000;
            }
            uint256 b = token == address(0) ? address(esc).balance : IBal(token).balanceOf(address(esc));
            assertEq(b, sum, "(2) balance == held + owed + fees");
        }
    }

    /// (4), (6), (7)
    function invariant_closedNeverPays() public view {
        assertEq(h.closedPaid(), 0, "(4) closed rental paid again");
        assertEq(h.foreignAttestations(), 0, "(6) an attestation of another end resolved a dispute");
        assertEq(h.senderFeeOpens(), 0, "(7) a sender-fee token was accepted");
    }

    /// (8)
    function invariant_relayerPaidExactlyItsFees() public view {
        for (uint256 k = 1; k < 4; k++) {
            address token = h.tokenAt(k);
            assertEq(IBal(token).balanceOf(address(0x4E1A)), h.relayFeesOf(token), "(8) relayer holds its fees");
            assertEq(IBal(token).balanceOf(h.relayAddr()), 0, "(8) relay holds nothing");
        }
        assertEq(h.replays(), 0, "(8) a replayed intent ran");
    }

    /// (5)
    function invariant_capacityNeverExceeded() public view {
        RentalEscrow esc = h.escrow();
        for (uint256 m = 0; m < 3; m++) {
            assertEq(esc.liveRentals(h.providerAddr(), h.machineSpec(m)), h.liveGhost(m), "(5) live count");
            assertLe(h.liveGhost(m), 3, "(5) never above the largest capacity");
        }
        assertEq(h.overbooked(), 0, "(5) an open beyond capacity succeeded");
    }
}

interface IApprove {
    function approve(address spender, uint256 amount) external;
}

interface IBal {
    function balanceOf(address) external view returns (uint256);
}

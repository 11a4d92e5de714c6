// SPDX-License-Identifier: MIT
// Tests for RentalRelay (gasless rentals): a renter with no gas coin signs intents, RELAYER submits them
// and is paid its fee in the rental's token. Exact balances of every party after open / extend / stop,
// the USDT-like path (approve once, no permit), and the hostile cases: replay, another chain, another
// escrow, expired, fee above the signed maximum, amount changed, another key's signature, a redirected
// refund, a cancelled nonce, the native coin, a spoofed renter suffix from anyone but the relay. Every
// refused call is checked to move nothing.
pragma solidity ^0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {RentalEscrow} from "../RentalEscrow.sol";
import {RentalRelay} from "../RentalRelay.sol";

contract RentalRelayTest is Fixture {
    uint256 constant FEE = 30_000; // 0.03 USDC
    uint256 constant OTHER_KEY = 0xBAD;

    function usdcOffer() internal view returns (RentalEscrow.Offer memory o) {
        o = baseOffer(address(usdc));
        o.disputeSecs = 0;
    }

    /// Everything an attack could move, to compare before and after a refused call.
    function balances() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                usdc.balanceOf(renter),
                usdc.balanceOf(RELAYER),
                usdc.balanceOf(address(esc)),
                usdc.balanceOf(address(relay())),
                usdc.balanceOf(PAYOUT),
                usdc.allowance(renter, address(relay()))
            )
        );
    }

    // ------------------------------------------------------------------ the happy path

    function test_relay_isCreatedByTheEscrowAndBoundToIt() public view {
        assertEq(address(relay().escrow()), address(esc), "relay bound to its escrow");
        assertTrue(esc.relay() != address(0), "escrow knows its relay");
    }

    function test_relay_openExtendStop_exactBalances() public {
        vm.deal(renter, 0);
        RentalEscrow.Offer memory o = usdcOffer();
        uint256 id = relayOpen(o, RENTER_KEY, 1e6, FEE); // 1 h at 1 USDC/h
        assertEq(T[id].renter, renter, "the signer is the renter");
        assertEq(usdc.balanceOf(renter), 0, "deposit and fee taken, nothing else");
        assertEq(usdc.balanceOf(RELAYER), FEE, "relayer got its fee");
        assertEq(usdc.balanceOf(address(esc)), 1e6, "escrow holds the deposit");
        assertEq(usdc.balanceOf(address(relay())), 0, "relay holds nothing");
        assertEq(usdc.allowance(address(relay()), address(esc)), type(uint256).max, "escrow approved once, for good");

        relayExtend(id, RENTER_KEY, 5e5, FEE);
        assertEq(S[id].deposited, 15e5, "extended");
        assertEq(usdc.balanceOf(RELAYER), 2 * FEE, "relayer got the second fee");
        assertEq(usdc.balanceOf(renter), 0, "extend took amount + fee");

        vm.warp(block.timestamp + 1800);
        relayStop(id, RENTER_KEY, FEE);
        uint256 billed = cost(id, 1800); // 0.5 USDC, rounded down once
        assertEq(lastRefund, 15e5 - billed, "refund is the unused rest");
        assertEq(usdc.balanceOf(renter), 15e5 - billed, "renter: refund (the stop fee came from fresh funds)");
        assertEq(usdc.balanceOf(RELAYER), 3 * FEE, "relayer: three fees");
        uint256 fee = billed * FEE_BPS / 10_000;
        assertEq(usdc.balanceOf(PAYOUT), billed - fee, "provider: billed minus platform fee");
        assertEq(esc.fees(address(usdc)), fee, "treasury credit: platform fee");
        assertEq(usdc.balanceOf(address(esc)), fee, "escrow keeps only the fee credit");
        assertTrue(closed[id], "closed");
    }

    function test_relay_stopFeeComesOutOfTheRefund() public {
        RentalEscrow.Offer memory o = usdcOffer();
        uint256 id = relayOpen(o, RENTER_KEY, 1e6, FEE);
        vm.warp(block.timestamp + 360);
        RentalRelay.StopIntent memory it = stopIntent(id, FEE);
        RentalRelay.Permit memory p = relayPermit(address(usdc), RENTER_KEY, FEE);
        bytes memory sig = signDigest(RENTER_KEY, relay().stopDigest(it));
        assertEq(usdc.balanceOf(renter), 0, "renter holds nothing before the stop");
        vm.recordLogs();
        vm.prank(RELAYER);
        relay().stopFor(it, sig, T[id], p, FEE);
        sync();
        assertEq(usdc.balanceOf(renter), 1e6 - cost(id, 360) - FEE, "refund minus the relayer's fee");
        assertEq(usdc.balanceOf(RELAYER), 2 * FEE, "relayer paid for open and stop");
    }

    function test_relay_chargesLessThanTheMaximum() public {
        RentalEscrow.Offer memory o = usdcOffer();
        address who = renter;
        fund(address(usdc), who, 1e6 + FEE);
        RentalRelay.OpenIntent memory it = openIntent(o, who, 1e6, FEE);
        RentalRelay.Permit memory p = relayPermit(address(usdc), RENTER_KEY, 1e6 + FEE);
        bytes memory sig = signDigest(RENTER_KEY, relay().openDigest(it));
        bytes memory offerSig = signOffer(o);
        vm.prank(RELAYER);
        relay().openFor(it, sig, o, offerSig, p, FEE / 3);
        assertEq(usdc.balanceOf(RELAYER), FEE / 3, "relayer charged what it asked");
        assertEq(usdc.balanceOf(renter), FEE - FEE / 3, "renter keeps the rest");
    }

    function test_relay_usdtNeedsOneApproval() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdt));
        o.disputeSecs = 0;
        uint256 id = relayOpen(o, RENTER_KEY, 1e6, FEE);
        assertEq(usdt.balanceOf(RELAYER), FEE, "fee in USDT");
        vm.warp(block.timestamp + 36);
        relayStop(id, RENTER_KEY, FEE);
        assertEq(usdt.balanceOf(renter), 1e6 - cost(id, 36), "refund");
    }

    function test_relay_frontRunPermitStillRuns() public {
        RentalEscrow.Offer memory o = usdcOffer();
        fund(address(usdc), renter, 1e6 + FEE);
        RentalRelay.OpenIntent memory it = openIntent(o, renter, 1e6, FEE);
        RentalRelay.Permit memory p = relayPermit(address(usdc), RENTER_KEY, 1e6 + FEE);
        usdc.permit(renter, address(relay()), p.value, p.deadline, p.v, p.r, p.s);
        bytes memory sig = signDigest(RENTER_KEY, relay().openDigest(it));
        bytes memory offerSig = signOffer(o);
        vm.prank(RELAYER);
        relay().openFor(it, sig, o, offerSig, p, FEE);
        assertEq(usdc.balanceOf(RELAYER), FEE, "ran on the allowance the front-runner set");
    }

    // ------------------------------------------------------------------ hostile cases

    struct Prepared {
        RentalEscrow.Offer o;
        bytes offerSig;
        RentalRelay.OpenIntent it;
        RentalRelay.Permit p;
        bytes sig;
    }

    function prepareOpen() internal returns (Prepared memory x) {
        x.o = usdcOffer();
        x.offerSig = signOffer(x.o);
        fund(address(usdc), renter, 1e6 + FEE);
        x.it = openIntent(x.o, renter, 1e6, FEE);
        x.p = relayPermit(address(usdc), RENTER_KEY, 1e6 + FEE);
        x.sig = signDigest(RENTER_KEY, relay().openDigest(x.it));
    }

    function expectOpenRefused(Prepared memory x, uint256 fee, bytes memory why) internal {
        bytes32 before = balances();
        vm.expectRevert(why);
        vm.prank(RELAYER);
        relay().openFor(x.it, x.sig, x.o, x.offerSig, x.p, fee);
        assertEq(balances(), before, "nothing moved");
    }

    function test_relay_revert_replay() public {
        Prepared memory x = prepareOpen();
        vm.prank(RELAYER);
        relay().openFor(x.it, x.sig, x.o, x.offerSig, x.p, FEE);
        fund(address(usdc), renter, 1e6 + FEE); // even with funds and allowance for a second run
        vm.prank(renter);
        usdc.approve(address(relay()), 1e6 + FEE);
        expectOpenRefused(x, FEE, abi.encodeWithSelector(RentalRelay.IntentUsed.selector, renter, x.it.nonce));
    }

    function test_relay_revert_otherChain() public {
        Prepared memory x = prepareOpen();
        vm.chainId(5);
        // The offer is re-signed for chain 5 so only the intent's domain is wrong.
        x.offerSig = signOffer(x.o);
        x.it.offer = esc.offerDigest(x.o);
        expectOpenRefused(x, FEE, abi.encodeWithSelector(RentalRelay.BadIntentSignature.selector));
    }

    function test_relay_revert_otherEscrow() public {
        Prepared memory x = prepareOpen();
        // The same renter signed for this escrow's relay; a relayer submits it to another deployment's.
        RentalEscrow other = new RentalEscrow(OWNER, TREASURY, monitor, FEE_BPS, ARB_WINDOW, devTokens());
        RentalEscrow mine = esc;
        RentalRelay myRelay = rly;
        esc = other;
        rly = RentalRelay(other.relay());
        x.offerSig = signOffer(x.o);
        x.it.offer = other.offerDigest(x.o);
        vm.prank(renter);
        usdc.approve(address(relay()), 1e6 + FEE);
        bytes32 before = balances();
        vm.expectRevert(RentalRelay.BadIntentSignature.selector);
        vm.prank(RELAYER);
        relay().openFor(x.it, x.sig, x.o, x.offerSig, x.p, FEE);
        assertEq(balances(), before, "nothing moved");
        esc = mine;
        rly = myRelay;
    }

    function test_relay_revert_expired() public {
        Prepared memory x = prepareOpen();
        vm.warp(x.it.deadline + 1); // the offer itself is still open (it expires after a day)
        expectOpenRefused(x, FEE, abi.encodeWithSelector(RentalRelay.IntentExpired.selector, x.it.deadline));
    }

    function test_relay_revert_feeAboveSignedMax() public {
        Prepared memory x = prepareOpen();
        expectOpenRefused(x, FEE + 1, abi.encodeWithSelector(RentalRelay.FeeAboveMax.selector, FEE + 1, FEE));
    }

    function test_relay_revert_amountChanged() public {
        Prepared memory x = prepareOpen();
        x.it.amount = 2e6;
        fund(address(usdc), renter, 1e6);
        expectOpenRefused(x, FEE, abi.encodeWithSelector(RentalRelay.BadIntentSignature.selector));
    }

    function test_relay_revert_maxFeeRaised() public {
        Prepared memory x = prepareOpen();
        x.it.maxFee = FEE * 10;
        expectOpenRefused(x, FEE * 10, abi.encodeWithSelector(RentalRelay.BadIntentSignature.selector));
    }

    function test_relay_revert_otherKey() public {
        Prepared memory x = prepareOpen();
        x.sig = signDigest(OTHER_KEY, relay().openDigest(x.it));
        expectOpenRefused(x, FEE, abi.encodeWithSelector(RentalRelay.BadIntentSignature.selector));
    }

    function test_relay_revert_otherOffer() public {
        Prepared memory x = prepareOpen();
        x.o.rate = x.o.rate * 2; // a dearer offer of the same provider
        x.offerSig = signOffer(x.o);
        expectOpenRefused(x, FEE, abi.encodeWithSelector(RentalRelay.WrongOffer.selector));
    }

    function test_relay_revert_renterSwapped() public {
        // The relayer puts itself in as the renter, so the rental (and its refund) would be its own.
        Prepared memory x = prepareOpen();
        x.it.renter = RELAYER;
        expectOpenRefused(x, FEE, abi.encodeWithSelector(RentalRelay.BadIntentSignature.selector));
    }

    function test_relay_revert_cancelledNonce() public {
        Prepared memory x = prepareOpen();
        vm.prank(renter);
        relay().cancelNonce(x.it.nonce);
        expectOpenRefused(x, FEE, abi.encodeWithSelector(RentalRelay.IntentUsed.selector, renter, x.it.nonce));
    }

    function test_relay_revert_native() public {
        Prepared memory x = prepareOpen();
        x.o = baseOffer(address(0));
        x.offerSig = signOffer(x.o);
        x.it.offer = esc.offerDigest(x.o);
        x.sig = signDigest(RENTER_KEY, relay().openDigest(x.it));
        expectOpenRefused(x, FEE, abi.encodeWithSelector(RentalRelay.NativeNotRelayed.selector));
    }

    function test_relay_escrowRevertBubbles() public {
        Prepared memory x = prepareOpen();
        x.o.capacity = 1;
        x.offerSig = signOffer(x.o);
        x.it.offer = esc.offerDigest(x.o);
        x.sig = signDigest(RENTER_KEY, relay().openDigest(x.it));
        doOpen(x.o, address(0xF00), 1e6); // the machine is now full
        expectOpenRefused(x, FEE, abi.encodeWithSelector(RentalEscrow.OfferFull.selector, 1, 1));
    }

    function test_relay_revert_stopRefundRedirected() public {
        uint256 id = relayOpen(usdcOffer(), RENTER_KEY, 1e6, FEE);
        vm.warp(block.timestamp + 60);
        RentalRelay.StopIntent memory it = stopIntent(id, FEE);
        RentalRelay.Permit memory p = relayPermit(address(usdc), RENTER_KEY, FEE);
        bytes memory sig = signDigest(RENTER_KEY, relay().stopDigest(it));
        // Terms naming the relayer as renter (so the refund would go to it) hash to another rental.
        RentalEscrow.Terms memory t = T[id];
        t.renter = RELAYER;
        bytes32 before = balances();
        vm.expectRevert(RentalRelay.WrongRental.selector);
        vm.prank(RELAYER);
        relay().stopFor(it, sig, t, p, FEE);
        // The intent re-pointed at that rental no longer carries the renter's signature.
        it.rental = esc.rentalKey(t);
        vm.expectRevert(RentalRelay.BadIntentSignature.selector);
        vm.prank(RELAYER);
        relay().stopFor(it, sig, t, p, FEE);
        assertEq(balances(), before, "nothing moved");
        assertEq(esc.stateOf(T[id]).endedAt, 0, "still running");
    }

    function test_relay_revert_extendOfAnotherRental() public {
        uint256 a = relayOpen(usdcOffer(), RENTER_KEY, 1e6, FEE);
        RentalEscrow.Offer memory o2 = usdcOffer();
        o2.nonce = 2;
        uint256 b = relayOpen(o2, RENTER_KEY, 1e6, FEE);
        fund(address(usdc), renter, 5e5 + FEE);
        RentalRelay.ExtendIntent memory it = extendIntent(a, 5e5, FEE);
        RentalRelay.Permit memory p = relayPermit(address(usdc), RENTER_KEY, 5e5 + FEE);
        bytes memory sig = signDigest(RENTER_KEY, relay().extendDigest(it));
        bytes32 before = balances();
        vm.expectRevert(RentalRelay.WrongRental.selector);
        vm.prank(RELAYER);
        relay().extendFor(it, sig, T[b], p, FEE);
        assertEq(balances(), before, "nothing moved");
    }

    function test_relay_revert_stopByAnotherRentersIntent() public {
        uint256 id = relayOpen(usdcOffer(), RENTER_KEY, 1e6, FEE);
        // Another key signs a stop of someone else's rental: its intent names itself, the escrow refuses.
        address other = vm.addr(OTHER_KEY);
        RentalRelay.StopIntent memory it =
            RentalRelay.StopIntent(other, esc.rentalKey(T[id]), FEE, 77, block.timestamp + 60);
        bytes memory sig = signDigest(OTHER_KEY, relay().stopDigest(it));
        RentalRelay.Permit memory p;
        vm.expectRevert(RentalEscrow.NotRenter.selector);
        vm.prank(RELAYER);
        relay().stopFor(it, sig, T[id], p, FEE);
    }

    function test_escrow_ignoresARenterSuffixFromAnyoneButTheRelay() public {
        uint256 id = relayOpen(usdcOffer(), RENTER_KEY, 1e6, FEE);
        bytes memory data = abi.encodePacked(abi.encodeCall(RentalEscrow.stop, (T[id])), renter);
        vm.prank(RELAYER);
        (bool ok, bytes memory ret) = address(esc).call(data);
        assertTrue(!ok, "refused");
        assertEq(bytes4(ret), RentalEscrow.NotRenter.selector, "NotRenter");
    }

    function test_relay_digestsMatchEip712() public view {
        RentalRelay.StopIntent memory it = RentalRelay.StopIntent(renter, bytes32(uint256(7)), 5, 9, 11);
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Flopmarket Relay"),
                keccak256("1"),
                block.chainid,
                address(relay())
            )
        );
        assertEq(relay().domainSeparator(), domain, "domain");
        bytes32 sh = keccak256(
            abi.encode(
                keccak256("Stop(address renter,bytes32 rental,uint256 maxFee,uint256 nonce,uint256 deadline)"),
                it.renter,
                it.rental,
                it.maxFee,
                it.nonce,
                it.deadline
            )
        );
        assertEq(relay().stopDigest(it), keccak256(abi.encodePacked("\x19\x01", domain, sh)), "stop digest");
    }
}

// SPDX-License-Identifier: MIT
// Unit tests for RentalEscrow: every external function, every custom error, and the lessons from the
// anchors' audits (cumulative fee rounding, scaled rates, blacklisting tokens, permit front-running,
// fee-on-transfer tokens, cross-chain replay, re-entrancy through a token and a native receiver).
pragma solidity ^0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {RentalEscrow} from "../RentalEscrow.sol";
import {
    FeeOnTransferToken,
    ReentrantToken,
    ReentrantReceiver,
    RejectingReceiver,
    SenderFeeToken,
    DisputeWallet
} from "./utils/Mocks.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract RentalEscrowTest is Fixture {
    bytes32 constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    // ------------------------------------------------------------------ helpers

    function noDispute(address token) internal view returns (RentalEscrow.Offer memory o) {
        o = baseOffer(token);
        o.disputeSecs = 0;
    }

    /// Fund + approve without opening; returns the signature.
    function prep(RentalEscrow.Offer memory o, address who, uint256 amount) internal returns (bytes memory sig) {
        sig = signOffer(o);
        fund(o.token, who, amount);
        if (o.token != address(0)) {
            vm.prank(who);
            usdcLike(o.token).approve(address(esc), amount);
        }
    }

    function usdcLike(address t) internal pure returns (RentalEscrowTestToken) {
        return RentalEscrowTestToken(t);
    }

    function permitSig(uint256 value, uint256 deadline) internal returns (uint8 v, bytes32 r, bytes32 s) {
        bytes32 structHash =
            keccak256(abi.encode(PERMIT_TYPEHASH, renter, address(esc), value, usdc.nonces(renter), deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash));
        (v, r, s) = vm.sign(RENTER_KEY, digest);
    }

    function err(bytes4 sel) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(sel);
    }

    // ------------------------------------------------------------------ constructor and owner

    function test_constructor_revert_zeroTreasury() public {
        vm.expectRevert(RentalEscrow.ZeroAddress.selector);
        new RentalEscrow(OWNER, address(0), monitor, 100, 1 days, devTokens());
    }

    function test_constructor_revert_feeAboveCap() public {
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.FeeAboveCap.selector, uint16(1501)));
        new RentalEscrow(OWNER, TREASURY, monitor, 1501, 1 days, devTokens());
    }

    function test_owner_setters() public {
        vm.startPrank(OWNER);
        esc.setFeeBps(1500);
        esc.setTreasury(address(0x1234));
        esc.setMonitor(address(0x5678));
        vm.stopPrank();
        assertEq(esc.feeBps(), 1500, "fee");
        assertEq(esc.treasury(), address(0x1234), "treasury");
        assertEq(esc.monitor(), address(0x5678), "monitor");
    }

    function test_owner_revert_feeAboveCap() public {
        vm.prank(OWNER);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.FeeAboveCap.selector, uint16(1501)));
        esc.setFeeBps(1501);
    }

    function test_owner_revert_zeroTreasury() public {
        vm.prank(OWNER);
        vm.expectRevert(RentalEscrow.ZeroAddress.selector);
        esc.setTreasury(address(0));
    }

    function test_owner_revert_notOwner() public {
        bytes memory e = abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this));
        vm.expectRevert(e);
        esc.setFeeBps(1);
        vm.expectRevert(e);
        esc.setTreasury(address(1));
        vm.expectRevert(e);
        esc.setMonitor(address(1));
    }

    function test_owner_feeChangeDoesNotTouchOpenRentals() public {
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.prank(OWNER);
        esc.setFeeBps(1500);
        vm.warp(T0 + 3600);
        doStop(id);
        assertEq(treasuryGot(address(usdc)), 99999, "fee at the rental's 10 %");
    }

    // ------------------------------------------------------------------ open

    function test_open_erc20() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        uint256 id = doOpen(o, renter, 1e6);
        assertEq(id, 1, "first id");
        assertEq(esc.nextId(), 2, "next id");
        assertEq(escNet(address(usdc)), 1e6, "escrow balance");
        assertEq(S[id].deposited, 1e6, "deposited");
        assertEq(S[id].paidUntil, T0 + 3600, "1 USDC at 1 USDC/h = 1 h");
        assertEq(S[id].segStart, T0, "start");
        assertEq(T[id].renter, renter, "renter");
        assertEq(T[id].feeBps, FEE_BPS, "fee fixed at open");
        assertEq(T[id].monitor, monitor, "monitor fixed at open");
        assertEq(T[id].id, id, "id in terms");
        assertEq(T[id].epoch, T0 - 1, "epoch = open time - 1");
        assertEq(esc.rentals(esc.rentalKey(T[id])), 1e6 | (uint256(1) << 160), "packed word: deposited, segStart 1");
        assertEq(esc.rentalKey(T[id]), keccak256(abi.encode(T[id])), "key = hash of evented terms");
    }

    function test_open_native() public {
        uint256 id = doOpen(baseOffer(address(0)), renter, 1e6);
        assertEq(escNet(address(0)), 1e6, "escrow holds coin");
        assertEq(S[id].paidUntil, T0 + 3600, "paid 1 h");
    }

    function test_open_usdtNoReturnValue() public {
        uint256 id = doOpen(baseOffer(address(usdt)), renter, 2e6);
        assertEq(escNet(address(usdt)), 2e6, "escrow holds USDT");
        vm.warp(T0 + 7200 + 601);
        doSettle(id);
        assertEq(usdt.balanceOf(renter), 2e6 - cost(id, 7200), "refund of rounding dust");
        assertEq(usdt.balanceOf(renter), 1, "one unit");
    }

    function test_open_dai18() public {
        RentalEscrow.Offer memory o = baseOffer(address(dai));
        o.rate = uint128(uint256(1e18) * 1e18 / 3600); // 1 DAI/h
        uint256 id = doOpen(o, renter, 1e18);
        assertEq(S[id].paidUntil, T0 + 3600, "1 DAI = 1 h");
    }

    function test_open_offerReusableByManyRenters() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        uint256 a = doOpen(o, renter, 1e6);
        uint256 b = doOpen(o, address(0xBEEF), 1e6);
        assertEq(b, a + 1, "two rentals from one offer");
    }

    function test_open_revert_expired() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        bytes memory sig = prep(o, renter, 1e6);
        vm.warp(uint256(o.expiry) + 1);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.OfferExpired.selector, uint256(o.expiry)));
        esc.open(o, sig, 1e6);
    }

    function test_open_revert_cancelled() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        bytes memory sig = prep(o, renter, 1e6);
        vm.prank(provider);
        esc.cancelOffer(o.nonce);
        assertTrue(esc.offerCancelled(provider, o.nonce), "cancelled");
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.OfferNonceCancelled.selector, provider, o.nonce));
        esc.open(o, sig, 1e6);
    }

    function test_open_revert_wrongSigner() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        prep(o, renter, 1e6);
        bytes memory sig = signDigest(0xBAD, esc.offerDigest(o));
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.BadOfferSignature.selector);
        esc.open(o, sig, 1e6);
    }

    function test_open_revert_tamperedPrice() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        bytes memory sig = prep(o, renter, 1e6);
        o.rate = o.rate / 2; // renter tries a cheaper price than signed
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.BadOfferSignature.selector);
        esc.open(o, sig, 1e6);
    }

    function test_open_revert_crossChainReplay() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        bytes memory sig = prep(o, renter, 1e6);
        vm.chainId(137); // same contract address, another chain
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.BadOfferSignature.selector);
        esc.open(o, sig, 1e6);
    }

    function test_open_revert_otherEscrowReplay() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        bytes memory sig = prep(o, renter, 1e6);
        RentalEscrow other = new RentalEscrow(OWNER, TREASURY, monitor, FEE_BPS, ARB_WINDOW, devTokens());
        vm.prank(renter);
        usdc.approve(address(other), 1e6);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.BadOfferSignature.selector);
        other.open(o, sig, 1e6);
    }

    function test_open_revert_zeroRate() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        o.rate = 0;
        bytes memory sig = prep(o, renter, 1e6);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.ZeroRate.selector);
        esc.open(o, sig, 1e6);
    }

    function test_open_revert_zeroPayout() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        o.payout = address(0);
        bytes memory sig = prep(o, renter, 1e6);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.ZeroAddress.selector);
        esc.open(o, sig, 1e6);
    }

    function test_open_revert_zeroAmount() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        bytes memory sig = prep(o, renter, 1e6);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.ZeroAmount.selector);
        esc.open(o, sig, 0);
    }

    function test_open_revert_nativeValueMismatch() public {
        RentalEscrow.Offer memory o = baseOffer(address(0));
        bytes memory sig = prep(o, renter, 1e6);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.BadNativeValue.selector, uint256(1e6), uint256(5e5)));
        esc.open{value: 5e5}(o, sig, 1e6);
    }

    function test_open_revert_valueWithToken() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        bytes memory sig = prep(o, renter, 1e6);
        vm.deal(renter, 1);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.BadNativeValue.selector, uint256(0), uint256(1)));
        esc.open{value: 1}(o, sig, 1e6);
    }

    function test_open_revert_belowMinimum() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        o.minSecs = 3601;
        bytes memory sig = prep(o, renter, 1e6);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.DepositBelowMinimum.selector, uint256(3600), uint256(3601)));
        esc.open(o, sig, 1e6);
    }

    function test_open_revert_aboveMaximum() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        o.maxSecs = 3599;
        bytes memory sig = prep(o, renter, 1e6);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.DepositAboveMaximum.selector, uint256(3600), uint256(3599)));
        esc.open(o, sig, 1e6);
    }

    function test_open_revert_noAllowance() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        bytes memory sig = signOffer(o);
        fund(address(usdc), renter, 1e6);
        vm.prank(renter);
        vm.expectRevert(); // ERC20InsufficientAllowance from the token
        esc.open(o, sig, 1e6);
    }

    function test_open_feeOnTransferCreditsReceived() public {
        FeeOnTransferToken fot = new FeeOnTransferToken();
        allowToken(address(fot));
        RentalEscrow.Offer memory o = noDispute(address(fot));
        uint256 id = doOpen(o, renter, 2e6);
        assertEq(S[id].deposited, 1_980_000, "credited what arrived (1 % burnt)");
        assertEq(escNet(address(fot)), 1_980_000, "balance matches");
        assertEq(S[id].paidUntil, T0 + 7128, "paid time from the received amount");
        vm.warp(T0 + 10_000);
        doSettle(id);
        assertEq(escNet(address(fot)), 0, "nothing left behind");
    }

    function test_openWithPermit() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        bytes memory sig = signOffer(o);
        fund(address(usdc), renter, 1e6);
        (uint8 v, bytes32 r, bytes32 s) = permitSig(1e6, T0 + 100);
        vm.recordLogs();
        vm.prank(renter);
        uint256 id = esc.openWithPermit(o, sig, 1e6, T0 + 100, v, r, s);
        sync();
        assertEq(S[id].deposited, 1e6, "deposited in one transaction");
    }

    function test_openWithPermit_frontRunPermitStillOpens() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        bytes memory sig = signOffer(o);
        fund(address(usdc), renter, 1e6);
        (uint8 v, bytes32 r, bytes32 s) = permitSig(1e6, T0 + 100);
        // An attacker copies the permit from the mempool and submits it first.
        vm.prank(address(0xEE));
        usdc.permit(renter, address(esc), 1e6, T0 + 100, v, r, s);
        vm.prank(renter);
        uint256 id = esc.openWithPermit(o, sig, 1e6, T0 + 100, v, r, s);
        assertEq(id, 1, "opened through the existing allowance");
        assertEq(escNet(address(usdc)), 1e6, "deposit taken");
    }

    function test_openWithPermit_revert_native() public {
        RentalEscrow.Offer memory o = baseOffer(address(0));
        bytes memory sig = signOffer(o);
        vm.expectRevert(RentalEscrow.NoPermitForNative.selector);
        esc.openWithPermit(o, sig, 1, 0, 0, 0, 0);
    }

    function test_openWithPermit_revert_badPermitNoAllowance() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        bytes memory sig = signOffer(o);
        fund(address(usdc), renter, 1e6);
        vm.prank(renter);
        vm.expectRevert();
        esc.openWithPermit(o, sig, 1e6, T0 + 100, 27, bytes32(uint256(1)), bytes32(uint256(2)));
    }

    function test_cancelOffer_onlyOwnNonces() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        vm.prank(address(0xBAD));
        esc.cancelOffer(o.nonce); // cancels 0xBAD's nonce, not the provider's
        doOpen(o, renter, 1e6);
    }

    // ------------------------------------------------------------------ commitment checks

    function test_revert_unknownRental() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.prank(renter);
        RentalEscrow.Terms memory t = T[id];
        t.id = uint64(id + 1);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.UnknownRental.selector, id + 1));
        esc.stop(t);
    }

    function test_noStaleState_callsUseLatestState() public {
        // No state in calldata: a client with the Terms alone always acts on the current state.
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        RentalEscrow.Terms memory t = T[id];
        vm.warp(T0 + 100);
        doExtend(id, 1e6);
        vm.prank(renter);
        esc.stop(t);
        assertEq(usdc.balanceOf(renter), 2e6 - cost(id, 100), "refund from the extended deposit");
    }

    function test_revert_forgedTerms() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        RentalEscrow.Terms memory t = T[id];
        t.rate = t.rate * 2; // provider pretends a higher price
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.UnknownRental.selector, id));
        esc.claim(t);
        t = T[id];
        t.id = uint64(id + 1); // terms of another (unknown) rental
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.UnknownRental.selector, id + 1));
        esc.claim(t);
    }

    function test_revert_closedRentalNeverPaysAgain() public {
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.warp(T0 + 600);
        doStop(id);
        assertTrue(closed[id], "closed");
        assertEq(esc.rentals(esc.rentalKey(T[id])), 0, "slot deleted");
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.UnknownRental.selector, id));
        esc.claim(T[id]);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.UnknownRental.selector, id));
        esc.settle(T[id]);
    }

    // ------------------------------------------------------------------ extend

    function test_extend_running() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.warp(T0 + 1000);
        doExtend(id, 1e6);
        assertEq(S[id].deposited, 2e6, "deposited");
        assertEq(S[id].paidUntil, T0 + 7200, "paid 2 h from the start");
        assertEq(S[id].segStart, T0, "same segment");
    }

    function test_extend_native() public {
        uint256 id = doOpen(baseOffer(address(0)), renter, 1e6);
        doExtend(id, 1e6);
        assertEq(escNet(address(0)), 2e6, "coin held");
    }

    function test_extend_inGraceGapNotBilled() public {
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.warp(T0 + 3600 + 500); // ran out 500 s ago, grace is 600 s
        (uint256 billed,,,) = esc.quote(T[id], block.timestamp);
        assertEq(billed, 3600, "billing paused at paidUntil");
        doExtend(id, 1e6);
        assertEq(S[id].usedSecs, 3600, "first segment closed");
        assertEq(S[id].segStart, T0 + 4100, "billing restarts at the extension");
        assertEq(S[id].paidUntil, T0 + 4100 + 3600, "the new money buys full time");
        vm.warp(T0 + 4100 + 1800);
        doStop(id);
        // 5400 s billed, the 500 s gap is not.
        assertEq(S[id].usedSecs, 5400, "billed seconds");
        uint256 gross = cost(id, 5400);
        assertEq(usdc.balanceOf(renter), 2e6 - gross, "refund = deposits - cost(billed)");
        assertEq(usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)), gross, "provider side = cost(billed)");
    }

    function test_extendWithPermit() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.warp(T0 + 1000);
        fund(address(usdc), renter, 1e6);
        (uint8 v, bytes32 r, bytes32 s) = permitSig(1e6, T0 + 2000);
        vm.recordLogs();
        vm.prank(renter);
        esc.extendWithPermit(T[id], 1e6, T0 + 2000, v, r, s);
        sync();
        assertEq(S[id].deposited, 2e6, "extended in one transaction, no approve");
        assertEq(S[id].paidUntil, T0 + 7200, "paid 2 h from the start");
        assertEq(usdc.allowance(renter, address(esc)), 0, "no allowance left behind");
    }

    function test_extendWithPermit_frontRunPermitStillExtends() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        fund(address(usdc), renter, 1e6);
        (uint8 v, bytes32 r, bytes32 s) = permitSig(1e6, T0 + 100);
        vm.prank(address(0xEE));
        usdc.permit(renter, address(esc), 1e6, T0 + 100, v, r, s);
        vm.recordLogs();
        vm.prank(renter);
        esc.extendWithPermit(T[id], 1e6, T0 + 100, v, r, s);
        sync();
        assertEq(S[id].deposited, 2e6, "extended through the existing allowance");
    }

    function test_extendWithPermit_revert_native() public {
        uint256 id = doOpen(baseOffer(address(0)), renter, 1e6);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.NoPermitForNative.selector);
        esc.extendWithPermit(T[id], 1, 0, 0, 0, 0);
    }

    function test_extendWithPermit_revert_notRenter() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        (uint8 v, bytes32 r, bytes32 s) = permitSig(1e6, T0 + 100);
        vm.prank(address(0xEE));
        vm.expectRevert(RentalEscrow.NotRenter.selector);
        esc.extendWithPermit(T[id], 1e6, T0 + 100, v, r, s);
    }

    function test_extend_revert_notRenter() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.expectRevert(RentalEscrow.NotRenter.selector);
        esc.extend(T[id], 1);
    }

    function test_extend_revert_ended() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.warp(T0 + 10);
        doStop(id);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.RentalEnded.selector);
        esc.extend(T[id], 1);
    }

    function test_extend_revert_afterGrace() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.warp(T0 + 3600 + 601);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.RentalOver.selector);
        esc.extend(T[id], 1);
    }

    function test_extend_revert_afterNoticeEnd() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        doReclaim(id);
        vm.warp(T0 + 300);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.RentalOver.selector);
        esc.extend(T[id], 1);
    }

    function test_extend_revert_aboveMaximum() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        o.maxSecs = 5000;
        uint256 id = doOpen(o, renter, 1e6);
        fund(address(usdc), renter, 1e6);
        vm.prank(renter);
        usdc.approve(address(esc), 1e6);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.DepositAboveMaximum.selector, uint256(7200), uint256(5000)));
        esc.extend(T[id], 1e6);
    }

    function test_extend_revert_zeroAmount() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.ZeroAmount.selector);
        esc.extend(T[id], 0);
    }

    // ------------------------------------------------------------------ rate scaling and fee rounding

    /// $0.60/h in a 6-decimal token is 166.67 units/s: an unscaled integer rate would bill 166 units/s
    /// (0.4 % short) or 167 (0.2 % over). The scaled rate bills floor(600000 * secs / 3600).
    function test_rateScaling_60CentsPerHour() public {
        RentalEscrow.Offer memory o = noDispute(address(usdc));
        o.rate = ratePerHour(600_000);
        uint256 id = doOpen(o, renter, 600_000);
        assertEq(S[id].paidUntil, T0 + 3600, "0.60 buys exactly 1 h");
        vm.warp(T0 + 7);
        doClaim(id);
        assertEq(lastNet + lastFee, 1166, "7 s = floor(7 * 166.67) = 1166 units");
        vm.warp(T0 + 3600);
        doStop(id);
        assertEq(usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)), 599_999, "1 h = 599999 units");
        assertEq(usdc.balanceOf(renter), 1, "1 unit of rounding back to the payer");
    }

    /// Charging on cumulative seconds: one deposit vs. the same money in many extensions bills the same.
    function test_rateScaling_extensionsDoNotDrift() public {
        RentalEscrow.Offer memory o = noDispute(address(usdc));
        o.rate = ratePerHour(600_000);
        uint256 a = doOpen(o, renter, 1_000_000);
        uint256 b = doOpen(o, address(0xB0), 100_000);
        for (uint256 i = 0; i < 9; i++) {
            vm.warp(block.timestamp + 300);
            doExtend(b, 100_000);
        }
        assertEq(S[a].paidUntil, S[b].paidUntil, "same paid time");
        vm.warp(T0 + 5000);
        doStop(a);
        uint256 paidA = usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc));
        doStop(b);
        uint256 paidB = usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)) - paidA;
        assertEq(paidA, paidB, "no drift across extensions");
        assertEq(paidA, uint256(o.rate) * 5000 / 1e18, "cost(total seconds)");
    }

    /// 100 one-second claims of 9 units at 10 % fee: a per-claim fee would round to 0 each time.
    function test_fee_cumulativeManySmallClaims() public {
        RentalEscrow.Offer memory o = noDispute(address(usdc));
        o.rate = 9e18; // 9 units/s
        o.minSecs = 1;
        uint256 a = doOpen(o, renter, 9000);
        uint256 b = doOpen(o, address(0xB0), 9000);
        uint256 feeA;
        for (uint256 i = 1; i <= 100; i++) {
            vm.warp(T0 + i);
            doClaim(a);
            feeA += lastFee;
        }
        doClaim(b);
        assertEq(feeA, 90, "many small claims pay the full fee");
        assertEq(lastFee, 90, "one big claim pays the same fee");
    }

    // ------------------------------------------------------------------ claim

    function test_claim_lagsByDisputeWindow() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 1800);
        vm.prank(provider);
        vm.expectRevert(RentalEscrow.NothingToClaim.selector);
        esc.claim(T[id]);
        vm.warp(T0 + 7200);
        doClaim(id);
        assertEq(lastNet + lastFee, cost(id, 3600), "claims 7200 - 3600 s");
        assertEq(lastFee, cost(id, 3600) / 10, "10 % fee");
        assertEq(usdc.balanceOf(PAYOUT), lastNet, "payout paid");
        assertEq(treasuryGot(address(usdc)), 0, "fee stays with the open rental");
        assertEq(escNet(address(usdc)), 10e6 - lastNet, "escrow keeps held + fee");
        vm.warp(T0 + 36_000 + 601); // ran out and grace over: settle ends it
        doSettle(id);
        vm.warp(block.timestamp + 3601); // dispute window over: settle releases the rest and closes
        doSettle(id);
        assertTrue(closed[id], "closed");
        assertEq(treasuryGot(address(usdc)), cost(id, 36_000) / 10, "whole fee credited at close");
        assertEq(esc.fees(address(usdc)), cost(id, 36_000) / 10, "as a credit");
    }

    function test_claim_byPayoutAddress() public {
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.warp(T0 + 100);
        vm.recordLogs();
        vm.prank(PAYOUT);
        esc.claim(T[id]);
        sync();
        assertEq(S[id].claimed, cost(id, 100), "claimed");
    }

    function test_claim_revert_notProvider() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.NotProvider.selector);
        esc.claim(T[id]);
    }

    function test_claim_revert_nothingTwiceSameSecond() public {
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.warp(T0 + 100);
        doClaim(id);
        vm.prank(provider);
        vm.expectRevert(RentalEscrow.NothingToClaim.selector);
        esc.claim(T[id]);
    }

    function test_claim_revert_endedWithinWindow() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        vm.prank(provider);
        vm.expectRevert(RentalEscrow.NothingToClaim.selector);
        esc.claim(T[id]);
    }

    function test_claim_afterWindowReleasesHeldShare() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        assertEq(held(id), cost(id, 7200) - cost(id, 3600), "last hour held");
        vm.warp(block.timestamp + 3601);
        doClaim(id);
        assertTrue(closed[id], "closed");
        assertEq(usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)), cost(id, 7200), "paid in full");
        assertEq(escNet(address(usdc)), 0, "nothing left behind");
    }

    function test_claim_revert_disputed() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        doDispute(id);
        vm.prank(provider);
        vm.expectRevert(RentalEscrow.RentalDisputed.selector);
        esc.claim(T[id]);
    }

    // ------------------------------------------------------------------ reclaim (interruptible)

    function test_reclaim_noticeThenRefund() public {
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.warp(T0 + 600);
        doReclaim(id);
        assertEq(S[id].stopAt, T0 + 900, "notice of 300 s");
        vm.warp(T0 + 800);
        vm.expectRevert(RentalEscrow.NotOver.selector);
        esc.settle(T[id]);
        vm.warp(T0 + 2000);
        doSettle(id);
        assertEq(S[id].usedSecs, 900, "billed through the notice, not after");
        assertEq(usdc.balanceOf(renter), 1e6 - cost(id, 900), "renter refunded the rest");
        assertTrue(closed[id], "closed");
    }

    function test_reclaim_revert_notProvider() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.NotProvider.selector);
        esc.reclaim(T[id]);
    }

    function test_reclaim_revert_notInterruptible() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        o.interruptible = false;
        uint256 id = doOpen(o, renter, 1e6);
        vm.prank(provider);
        vm.expectRevert(RentalEscrow.NotInterruptible.selector);
        esc.reclaim(T[id]);
    }

    function test_reclaim_revert_twice() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        doReclaim(id);
        vm.prank(provider);
        vm.expectRevert(RentalEscrow.AlreadyReclaimed.selector);
        esc.reclaim(T[id]);
    }

    function test_reclaim_revert_ended() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.warp(T0 + 10);
        doStop(id);
        vm.prank(provider);
        vm.expectRevert(RentalEscrow.RentalEnded.selector);
        esc.reclaim(T[id]);
    }

    // ------------------------------------------------------------------ stop

    function test_stop_paysAllThreeAndCloses() public {
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.warp(T0 + 1800);
        doStop(id);
        uint256 gross = cost(id, 1800);
        assertEq(usdc.balanceOf(PAYOUT), gross - gross / 10, "provider net");
        assertEq(treasuryGot(address(usdc)), gross / 10, "fee");
        assertEq(usdc.balanceOf(renter), 1e6 - gross, "refund");
        assertEq(escNet(address(usdc)), 0, "nothing left behind");
        assertTrue(closed[id], "closed");
    }

    function test_stop_holdsDisputeShare() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 5000);
        doStop(id);
        assertEq(usdc.balanceOf(renter), 10e6 - cost(id, 5000), "refund now");
        assertEq(lastNet + lastFee, cost(id, 1400), "provider paid up to the lag");
        assertEq(escNet(address(usdc)), cost(id, 5000) - cost(id, 1400) + lastFee, "held for the window + fee");
        assertTrue(!closed[id], "not closed yet");
    }

    function test_stop_inGraceBillsToPaidUntil() public {
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.warp(T0 + 3600 + 300);
        doStop(id);
        assertEq(S[id].usedSecs, 3600, "billing stopped at paidUntil");
    }

    function test_stop_revert_notRenter() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.prank(provider);
        vm.expectRevert(RentalEscrow.NotRenter.selector);
        esc.stop(T[id]);
    }

    function test_stop_revert_twice() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 5000);
        doStop(id);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.RentalEnded.selector);
        esc.stop(T[id]);
    }

    // ------------------------------------------------------------------ settle

    function test_settle_revert_notOver() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.warp(T0 + 3600 + 600); // last second of grace
        vm.expectRevert(RentalEscrow.NotOver.selector);
        esc.settle(T[id]);
    }

    function test_settle_afterGraceByAnyone() public {
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.warp(T0 + 3600 + 601);
        doSettle(id);
        assertEq(S[id].usedSecs, 3600, "billed to paidUntil");
        assertTrue(closed[id], "closed");
        assertEq(escNet(address(usdc)), 0, "nothing left behind");
    }

    function test_settle_revert_disputeWindowOpen() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 5000);
        doStop(id);
        vm.warp(block.timestamp + 3600);
        vm.expectRevert(RentalEscrow.DisputeWindowOpen.selector);
        esc.settle(T[id]);
    }

    function test_settle_releaseAfterWindow() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 5000);
        doStop(id);
        vm.warp(block.timestamp + 3601);
        doSettle(id);
        assertTrue(closed[id], "closed");
        assertEq(usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)), cost(id, 5000), "provider side paid in full");
        assertEq(treasuryGot(address(usdc)), cost(id, 5000) / 10, "fee on the cumulative amount");
    }

    function test_settle_revert_arbiterWindowOpen() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 5000);
        doStop(id);
        doDispute(id);
        vm.warp(block.timestamp + ARB_WINDOW);
        vm.expectRevert(RentalEscrow.ArbiterWindowOpen.selector);
        esc.settle(T[id]);
    }

    function test_settle_defaultRuleAfterArbiterDeadline() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 5000);
        doStop(id);
        doDispute(id);
        vm.warp(block.timestamp + ARB_WINDOW + 1);
        doSettle(id);
        assertTrue(closed[id], "funds never stuck");
        assertEq(usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)), cost(id, 5000), "default: billing stands");
        assertEq(escNet(address(usdc)), 0, "nothing left behind");
    }

    // ------------------------------------------------------------------ disputes

    function test_dispute_revert_notRenter() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 5000);
        doStop(id);
        vm.prank(provider);
        vm.expectRevert(RentalEscrow.NotRenter.selector);
        esc.dispute(T[id]);
    }

    function test_dispute_revert_notEnded() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.NotOver.selector);
        esc.dispute(T[id]);
    }

    function test_dispute_revert_twice() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 5000);
        doStop(id);
        doDispute(id);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.RentalDisputed.selector);
        esc.dispute(T[id]);
    }

    function test_dispute_revert_windowClosed() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 5000);
        doStop(id);
        vm.warp(block.timestamp + 3601);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.DisputeWindowClosed.selector);
        esc.dispute(T[id]);
    }

    function test_attestation_paysSecondsUpOnly() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        doDispute(id);
        doAttest(id, 5000);
        assertTrue(closed[id], "closed");
        assertEq(usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)), cost(id, 5000), "paid for 5000 s up");
        assertEq(usdc.balanceOf(renter), 10e6 - cost(id, 5000), "renter gets the rest");
        assertEq(escNet(address(usdc)), 0, "nothing left behind");
    }

    function test_attestation_boundedByClaimLag() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doClaim(id); // provider took cost(3600) already
        doStop(id);
        doDispute(id);
        doAttest(id, 1000);
        assertEq(usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)), cost(id, 3600), "never below what was claimable");
        assertEq(usdc.balanceOf(renter), 10e6 - cost(id, 3600), "renter refunded the held part");
    }

    function test_attestation_revert_upAboveObserved() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        doDispute(id);
        bytes memory sig = attest(id, 7201, 7200, MONITOR_KEY);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.BadAttestation.selector, uint32(7201), uint32(7200)));
        esc.resolveWithAttestation(T[id], S[id].endedAt, 7201, 7200, sig);
    }

    function test_attestation_revert_wrongKey() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        doDispute(id);
        bytes memory sig = attest(id, 0, 7200, RENTER_KEY);
        vm.expectRevert(RentalEscrow.BadAttestationSignature.selector);
        esc.resolveWithAttestation(T[id], S[id].endedAt, 0, 7200, sig);
    }

    function test_attestation_revert_otherRentalsAttestation() public {
        uint256 a = doOpen(baseOffer(address(usdc)), renter, 10e6);
        uint256 b = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(b);
        doDispute(b);
        bytes memory sig = attest(a, 0, 7200, MONITOR_KEY);
        vm.expectRevert(RentalEscrow.BadAttestationSignature.selector);
        esc.resolveWithAttestation(T[b], S[b].endedAt, 0, 7200, sig);
    }

    function test_attestation_revert_noMonitor() public {
        vm.prank(OWNER);
        esc.setMonitor(address(0));
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        doDispute(id);
        bytes memory sig = attest(id, 0, 7200, MONITOR_KEY);
        vm.expectRevert(RentalEscrow.BadAttestationSignature.selector);
        esc.resolveWithAttestation(T[id], S[id].endedAt, 0, 7200, sig);
    }

    function test_attestation_revert_notDisputed() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        bytes memory sig = attest(id, 0, 7200, MONITOR_KEY);
        vm.expectRevert(RentalEscrow.NotDisputed.selector);
        esc.resolveWithAttestation(T[id], S[id].endedAt, 0, 7200, sig);
    }

    function test_attestation_monitorRotationOnlyForNewRentals() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.prank(OWNER);
        esc.setMonitor(address(0x1));
        vm.warp(T0 + 7200);
        doStop(id);
        doDispute(id);
        doAttest(id, 7000); // still the key the rental opened with
        assertTrue(closed[id], "resolved with the original key");
    }

    function test_rule_arbiter() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        doDispute(id);
        doRule(id, 6000);
        assertEq(usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)), cost(id, 6000), "arbiter's seconds");
        assertEq(usdc.balanceOf(renter), 10e6 - cost(id, 6000), "rest refunded");
    }

    function test_rule_cappedAtBilled() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        doDispute(id);
        doRule(id, type(uint32).max);
        assertEq(usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)), cost(id, 7200), "never above billed");
    }

    function test_rule_revert_notArbiter() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        doDispute(id);
        vm.prank(renter);
        vm.expectRevert(RentalEscrow.NotArbiter.selector);
        esc.rule(T[id], 0);
    }

    function test_rule_revert_notDisputed() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        vm.prank(ARBITER);
        vm.expectRevert(RentalEscrow.NotDisputed.selector);
        esc.rule(T[id], 0);
    }

    function test_rule_revert_afterDeadline() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        doDispute(id);
        vm.warp(block.timestamp + ARB_WINDOW + 1);
        vm.prank(ARBITER);
        vm.expectRevert(RentalEscrow.ArbiterWindowClosed.selector);
        esc.rule(T[id], 0);
    }

    // ------------------------------------------------------------------ blacklisting and credits

    function test_blacklistedProviderDoesNotBlockRenter() public {
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.warp(T0 + 1800);
        usdc.setBlacklisted(PAYOUT, true);
        doStop(id); // provider payout fails, renter is refunded anyway
        uint256 gross = cost(id, 1800);
        assertEq(usdc.balanceOf(renter), 1e6 - gross, "renter refunded");
        assertEq(esc.owed(address(usdc), PAYOUT), gross - gross / 10, "provider credited");
        assertEq(escNet(address(usdc)), gross - gross / 10, "credit is still held");
        vm.prank(PAYOUT);
        esc.withdrawOwed(address(usdc), address(0x5AFE));
        assertEq(usdc.balanceOf(address(0x5AFE)), gross - gross / 10, "pulled to another address");
        assertEq(esc.owed(address(usdc), PAYOUT), 0, "credit cleared");
    }

    function test_blacklistedRenterDoesNotBlockProvider() public {
        uint256 id = doOpen(noDispute(address(usdt)), renter, 1e6);
        vm.warp(T0 + 1800);
        usdt.setBlacklisted(renter, true);
        doStop(id);
        assertEq(usdt.balanceOf(PAYOUT), lastNet, "provider paid");
        assertEq(esc.owed(address(usdt), renter), lastRefund, "renter credited");
    }

    function test_withdrawOwed_revert_nothing() public {
        vm.expectRevert(RentalEscrow.NothingOwed.selector);
        esc.withdrawOwed(address(usdc), address(this));
    }

    function test_withdrawOwed_revert_zeroTo() public {
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.warp(T0 + 1800);
        usdc.setBlacklisted(PAYOUT, true);
        doStop(id);
        vm.prank(PAYOUT);
        vm.expectRevert(RentalEscrow.ZeroAddress.selector);
        esc.withdrawOwed(address(usdc), address(0));
    }

    function test_withdrawOwed_revert_nativeTransferFailed() public {
        RejectingReceiver rej = new RejectingReceiver();
        RentalEscrow.Offer memory o = noDispute(address(0));
        o.payout = address(rej);
        uint256 id = doOpen(o, renter, 1e6);
        vm.warp(T0 + 1800);
        doStop(id);
        assertEq(esc.owed(address(0), address(rej)), lastNet, "rejected coin credited");
        assertEq(renter.balance, 1e6 - cost(id, 1800), "renter refunded anyway");
        vm.prank(address(rej));
        vm.expectRevert(RentalEscrow.TransferFailed.selector);
        esc.withdrawOwed(address(0), address(rej));
        vm.prank(address(rej));
        esc.withdrawOwed(address(0), address(0xC0FFEE));
        assertEq(address(0xC0FFEE).balance, lastNet, "pulled elsewhere");
    }

    // ------------------------------------------------------------------ fee credit, packed state, limits

    function test_withdrawFees_anyoneSendsToTreasury() public {
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.warp(T0 + 3600);
        doStop(id); // closes (no dispute window): its whole fee is credited
        uint256 fee = cost(id, 3600) / 10;
        assertEq(esc.fees(address(usdc)), fee, "credited at close");
        assertEq(usdc.balanceOf(TREASURY), 0, "not sent yet");
        vm.recordLogs();
        vm.prank(address(0xD00D));
        esc.withdrawFees(address(usdc));
        assertEq(usdc.balanceOf(TREASURY), fee, "sent to the treasury");
        assertEq(esc.fees(address(usdc)), 0, "credit cleared");
        assertEq(usdc.balanceOf(address(esc)), 0, "nothing left behind");
        vm.expectRevert(RentalEscrow.NothingOwed.selector);
        esc.withdrawFees(address(usdc));
    }

    function test_withdrawFees_followsTreasuryAndKeepsCreditOnFailure() public {
        uint256 id = doOpen(noDispute(address(0)), renter, 1e6);
        vm.warp(T0 + 3600);
        doStop(id);
        uint256 fee = cost(id, 3600) / 10;
        RejectingReceiver rej = new RejectingReceiver();
        vm.prank(OWNER);
        esc.setTreasury(address(rej));
        vm.expectRevert(RentalEscrow.TransferFailed.selector);
        esc.withdrawFees(address(0));
        assertEq(esc.fees(address(0)), fee, "credit stays");
        vm.prank(OWNER);
        esc.setTreasury(TREASURY);
        esc.withdrawFees(address(0));
        assertEq(TREASURY.balance, fee, "the current treasury gets it");
    }

    function test_fee_creditedOncePerRentalEqualsSumOfPayoutFees() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        uint256 feeSum;
        vm.warp(T0 + 5000);
        doClaim(id);
        feeSum += lastFee;
        vm.warp(T0 + 9000);
        doClaim(id);
        feeSum += lastFee;
        assertEq(esc.fees(address(usdc)), 0, "nothing credited while open");
        vm.warp(T0 + 12_000);
        doStop(id);
        feeSum += lastFee;
        vm.warp(block.timestamp + 3601);
        doClaim(id); // window over: releases the rest and closes
        feeSum += lastFee;
        assertTrue(closed[id], "closed");
        assertEq(esc.fees(address(usdc)), feeSum, "credit == sum of the payout events' fees");
        assertEq(feeSum, cost(id, 12_000) / 10, "== fee of the cumulative gross");
    }

    function test_open_revert_depositTooLarge() public {
        RentalEscrow.Offer memory o = baseOffer(address(dai));
        o.rate = type(uint128).max; // a huge price so the amount still buys few seconds
        o.minSecs = 1;
        o.maxSecs = type(uint32).max;
        uint256 amount = uint256(type(uint96).max) + 1;
        bytes memory sig = prep(o, renter, amount);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.DepositTooLarge.selector, amount));
        esc.open(o, sig, amount);
    }

    function test_extend_revert_depositTooLarge() public {
        RentalEscrow.Offer memory o = baseOffer(address(dai));
        o.rate = type(uint128).max;
        o.minSecs = 1;
        o.maxSecs = type(uint32).max;
        uint256 id = doOpen(o, renter, type(uint96).max);
        vm.warp(T0 + 1);
        fund(address(dai), renter, 1);
        vm.prank(renter);
        dai.approve(address(esc), 1);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.DepositTooLarge.selector, uint256(type(uint96).max) + 1));
        esc.extend(T[id], 1);
    }

    function test_views_stateOfAndDecodeState() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 100);
        doReclaim(id);
        RentalEscrow.State memory st = esc.stateOf(T[id]);
        assertEq(st.stopAt, T0 + 400, "stopAt");
        assertEq(st.paidUntil, T0 + 36_000, "paidUntil derived");
        vm.warp(T0 + 500);
        doSettle(id);
        doDispute(id);
        st = esc.stateOf(T[id]);
        assertEq(st.endedAt, T0 + 500, "endedAt");
        assertEq(st.disputedAt, T0 + 500, "disputedAt in the stopAt field once ended");
        assertEq(st.stopAt, 0, "stopAt cleared at the end");
        assertEq(st.usedSecs, 400, "billed to the notice end");
        assertEq(st.refunded, 10e6 - cost(id, 400), "refunded derived");
        uint256 w = esc.rentals(esc.rentalKey(T[id]));
        assertEq(keccak256(abi.encode(esc.decodeState(T[id], w))), keccak256(abi.encode(st)), "decode == stateOf");
        RentalEscrow.Terms memory t = T[id];
        t.id = 99;
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.UnknownRental.selector, 99));
        esc.stateOf(t);
    }

    function test_resolve_usedSecsBecomesAwarded() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        doDispute(id);
        doRule(id, 5000);
        assertEq(S[id].usedSecs, 5000, "final word: usedSecs = awarded");
        assertEq(S[id].claimedSecs, 5000, "claimedSecs = awarded");
        assertEq(S[id].refunded, 10e6 - cost(id, 5000), "refunded derived from the final word");
    }

    // ------------------------------------------------------------------ re-entrancy

    function test_reentrancy_maliciousTokenOnPayout() public {
        ReentrantToken evil = new ReentrantToken();
        allowToken(address(evil));
        uint256 id = doOpen(noDispute(address(evil)), renter, 1e6);
        vm.warp(T0 + 1800);
        // While paying the provider, the token replays stop/claim into the escrow.
        evil.arm(address(esc), abi.encodeCall(RentalEscrow.claim, (T[id])));
        doStop(id);
        assertEq(evil.attempts(), 1, "re-entry attempted");
        assertEq(evil.successes(), 0, "re-entry failed");
        assertEq(escNet(address(evil)), 0, "paid exactly once");
        assertEq(evil.balanceOf(renter), 1e6 - cost(id, 1800), "refund correct");
    }

    function test_reentrancy_maliciousTokenOnDeposit() public {
        ReentrantToken evil = new ReentrantToken();
        allowToken(address(evil));
        uint256 id = doOpen(noDispute(address(evil)), renter, 1e6);
        vm.warp(T0 + 100);
        evil.arm(address(esc), abi.encodeCall(RentalEscrow.claim, (T[id])));
        doExtend(id, 1e6);
        assertEq(evil.successes(), 0, "re-entry during transferFrom failed");
        assertEq(S[id].deposited, 2e6, "extension credited once");
    }

    function test_reentrancy_maliciousNativeReceiver() public {
        ReentrantReceiver bad = new ReentrantReceiver();
        RentalEscrow.Offer memory o = noDispute(address(0));
        bytes memory sig = signOffer(o);
        vm.deal(address(bad), 1e6);
        vm.recordLogs();
        (bool ok,) = bad.call(address(esc), abi.encodeCall(RentalEscrow.open, (o, sig, 1e6)), 1e6);
        assertTrue(ok, "opened");
        sync();
        uint256 id = 1;
        vm.warp(T0 + 1800);
        // On the refund the renter contract tries to stop again (re-entering).
        bad.arm(address(esc), abi.encodeCall(RentalEscrow.stop, (T[id])));
        vm.recordLogs();
        (ok,) = bad.call(address(esc), abi.encodeCall(RentalEscrow.stop, (T[id])), 0);
        assertTrue(ok, "stop succeeded");
        sync();
        assertEq(bad.attempts() - 1, 1, "re-entry attempted");
        assertEq(bad.successes() - 1, 0, "re-entry failed");
        assertEq(address(bad).balance, 1e6 - cost(id, 1800), "refunded exactly once");
        assertEq(escNet(address(0)), 0, "nothing left behind");
    }

    // ------------------------------------------------------------------ views

    function test_views() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        vm.warp(T0 + 7200);
        (uint256 billed, uint256 c, uint256 claimable, uint256 h) = esc.quote(T[id], block.timestamp);
        assertEq(billed, 7200, "billed");
        assertEq(c, cost(id, 7200), "cost");
        assertEq(claimable, cost(id, 3600), "claimable after lag");
        assertEq(h, 10e6, "held");
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = esc.eip712Domain();
        assertEq(keccak256(bytes(name)), keccak256("Flopmarket RentalEscrow"), "domain name");
        assertEq(keccak256(bytes(version)), keccak256("1"), "domain version");
        assertEq(chainId, block.chainid, "chain id");
        assertEq(verifying, address(esc), "verifying contract");
        assertTrue(esc.domainSeparator() != bytes32(0), "separator");
    }

    // ------------------------------------------------------------------ audit findings (issue 8)

    /// 8.1: an attestation signed while the rental ran ((0, 0) right after open) cannot decide the
    /// dispute: Uptime names the end time and the billed seconds, which only exist after the end.
    function test_audit_earlyAttestationCannotDecideDispute() public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        // What a monitor could sign right after open: no end yet, nothing observed.
        bytes memory early = signDigest(MONITOR_KEY, esc.uptimeDigest(id, 0, 0, 0));
        vm.warp(T0 + 1800);
        doStop(id);
        doDispute(id);
        vm.expectRevert(
            abi.encodeWithSelector(RentalEscrow.AttestationNotForThisEnd.selector, uint256(S[id].endedAt), uint256(1800))
        );
        esc.resolveWithAttestation(T[id], 0, 0, 0, early);
        // Claiming the real end with the early signature fails the signature check.
        vm.expectRevert(RentalEscrow.BadAttestationSignature.selector);
        esc.resolveWithAttestation(T[id], S[id].endedAt, 0, 1800, early);
        // An attestation of the real end with other billed seconds is refused too.
        bytes memory wrongBilled = signDigest(MONITOR_KEY, esc.uptimeDigest(id, S[id].endedAt, 0, 1799));
        vm.expectRevert(
            abi.encodeWithSelector(RentalEscrow.AttestationNotForThisEnd.selector, uint256(S[id].endedAt), uint256(1800))
        );
        esc.resolveWithAttestation(T[id], S[id].endedAt, 0, 1799, wrongBilled);
        assertTrue(!closed[id], "still disputed: the held part waits for a real ruling");
    }

    /// 8.1: a contract wallet that disputes and resolves in one transaction with an early attestation is
    /// refused; with an attestation of the end it gets exactly the attested rule.
    function test_audit_contractWalletDisputeAndResolveInOneTx() public {
        DisputeWallet w = new DisputeWallet();
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        bytes memory sig = signOffer(o);
        usdc.mint(address(w), 1e6);
        vm.recordLogs();
        w.openWith(esc, address(usdc), o, sig, 1e6);
        sync();
        uint256 id = 1;
        vm.warp(T0 + 1800);
        bytes memory early = signDigest(MONITOR_KEY, esc.uptimeDigest(id, 0, 0, 0));
        vm.recordLogs();
        w.stop(esc, T[id]);
        sync();
        vm.expectRevert(); // the whole call reverts: dispute is undone with it
        w.disputeAndResolve(esc, T[id], 0, 0, 0, early);
        bytes memory real = signDigest(MONITOR_KEY, esc.uptimeDigest(id, S[id].endedAt, 1800, 1800));
        vm.recordLogs();
        w.disputeAndResolve(esc, T[id], S[id].endedAt, 1800, 1800, real);
        sync();
        assertTrue(closed[id], "resolved");
        assertEq(usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)), cost(id, 1800), "provider paid for 1800 s up");
        assertEq(usdc.balanceOf(address(w)), 1e6 - cost(id, 1800), "renter refunded the rest");
    }

    /// 8.2: one machine, capacity 1: a second renter cannot open it while the first rental is live, through
    /// the same offer or another offer of the machine; the place frees when the rental ends.
    function test_audit_capacity_oneGpuOneRenter() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        o.capacity = 1;
        uint256 a = doOpen(o, renter, 1e6);
        assertEq(esc.liveRentals(provider, o.specHash), 1, "one live");
        address other = address(0xBEEF);
        bytes memory sig = prep(o, other, 1e6);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.OfferFull.selector, uint256(1), uint256(1)));
        esc.open(o, sig, 1e6);
        RentalEscrow.Offer memory o2 = baseOffer(address(usdc));
        o2.capacity = 1;
        o2.nonce = 2;
        o2.rate = ratePerHour(5e5); // a cheaper re-listing of the same machine
        bytes memory sig2 = prep(o2, other, 1e6);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.OfferFull.selector, uint256(1), uint256(1)));
        esc.open(o2, sig2, 1e6);
        assertEq(usdc.balanceOf(other), 2e6, "the refused renter paid nothing");
        vm.warp(T0 + 600);
        doStop(a);
        assertEq(esc.liveRentals(provider, o.specHash), 0, "freed at stop");
        uint256 b = doOpen(o, other, 1e6);
        vm.warp(block.timestamp + 3600 + 601); // runs out, grace over: settle frees it too
        doSettle(b);
        assertEq(esc.liveRentals(provider, o.specHash), 0, "freed at settle");
    }

    /// 8.2: capacity N admits N live rentals, other machines are independent, 0 is refused.
    function test_audit_capacity_countsPerMachine() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        o.capacity = 2;
        doOpen(o, renter, 1e6);
        doOpen(o, address(0xB1), 1e6);
        bytes memory sig = prep(o, address(0xB2), 1e6);
        vm.prank(address(0xB2));
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.OfferFull.selector, uint256(2), uint256(2)));
        esc.open(o, sig, 1e6);
        RentalEscrow.Offer memory m2 = baseOffer(address(usdc));
        m2.capacity = 1;
        m2.specHash = keccak256("second machine");
        doOpen(m2, address(0xB2), 1e6);
        assertEq(esc.liveRentals(provider, m2.specHash), 1, "other machine counted apart");
        RentalEscrow.Offer memory z = baseOffer(address(usdc));
        z.capacity = 0;
        sig = prep(z, address(0xB3), 1e6);
        vm.prank(address(0xB3));
        vm.expectRevert(RentalEscrow.ZeroCapacity.selector);
        esc.open(z, sig, 1e6);
    }

    /// 8.3: the owner cannot raise the fee above what the provider signed, nor swap the monitor.
    function test_audit_feeAndMonitorBoundBySignedOffer() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        o.maxFeeBps = FEE_BPS;
        bytes memory sig = prep(o, renter, 2e6);
        vm.prank(OWNER);
        esc.setFeeBps(1500);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.FeeAboveOfferMax.selector, uint16(1500), uint16(FEE_BPS)));
        esc.open(o, sig, 1e6);
        vm.prank(OWNER);
        esc.setFeeBps(FEE_BPS);
        vm.prank(OWNER);
        esc.setMonitor(address(0x5151));
        vm.prank(renter);
        vm.expectRevert(
            abi.encodeWithSelector(RentalEscrow.MonitorMismatch.selector, address(0x5151), monitor)
        );
        esc.open(o, sig, 1e6);
        vm.prank(OWNER);
        esc.setMonitor(monitor);
        vm.prank(OWNER);
        esc.setFeeBps(500); // lower than signed is fine
        vm.recordLogs();
        vm.prank(renter);
        uint256 id = esc.open(o, sig, 1e6);
        sync();
        assertEq(T[id].feeBps, 500, "fee at open");
        assertEq(T[id].monitor, monitor, "signed monitor");
    }

    /// 8.4: the arbiter window is bounded at deploy.
    function test_audit_constructor_revert_arbiterWindowTooLong() public {
        vm.expectRevert(
            abi.encodeWithSelector(RentalEscrow.ArbiterWindowTooLong.selector, uint32(30 days + 1), uint32(30 days))
        );
        new RentalEscrow(OWNER, TREASURY, monitor, FEE_BPS, 30 days + 1, devTokens());
        new RentalEscrow(OWNER, TREASURY, monitor, FEE_BPS, 30 days, devTokens());
    }

    /// 8.4: an evidence-free dispute with no arbiter freezes nothing past the dispute window.
    function test_audit_noArbiter_defaultRuleWhenDisputeWindowCloses() public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        o.arbiter = address(0);
        uint256 id = doOpen(o, renter, 10e6);
        vm.warp(T0 + 7200);
        doStop(id);
        vm.warp(block.timestamp + 1800);
        doDispute(id);
        vm.warp(uint256(S[id].endedAt) + 3600);
        vm.expectRevert(RentalEscrow.ArbiterWindowOpen.selector);
        esc.settle(T[id]);
        vm.warp(uint256(S[id].endedAt) + 3601); // long before disputedAt + arbiterWindow
        doSettle(id);
        assertTrue(closed[id], "default rule applied");
        assertEq(usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)), cost(id, 7200), "billing stands");
    }

    /// 8.5: a token that charges its fee to the sender is refused; allowlisting is the owner's, for new
    /// rentals only.
    function test_audit_senderFeeTokenRefused() public {
        SenderFeeToken sft = new SenderFeeToken();
        RentalEscrow.Offer memory o = baseOffer(address(sft));
        bytes memory sig = signOffer(o);
        sft.mint(renter, 2e6);
        vm.prank(renter);
        sft.approve(address(esc), 2e6);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(RentalEscrow.TokenNotAllowed.selector, address(sft)));
        esc.open(o, sig, 1e6);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        esc.setTokenAllowed(address(sft), true);
        // Disallowing a token later leaves running rentals whole.
        uint256 id = doOpen(noDispute(address(usdc)), renter, 1e6);
        vm.prank(OWNER);
        esc.setTokenAllowed(address(usdc), false);
        assertTrue(!esc.tokenAllowed(address(usdc)), "disallowed");
        vm.warp(T0 + 1800);
        doStop(id);
        assertEq(usdc.balanceOf(renter), 1e6 - cost(id, 1800), "refund still paid");
    }

    /// 8.5: why: with such a token each payout takes more from the escrow than the books say, so other
    /// rentals in it would be short (shown on a deployment that allowed it).
    function test_audit_senderFeeTokenWouldMakeEscrowInsolvent() public {
        SenderFeeToken sft = new SenderFeeToken();
        allowToken(address(sft));
        sft.mint(renter, 1e6); // the sender pays the token's fee on top
        sft.mint(address(0xB0), 1e6);
        uint256 a = doOpen(noDispute(address(sft)), renter, 1e6);
        uint256 b = doOpen(noDispute(address(sft)), address(0xB0), 1e6);
        vm.warp(T0 + 1800);
        doStop(a);
        assertTrue(
            sft.balanceOf(address(esc)) < uint256(S[b].deposited) + esc.fees(address(sft)),
            "what the escrow owes (rental b + fees) is no longer covered"
        );
    }

    /// 8.6: a rental still active 2^32 s after its epoch can always end (stop and settle).
    function test_audit_rentalCanAlwaysEndAfter2pow32() public {
        uint256 a = doOpen(noDispute(address(usdc)), renter, 1e6);
        uint256 b = doOpen(noDispute(address(usdc)), address(0xB0), 1e6);
        vm.warp(uint256(T[a].epoch) + (uint256(1) << 32) + 100);
        doStop(a);
        assertTrue(closed[a], "stopped");
        assertEq(usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc)), cost(a, 3600), "billed to paidUntil only");
        doSettle(b);
        assertTrue(closed[b], "settled");
        assertEq(escNet(address(usdc)), 0, "nothing left behind");
        // With a dispute window the end is recorded at the last representable second and still closes.
        uint256 c = doOpen(baseOffer(address(usdc)), renter, 1e6);
        vm.warp(uint256(T[c].epoch) + (uint256(1) << 32) + 100);
        doSettle(c);
        assertEq(S[c].endedAt, T[c].epoch + type(uint32).max, "end clamped");
        vm.warp(block.timestamp + 3600);
        doSettle(c);
        assertTrue(closed[c], "released");
    }
}

interface RentalEscrowTestToken {
    function approve(address spender, uint256 amount) external;
}

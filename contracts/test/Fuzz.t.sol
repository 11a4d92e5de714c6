// SPDX-License-Identifier: MIT
// Fuzz tests for RentalEscrow money rules over random amounts, rates and times: conservation to the unit,
// cost = floor(rate * billed / 1e18) on cumulative seconds, fee on cumulative gross, dispute bounds,
// grace gaps never billed. Runs per test: foundry.toml [fuzz] (256 by default, 10000 with profile long).
pragma solidity ^0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {RentalEscrow} from "../RentalEscrow.sol";

contract RentalEscrowFuzzTest is Fixture {
    /// An offer with a random rate and an amount that buys between minSecs and maxSecs.
    function randomRental(uint256 rateSeed, uint256 secsSeed, uint32 disputeSecs)
        internal
        returns (uint256 id, uint256 amount)
    {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        o.rate = uint128(bound(rateSeed, 1e12, 1e27)); // 1e-6 .. 1e9 units per second
        o.minSecs = 1;
        o.disputeSecs = disputeSecs;
        uint256 secs = bound(secsSeed, 1, 30 days);
        amount = (secs * o.rate + 1e18 - 1) / 1e18; // ceil: buys at least `secs`
        if (amount * 1e18 / o.rate > o.maxSecs) amount = uint256(o.maxSecs) * o.rate / 1e18;
        vm.assume(amount > 0 && amount * 1e18 / o.rate >= 1);
        id = doOpen(o, renter, amount);
    }

    function paidTotal() internal view returns (uint256) {
        return usdc.balanceOf(PAYOUT) + treasuryGot(address(usdc));
    }

    function testFuzz_stopConservesToTheUnit(uint256 rateSeed, uint256 secsSeed, uint256 stopSeed, uint16 fee)
        public
    {
        fee = uint16(bound(fee, 0, 1500));
        vm.prank(OWNER);
        esc.setFeeBps(fee);
        (uint256 id, uint256 amount) = randomRental(rateSeed, secsSeed, 0);
        uint256 paidSecs = S[id].paidUntil - T0;
        uint256 elapsed = bound(stopSeed, 0, paidSecs + T[id].graceSecs);
        vm.warp(T0 + elapsed);
        doStop(id);
        uint256 billed = elapsed < paidSecs ? elapsed : paidSecs;
        uint256 gross = cost(id, billed);
        assertEq(S[id].usedSecs, billed, "billed seconds");
        assertEq(paidTotal(), gross, "provider side = cost(billed)");
        assertEq(treasuryGot(address(usdc)), gross * fee / 10_000, "fee on gross");
        assertEq(usdc.balanceOf(renter), amount - gross, "refund");
        assertEq(escNet(address(usdc)), 0, "nothing left behind");
    }

    function testFuzz_feeSameForAnyClaimSplit(uint256 rateSeed, uint256 secsSeed, uint8 n, uint256 stepSeed) public {
        (uint256 id,) = randomRental(rateSeed, secsSeed, 0);
        uint256 paidSecs = S[id].paidUntil - T0;
        n = uint8(bound(n, 1, 20));
        uint256 feeSum;
        uint256 grossSum;
        uint256 t = T0;
        for (uint256 i = 0; i < n; i++) {
            t += bound(uint256(keccak256(abi.encode(stepSeed, i))), 1, paidSecs / n + 1);
            vm.warp(t);
            (,, uint256 claimable,) = esc.quote(T[id], t);
            if (claimable == 0) continue;
            doClaim(id);
            feeSum += lastFee;
            grossSum += lastNet + lastFee;
        }
        assertEq(feeSum, grossSum * FEE_BPS / 10_000, "fee of the sum, not sum of per-claim fees");
        uint256 billed = t - T0 < paidSecs ? t - T0 : paidSecs;
        assertEq(grossSum, cost(id, billed) - S[id].claimed + grossSum, "claims add up"); // sanity
        assertEq(S[id].claimed, cost(id, billed), "claimed = cost(billed) with no lag");
    }

    function testFuzz_extensionsNeverDrift(uint256 rateSeed, uint256 a, uint256 b, uint256 c, uint256 runSeed) public {
        RentalEscrow.Offer memory o = baseOffer(address(usdc));
        o.rate = uint128(bound(rateSeed, 1e15, 1e24));
        o.minSecs = 1;
        o.maxSecs = type(uint32).max;
        o.disputeSecs = 0;
        uint256 unit = o.rate / 1e18 + 1; // at least one second's worth
        a = bound(a, unit, unit * 100_000);
        b = bound(b, 1, unit * 100_000);
        c = bound(c, 1, unit * 100_000);
        uint256 one = doOpen(o, renter, a + b + c);
        uint256 many = doOpen(o, address(0xB0), a);
        doExtend(many, b);
        doExtend(many, c);
        assertEq(S[one].paidUntil, S[many].paidUntil, "same paid time");
        uint256 run = bound(runSeed, 0, S[one].paidUntil - T0);
        vm.warp(T0 + run);
        doStop(one);
        uint256 p1 = paidTotal();
        doStop(many);
        assertEq(paidTotal() - p1, p1, "cost(a)+cost(b)+cost(c) billing == cost(a+b+c) billing");
    }

    function testFuzz_graceGapNeverBilled(uint256 gapSeed, uint256 runSeed) public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 1e6);
        uint256 gap = bound(gapSeed, 1, T[id].graceSecs);
        vm.warp(T0 + 3600 + gap);
        doExtend(id, 1e6);
        uint256 run = bound(runSeed, 0, 3600);
        vm.warp(block.timestamp + run);
        doStop(id);
        assertEq(S[id].usedSecs, 3600 + run, "the gap is not billed");
        assertEq(usdc.balanceOf(renter), 2e6 - cost(id, 3600 + run), "refund");
    }

    function testFuzz_disputeBounds(uint256 runSeed, uint32 up, bool claimFirst, uint8 how) public {
        uint256 id = doOpen(baseOffer(address(usdc)), renter, 10e6);
        uint256 run = bound(runSeed, 1, 36_000);
        vm.warp(T0 + run);
        if (claimFirst && run > 3600) doClaim(id);
        doStop(id);
        doDispute(id);
        uint256 floorSecs = run > 3600 ? run - 3600 : 0;
        uint256 expectSecs;
        if (how % 3 == 0) {
            up = uint32(bound(up, 0, run));
            doAttest(id, up);
            expectSecs = up;
        } else if (how % 3 == 1) {
            doRule(id, up);
            expectSecs = up < run ? up : run;
        } else {
            vm.warp(block.timestamp + ARB_WINDOW + 1);
            doSettle(id);
            expectSecs = run;
        }
        if (expectSecs < floorSecs) expectSecs = floorSecs;
        assertEq(paidTotal(), cost(id, expectSecs), "provider side by the rule, never below the lag floor");
        assertEq(usdc.balanceOf(renter), 10e6 - cost(id, expectSecs), "renter the rest");
        assertEq(escNet(address(usdc)), 0, "nothing left behind");
        assertTrue(closed[id], "closed");
    }
}

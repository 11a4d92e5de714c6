// SPDX-License-Identifier: MIT
// Unit tests for DevPriceFeed (the dev-chain Chainlink-shaped feed): the AggregatorV3 read shape, rounds
// advancing with setAnswer, timestamps, owner-only updates, and unknown rounds.
pragma solidity ^0.8.30;

import {TestBase} from "./utils/Test.sol";
import {DevPriceFeed} from "../dev/DevPriceFeed.sol";

contract DevPriceFeedTest is TestBase {
    DevPriceFeed feed;

    function setUp() public {
        vm.warp(1_000_000);
        feed = new DevPriceFeed(8, 1e8);
    }

    function test_initialRound() public view {
        (uint80 id, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 inRound) = feed.latestRoundData();
        assertEq(id, 1, "round");
        assertTrue(answer == 1e8, "answer");
        assertEq(startedAt, 1_000_000, "startedAt");
        assertEq(updatedAt, 1_000_000, "updatedAt");
        assertEq(inRound, 1, "answeredInRound");
        assertEq(feed.decimals(), 8, "decimals");
        assertEq(keccak256(bytes(feed.description())), keccak256("DEV / USD"), "description");
    }

    function test_setAnswerStartsRound() public {
        vm.warp(1_000_500);
        feed.setAnswer(5e7);
        (uint80 id, int256 answer,, uint256 updatedAt,) = feed.latestRoundData();
        assertEq(id, 2, "round");
        assertTrue(answer == 5e7, "answer");
        assertEq(updatedAt, 1_000_500, "updatedAt");
        (, int256 old,,,) = feed.getRoundData(1);
        assertTrue(old == 1e8, "old round kept");
        feed.setAnswer(-1);
        (, answer,,,) = feed.latestRoundData();
        assertTrue(answer == -1, "negative accepted (dev feed)");
    }

    function test_onlyOwner() public {
        vm.prank(address(0xBEEF));
        vm.expectRevert(abi.encodeWithSelector(DevPriceFeed.NotOwner.selector, address(0xBEEF)));
        feed.setAnswer(2e8);
    }

    function test_unknownRound() public {
        vm.expectRevert(abi.encodeWithSelector(DevPriceFeed.NoRound.selector, uint80(9)));
        feed.getRoundData(9);
    }
}

// SPDX-License-Identifier: MIT
// Minimal test base for forge 1.x without a modern forge-std: npm forge-std is 1.1.2 (no StdInvariant,
// and its Test.sol needs ds-test, which the npm package lacks). We declare only the cheatcodes we use
// (they exist in forge 1.7.1) and small helpers: bound(), key/address helpers, log capture.
// Assertions use the cheatcode asserts, which revert with a readable message; forge marks the test failed.
pragma solidity ^0.8.30;

struct VmLog {
    bytes32[] topics;
    bytes data;
    address emitter;
}

interface Vm {
    function warp(uint256) external;
    function chainId(uint256) external;
    function prank(address) external;
    function startPrank(address) external;
    function stopPrank() external;
    function deal(address, uint256) external;
    function sign(uint256, bytes32) external returns (uint8, bytes32, bytes32);
    function addr(uint256) external returns (address);
    function expectRevert(bytes4) external;
    function expectRevert(bytes calldata) external;
    function expectRevert() external;
    function assume(bool) external;
    function label(address, string calldata) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (VmLog[] memory);
    function etch(address, bytes calldata) external;
    function assertEq(uint256, uint256, string calldata) external pure;
    function assertEq(address, address, string calldata) external pure;
    function assertEq(bytes32, bytes32, string calldata) external pure;
    function assertEq(bool, bool, string calldata) external pure;
    function assertTrue(bool, string calldata) external pure;
    function assertLe(uint256, uint256, string calldata) external pure;
    function assertGe(uint256, uint256, string calldata) external pure;
}

abstract contract TestBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// Forge reads this to know the test contract is a test (DSTest compatibility).
    bool public IS_TEST = true;

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        require(lo <= hi, "bound: lo > hi");
        if (x >= lo && x <= hi) return x;
        uint256 size = hi - lo + 1;
        return lo + (x % size);
    }

    function assertEq(uint256 a, uint256 b, string memory m) internal pure {
        vm.assertEq(a, b, m);
    }

    function assertEq(address a, address b, string memory m) internal pure {
        vm.assertEq(a, b, m);
    }

    function assertEq(bytes32 a, bytes32 b, string memory m) internal pure {
        vm.assertEq(a, b, m);
    }

    function assertTrue(bool c, string memory m) internal pure {
        vm.assertTrue(c, m);
    }

    function assertLe(uint256 a, uint256 b, string memory m) internal pure {
        vm.assertLe(a, b, m);
    }

    function assertGe(uint256 a, uint256 b, string memory m) internal pure {
        vm.assertGe(a, b, m);
    }

    function signDigest(uint256 key, bytes32 digest) internal returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }
}

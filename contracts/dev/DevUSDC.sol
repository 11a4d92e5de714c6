// SPDX-License-Identifier: MIT
// DevUSDC: USDC-like token for the local chain and tests. 6 decimals, EIP-2612 permit (OpenZeppelin
// ERC20Permit), open mint (dev only!) and an owner-free blacklist toggle so tests can reproduce USDC's
// blacklisting: a blacklisted address can neither send nor receive. Never deploy outside a dev chain.
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

contract DevUSDC is ERC20, ERC20Permit {
    /// Address is blacklisted (USDC-style): transfers from or to it revert.
    error Blacklisted(address account);

    mapping(address => bool) public blacklisted;

    constructor() ERC20("Dev USD Coin", "dUSDC") ERC20Permit("Dev USD Coin") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// Dev faucet: anyone may mint to anyone.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// Dev only: toggle the blacklist flag of `account` (anyone may call; tests use it).
    function setBlacklisted(address account, bool on) external {
        blacklisted[account] = on;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (blacklisted[from]) revert Blacklisted(from);
        if (blacklisted[to]) revert Blacklisted(to);
        super._update(from, to, value);
    }
}

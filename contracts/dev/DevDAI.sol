// SPDX-License-Identifier: MIT
// DevDAI: DAI-like token for the local chain and tests. 18 decimals, plain OpenZeppelin ERC-20 with
// EIP-2612 permit (real DAI has its own pre-2612 permit; here the standard one), open mint (dev only!).
// Never deploy outside a dev chain.
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

contract DevDAI is ERC20, ERC20Permit {
    constructor() ERC20("Dev Dai Stablecoin", "dDAI") ERC20Permit("Dev Dai Stablecoin") {}

    /// Dev faucet: anyone may mint to anyone.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

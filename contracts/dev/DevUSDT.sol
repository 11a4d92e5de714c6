// SPDX-License-Identifier: MIT
// DevUSDT: USDT-like token for the local chain and tests. 6 decimals, and like mainnet USDT its
// `transfer`, `transferFrom` and `approve` return nothing (not ERC-20 compliant), so callers must use
// SafeERC20. Failures revert. Open mint (dev only!) and a blacklist toggle (USDT can blacklist too).
// Never deploy outside a dev chain.
pragma solidity ^0.8.30;

contract DevUSDT {
    error InsufficientBalance();
    error InsufficientAllowance();
    error Blacklisted(address account);

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    string public constant name = "Dev Tether USD";
    string public constant symbol = "dUSDT";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public blacklisted;

    /// Dev faucet: anyone may mint to anyone.
    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// Dev only: toggle the blacklist flag of `account`.
    function setBlacklisted(address account, bool on) external {
        blacklisted[account] = on;
    }

    /// No return value, as on mainnet USDT.
    function approve(address spender, uint256 value) external {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    /// No return value, as on mainnet USDT.
    function transfer(address to, uint256 value) external {
        _move(msg.sender, to, value);
    }

    /// No return value, as on mainnet USDT.
    function transferFrom(address from, address to, uint256 value) external {
        uint256 a = allowance[from][msg.sender];
        if (a != type(uint256).max) {
            if (a < value) revert InsufficientAllowance();
            allowance[from][msg.sender] = a - value;
        }
        _move(from, to, value);
    }

    function _move(address from, address to, uint256 value) private {
        if (blacklisted[from]) revert Blacklisted(from);
        if (blacklisted[to]) revert Blacklisted(to);
        uint256 b = balanceOf[from];
        if (b < value) revert InsufficientBalance();
        unchecked {
            balanceOf[from] = b - value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}

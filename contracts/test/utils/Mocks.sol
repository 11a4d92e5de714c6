// SPDX-License-Identifier: MIT
// Hostile and odd tokens/receivers for RentalEscrow tests: a fee-on-transfer token, a token and a native
// receiver that try to re-enter the escrow when paid, and a receiver that always rejects native coin.
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {RentalEscrow} from "../../RentalEscrow.sol";

/// Burns 1 % of every transfer (fee-on-transfer), like some deflationary tokens.
contract FeeOnTransferToken is ERC20 {
    constructor() ERC20("Fee Token", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 burn = value / 100;
            super._update(from, address(0), burn);
            value -= burn;
        }
        super._update(from, to, value);
    }
}

/// Charges a 1 % fee to the SENDER on top of every transfer (the receiver gets the full amount): a payout of
/// x costs the payer 1.01 x. An escrow that accepted it would pay out more than its books hold.
contract SenderFeeToken is ERC20 {
    constructor() ERC20("Sender Fee Token", "SFEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) super._update(from, address(0xFEE), value / 100);
        super._update(from, to, value);
    }
}

/// On every transfer/transferFrom it replays a stored call into the escrow and records whether it worked.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool public armed;
    uint256 public attempts;
    uint256 public successes;

    constructor() ERC20("Evil Token", "EVIL") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (armed && from != address(0) && to != address(0)) {
            armed = false; // one attempt per arming, avoids infinite recursion
            attempts++;
            (bool ok,) = target.call(payload);
            if (ok) successes++;
        }
    }
}

/// Native-coin receiver that re-enters the escrow from receive(); the outcome is recorded, and the
/// receive itself succeeds only if the re-entry failed (so a successful re-entry is visible).
contract ReentrantReceiver {
    address public target;
    bytes public payload;
    // Counters start at 1 so an increment costs 5k gas, not 20k: receive() runs on the escrow's
    // NATIVE_SEND_GAS stipend. Read them as (value - 1).
    uint256 public attempts = 1;
    uint256 public successes = 1;

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    function call(address to, bytes calldata data, uint256 value) external returns (bool ok, bytes memory ret) {
        (ok, ret) = to.call{value: value}(data);
    }

    receive() external payable {
        if (target == address(0)) return;
        attempts++;
        (bool ok,) = target.call(payload);
        if (ok) successes++;
    }
}

/// Rejects every native-coin payment.
contract RejectingReceiver {
    receive() external payable {
        revert("no thanks");
    }
}

/// A renter that is a contract wallet: it can dispute and resolve in one transaction (what the
/// early-attestation attack relied on: the provider has no chance to answer in between).
contract DisputeWallet {
    function openWith(RentalEscrow esc, address token, RentalEscrow.Offer calldata o, bytes calldata sig, uint256 amount)
        external
    {
        ERC20(token).approve(address(esc), amount);
        esc.open(o, sig, amount);
    }

    function stop(RentalEscrow esc, RentalEscrow.Terms calldata t) external {
        esc.stop(t);
    }

    function disputeAndResolve(
        RentalEscrow esc,
        RentalEscrow.Terms calldata t,
        uint40 endedAt,
        uint32 up,
        uint32 observed,
        bytes calldata sig
    ) external {
        esc.dispute(t);
        esc.resolveWithAttestation(t, endedAt, up, observed, sig);
    }
}

// SPDX-License-Identifier: MIT
// DevPriceFeed: a Chainlink-AggregatorV3-shaped USD price feed for the local chain and tests ONLY.
// Same read interface as AggregatorV3Interface (decimals, description, version, latestRoundData,
// getRoundData); the owner sets the answer with setAnswer, which starts a new round stamped with the
// block's timestamp. Any answer is accepted (zero and negative too) so tests can reproduce a broken
// feed; consumers must reject answers <= 0 and stale rounds. Never deploy outside a dev chain.
pragma solidity ^0.8.30;

contract DevPriceFeed {
    /// Caller is not the owner.
    error NotOwner(address caller);
    /// No such round.
    error NoRound(uint80 roundId);

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    struct Round {
        int256 answer;
        uint64 startedAt;
        uint64 updatedAt;
    }

    address public immutable owner;
    uint8 public immutable decimals;
    uint80 public latestRound;
    mapping(uint80 => Round) internal rounds;

    constructor(uint8 decimals_, int256 initialAnswer) {
        owner = msg.sender;
        decimals = decimals_;
        _newRound(initialAnswer);
    }

    function description() external pure returns (string memory) {
        return "DEV / USD";
    }

    function version() external pure returns (uint256) {
        return 4;
    }

    /// Owner only: a new round with `answer`, started and updated now.
    function setAnswer(int256 answer) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _newRound(answer);
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return getRoundData(latestRound);
    }

    function getRoundData(uint80 roundId)
        public
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory r = rounds[roundId];
        if (r.updatedAt == 0) revert NoRound(roundId);
        return (roundId, r.answer, r.startedAt, r.updatedAt, roundId);
    }

    function _newRound(int256 answer) internal {
        uint80 id = latestRound + 1;
        latestRound = id;
        rounds[id] = Round(answer, uint64(block.timestamp), uint64(block.timestamp));
        emit AnswerUpdated(answer, id, block.timestamp);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title AggregatorV3Interface
/// @notice The standard Chainlink data-feed interface, written out here so protocols that read
///         Chainlink feeds today can read a risk parameter through the same calls.
interface AggregatorV3Interface {
    /// @notice Number of decimals in `answer`.
    function decimals() external view returns (uint8);

    /// @notice Human-readable feed description.
    function description() external view returns (string memory);

    /// @notice Version of the feed implementation.
    function version() external view returns (uint256);

    /// @notice Data of a given round.
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice Data of the latest round.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}

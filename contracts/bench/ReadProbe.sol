// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRiskOracle} from "../interfaces/IRiskOracle.sol";
import {AggregatorV3Interface} from "../adapters/AggregatorV3Interface.sol";

/// @title ReadProbe
/// @notice Measures the gas a consumer pays to read the oracle: `gasleft()` before minus after one
///         external read, call included. Meant for `eth_call` in a fresh transaction, so the target
///         account and its storage slot are cold (EIP-2929), as for a protocol's first read in a tx.
/// @dev The figure includes the CALL (cold account access), the callee's work and ABI decoding of the
///      return data in this contract; it excludes the 21,000 transaction base and the probe's own
///      dispatch. Each function reads once: a second read in the same call would be warm.
contract ReadProbe {
    /// @notice Gas used by one `IRiskOracle(oracle).getRiskParams(marketId)` call.
    function measureRead(address oracle, bytes32 marketId) external view returns (uint256 gasUsed) {
        uint256 before = gasleft();
        // The value is not needed, only the cost of reading it.
        // slither-disable-next-line unused-return
        IRiskOracle(oracle).getRiskParams(marketId);
        gasUsed = before - gasleft();
    }

    /// @notice Gas used by one `IRiskOracle(oracle).getMarketWord(marketId)` call.
    function measureWordRead(address oracle, bytes32 marketId) external view returns (uint256 gasUsed) {
        uint256 before = gasleft();
        // The value is not needed, only the cost of reading it.
        // slither-disable-next-line unused-return
        IRiskOracle(oracle).getMarketWord(marketId);
        gasUsed = before - gasleft();
    }

    /// @notice Gas used by one `AggregatorV3Interface(adapter).latestRoundData()` call (the adapter's
    ///         read of the oracle included, so two cold accounts).
    function measureAdapterRead(address adapter) external view returns (uint256 gasUsed) {
        uint256 before = gasleft();
        // The value is not needed, only the cost of reading it.
        // slither-disable-next-line unused-return
        AggregatorV3Interface(adapter).latestRoundData();
        gasUsed = before - gasleft();
    }
}

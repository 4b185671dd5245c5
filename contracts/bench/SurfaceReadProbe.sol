// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVolSurfaceOracle} from "../interfaces/IVolSurfaceOracle.sol";

/// @title SurfaceReadProbe
/// @notice Measures the gas a consumer pays for one VolSurfaceOracle read: `gasleft()` before minus
///         after one external call (cold account and slot when run by `eth_call` in a fresh
///         transaction), as ReadProbe does for the RiskOracle.
contract SurfaceReadProbe {
    /// @notice Gas used by one `impliedVol(underlying, expiry, strike)` call, and its result.
    function measureImpliedVol(address oracle, bytes32 underlying, uint64 expiry, uint256 strike)
        external
        view
        returns (uint256 gasUsed, uint256 vol)
    {
        uint256 before = gasleft();
        vol = IVolSurfaceOracle(oracle).impliedVol(underlying, expiry, strike);
        gasUsed = before - gasleft();
    }

    /// @notice Gas used by one `getSmile(underlying, expiry)` call.
    function measureGetSmile(address oracle, bytes32 underlying, uint64 expiry) external view returns (uint256 gasUsed) {
        uint256 before = gasleft();
        // The value is not needed, only the cost of reading it.
        // slither-disable-next-line unused-return
        IVolSurfaceOracle(oracle).getSmile(underlying, expiry);
        gasUsed = before - gasleft();
    }

    /// @notice impliedVol at many strikes of one expiry in one call (batched differential tests).
    function impliedVols(address oracle, bytes32 underlying, uint64 expiry, uint256[] calldata strikes)
        external
        view
        returns (uint256[] memory vols)
    {
        vols = new uint256[](strikes.length);
        for (uint256 i; i < strikes.length; ++i) {
            vols[i] = IVolSurfaceOracle(oracle).impliedVol(underlying, expiry, strikes[i]);
        }
    }
}

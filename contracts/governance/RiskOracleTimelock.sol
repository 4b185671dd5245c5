// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title RiskOracleTimelock
/// @notice The DAO's timelock that holds the RiskOracle's DEFAULT_ADMIN_ROLE. Exists only so that
///         deployments get a compiled artifact of OpenZeppelin's TimelockController; no changes.
contract RiskOracleTimelock is TimelockController {
    /// @param minDelay Seconds between scheduling and executing an operation.
    /// @param proposers Accounts allowed to schedule (and cancel) operations, e.g. the Governor.
    /// @param executors Accounts allowed to execute ready operations (address(0) = anyone).
    /// @param admin Optional bootstrap admin (address(0) for none: the timelock administers itself).
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}

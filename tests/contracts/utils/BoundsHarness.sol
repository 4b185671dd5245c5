// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IRiskOracle} from "../../../contracts/interfaces/IRiskOracle.sol";
import {BoundsProfile} from "../../../contracts/libraries/BoundsProfile.sol";
import {MarketWord} from "../../../contracts/libraries/MarketWord.sol";

/// @notice External wrappers around the oracle's internal libraries, so tests can expect their reverts.
contract BoundsHarness {
    function encode(uint8 profileId, IRiskOracle.Bounds memory b) external pure returns (uint256 a, uint256 w) {
        return BoundsProfile.encode(profileId, b);
    }

    function decode(uint256 a, uint256 w) external pure returns (IRiskOracle.Bounds memory) {
        return BoundsProfile.decode(a, w);
    }

    function check(bytes32 marketId, uint256 params, uint256 stored, uint256 a, uint256 w, bool first) external pure {
        BoundsProfile.check(marketId, params, stored, a, w, first);
    }

    function firstUnprotective(uint256 prevA, uint256 prevW, uint256 nextA, uint256 nextW) external pure returns (uint8) {
        return BoundsProfile.firstUnprotective(prevA, prevW, nextA, nextW);
    }

    function toRiskParams(uint256 word) external pure returns (IRiskOracle.RiskParams memory) {
        return MarketWord.toRiskParams(word);
    }

    function publish(uint256 word, uint256 params, uint256 observed, uint256 rnd) external pure returns (uint256) {
        return MarketWord.publish(word, params, MarketWord.stamp(observed, rnd, 0));
    }

    function list(uint256 word, uint8 profile) external pure returns (uint256) {
        return MarketWord.list(word, profile);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IRiskOracle} from "../../../contracts/interfaces/IRiskOracle.sol";
import {RiskOracle} from "../../../contracts/RiskOracle.sol";
import {Vm, VM_ADDRESS} from "./Vm.sol";

/// @notice Drives a real RiskOracle for consumer tests (margin engine, adapter): the driver is the
///         oracle's admin and guardian and its single signer (k = 1), so a test can list markets, publish
///         margins through signed EIP-712 reports, pause and tighten exactly as on a live deployment.
///         Only what a real oracle cannot do (revert with an unknown error, burn all gas) stays with
///         MockRiskOracle.
contract RealOracleDriver {
    Vm internal constant vm = Vm(VM_ADDRESS);
    uint256 internal constant SIGNER_KEY = 0x5EED;
    bytes32 public constant MODEL = keccak256("driver-model");
    /// @dev Longest report age the oracle accepts, so tests can publish backdated data.
    uint32 public constant MAX_REPORT_AGE = (1 << 21) - 1;

    RiskOracle public immutable oracle;
    /// @dev profile id + 1 by maintenance ceiling (0 = none yet); profile 0 is the deployment's.
    mapping(uint16 ceiling => uint8 idPlusOne) internal _profileFor;
    uint8 internal _profiles;

    constructor() {
        address[] memory signers = new address[](1);
        signers[0] = vm.addr(SIGNER_KEY);
        bytes32[] memory models = new bytes32[](1);
        models[0] = MODEL;
        IRiskOracle.Bounds[] memory profiles = new IRiskOracle.Bounds[](1);
        profiles[0] = wideBounds(type(uint16).max);
        uint8[] memory ids = new uint8[](1);
        oracle = new RiskOracle(
            address(this),
            address(this),
            signers,
            1,
            models,
            MAX_REPORT_AGE,
            ids,
            profiles,
            new bytes32[](0),
            new uint8[](0)
        );
        _profileFor[type(uint16).max] = 1;
        _profiles = 1;
    }

    /// @notice Bounds that accept any consistent set, with `mmCeiling` on maintenanceMargin, no change
    ///         limit and the smallest minimum interval (1 s).
    function wideBounds(uint16 mmCeiling) public pure returns (IRiskOracle.Bounds memory b) {
        for (uint256 i; i < 8; ++i) {
            b.fields[i] = IRiskOracle.FieldBounds({floor: 0, ceiling: type(uint16).max, maxChange: type(uint16).max});
        }
        b.fields[4].ceiling = mmCeiling;
        b.minInterval = 1;
    }

    /// @notice List `marketId` (or move it) under a wide profile whose MM ceiling is `mmCeiling`; data kept.
    function listMarket(bytes32 marketId, uint16 mmCeiling) external {
        uint8 idPlusOne = _profileFor[mmCeiling];
        if (idPlusOne == 0) {
            idPlusOne = ++_profiles;
            oracle.setBounds(idPlusOne - 1, wideBounds(mmCeiling));
            _profileFor[mmCeiling] = idPlusOne;
        }
        oracle.listMarket(marketId, idPlusOne - 1);
    }

    /// @notice Publish IM and MM (other fields fixed, LT kept consistent) as the market's next round,
    ///         observed now. Moves time on by the 1-s minimum interval if the last update was this second.
    function publishMargins(bytes32 marketId, uint16 initialMargin, uint16 maintenanceMargin) external {
        uint256 word = oracle.getMarketWord(marketId);
        uint64 round = uint64(word >> 160);
        if (round != 0 && uint32(word >> 128) + (word >> 235) >= block.timestamp) vm.warp(block.timestamp + 1);
        // LT + MM <= 100% keeps the set consistent; MM above 100% is left for the oracle to reject.
        uint16 lt = maintenanceMargin > 10_000 ? 0 : (maintenanceMargin > 2000 ? 10_000 - maintenanceMargin : 8000);
        uint16[8] memory f = [uint16(5000), 300, 400, initialMargin, maintenanceMargin, lt, 2000, 9000];
        submit(marketId, pack(f), uint64(block.timestamp), round + 1);
    }

    /// @notice Sign and submit one market's params as `round`, observed at `observedAt`.
    function submit(bytes32 marketId, uint128 params, uint64 observedAt, uint64 round) public {
        IRiskOracle.RiskReport memory r;
        (,, r.epoch) = oracle.getSigners();
        r.round = round;
        r.observedAt = observedAt;
        r.deadline = uint64(block.timestamp + 600);
        r.modelHash = MODEL;
        r.marketIds = new bytes32[](1);
        r.marketIds[0] = marketId;
        r.params = new uint128[](1);
        r.params[0] = params;
        (uint8 v, bytes32 sr, bytes32 ss) = vm.sign(SIGNER_KEY, oracle.reportDigest(r));
        IRiskOracle.Signature[] memory sigs = new IRiskOracle.Signature[](1);
        sigs[0] = IRiskOracle.Signature(0, sr, bytes32((uint256(v - 27) << 255) | uint256(ss)));
        oracle.submitReport(r, sigs);
    }

    function pack(uint16[8] memory f) public pure returns (uint128 w) {
        for (uint256 i; i < 8; ++i) {
            w |= uint128(f[i]) << uint128(16 * i);
        }
    }

    function pause() external {
        oracle.pause();
    }

    function unpause() external {
        oracle.unpause();
    }

    function pauseMarket(bytes32 marketId) external {
        oracle.pauseMarket(marketId);
    }

    function unpauseMarket(bytes32 marketId) external {
        oracle.unpauseMarket(marketId);
    }
}

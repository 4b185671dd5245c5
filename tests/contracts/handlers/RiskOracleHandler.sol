// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IRiskOracle} from "../../../contracts/interfaces/IRiskOracle.sol";
import {RiskOracle} from "../../../contracts/RiskOracle.sol";
import {Vm, VM_ADDRESS} from "../utils/Vm.sol";

/// @notice Drives a RiskOracle through random reports (good, under-signed, mis-signed, replayed,
///         out-of-bounds), pauses and guardian tightening, and keeps ghost state that the invariant
///         test compares with the oracle. The handler is the oracle's admin and guardian.
contract RiskOracleHandler {
    Vm internal constant vm = Vm(VM_ADDRESS);
    bytes32 internal constant MODEL = keccak256("model-manifest-v1");
    uint8 internal constant K = 3;
    uint256 internal constant N = 5;
    uint8 internal constant PROFILE = 0;

    RiskOracle public immutable oracle;
    uint256[N] internal keys;
    bytes32[3] public markets = [bytes32("BTC-USD"), bytes32("ETH-USD"), bytes32("SOL-USD")];
    /// @dev The handler's own model of profile 0 (floors, ceilings), updated when a tightening lands.
    uint16[8] public floors;
    uint16[8] public ceilings;
    uint64 public nextRound = 1;

    // Ghost state
    mapping(bytes32 => uint64) public ghostRound;
    mapping(bytes32 => uint16[8]) internal _ghostFloorsAtStore;
    mapping(bytes32 => uint16[8]) internal _ghostCeilingsAtStore;
    mapping(bytes32 => uint256) public ghostWordAtPause;
    bool public ghostRoundWentBackwards;
    bool public ghostUnderSignedLanded;
    bool public ghostLandedWhilePaused;
    bool public ghostPaused;
    mapping(bytes32 => bool) public ghostMarketPaused;
    uint256 public accepted;
    uint256 public rejected;
    /// @dev Submissions made while neither the oracle nor any of the report's markets was paused.
    uint256 public openSubmits;

    constructor() {
        address[] memory signers = new address[](N);
        for (uint256 i; i < N; ++i) {
            keys[i] = 0xC0FFEE + i;
            signers[i] = vm.addr(keys[i]);
        }
        IRiskOracle.Bounds[] memory profiles = new IRiskOracle.Bounds[](1);
        for (uint256 i; i < 8; ++i) {
            floors[i] = i == 5 ? 1000 : 0;
            ceilings[i] = i == 5 ? 9500 : (i >= 6 ? 10000 : 20000);
            profiles[0].fields[i] = IRiskOracle.FieldBounds(floors[i], ceilings[i], 3000);
        }
        profiles[0].relativeMask = 0x1F;
        profiles[0].minInterval = 1;
        uint8[] memory ids = new uint8[](1);
        bytes32[] memory listed = new bytes32[](3);
        uint8[] memory listedProfiles = new uint8[](3);
        for (uint256 i; i < 3; ++i) {
            listed[i] = markets[i];
        }
        bytes32[] memory models = new bytes32[](1);
        models[0] = MODEL;
        oracle = new RiskOracle(
            address(this), address(this), signers, K, models, 3600, ids, profiles, listed, listedProfiles
        );
    }

    // ------------------------------------------------------------------------------------------
    // Actions
    // ------------------------------------------------------------------------------------------

    /// @notice Build and submit a random report; record what landed.
    function submit(uint256 seed) external {
        vm.warp(block.timestamp + seed % 120);
        (IRiskOracle.RiskReport memory r, uint256 count) = _randomReport(seed);
        (IRiskOracle.Signature[] memory sigs, uint256 goodDistinct, bool allGood) = _randomSignatures(r, seed);
        bool open = !ghostPaused;
        for (uint256 i; i < count; ++i) {
            if (ghostMarketPaused[r.marketIds[i]]) open = false;
        }
        if (open) openSubmits++;
        try oracle.submitReport(r, sigs) {
            accepted++;
            if (goodDistinct < K || !allGood) ghostUnderSignedLanded = true;
            if (ghostPaused) ghostLandedWhilePaused = true;
            for (uint256 i; i < count; ++i) {
                bytes32 m = r.marketIds[i];
                if (ghostMarketPaused[m]) ghostLandedWhilePaused = true;
                if (r.round <= ghostRound[m]) ghostRoundWentBackwards = true;
                ghostRound[m] = r.round;
                _ghostFloorsAtStore[m] = floors;
                _ghostCeilingsAtStore[m] = ceilings;
            }
        } catch {
            rejected++;
        }
    }

    function pause() external {
        oracle.pause();
        ghostPaused = true;
        for (uint256 i; i < 3; ++i) {
            ghostWordAtPause[markets[i]] = oracle.getMarketWord(markets[i]);
        }
    }

    function unpause() external {
        oracle.unpause();
        ghostPaused = false;
    }

    function pauseMarket(uint256 which) external {
        bytes32 m = markets[which % 3];
        oracle.pauseMarket(m);
        ghostMarketPaused[m] = true;
    }

    function unpauseMarket(uint256 which) external {
        bytes32 m = markets[which % 3];
        oracle.unpauseMarket(m);
        ghostMarketPaused[m] = false;
    }

    /// @notice Guardian: raise one floor or lower one ceiling a little (never crossing).
    function tighten(uint256 seed) external {
        IRiskOracle.Bounds memory b = oracle.getBounds(PROFILE);
        uint256 i = seed % 8;
        uint256 step = (seed >> 8) % 200;
        if ((seed >> 16) & 1 == 0) {
            if (b.fields[i].floor + step > b.fields[i].ceiling) return;
            b.fields[i].floor += uint16(step);
        } else {
            if (b.fields[i].ceiling < b.fields[i].floor + step) return;
            b.fields[i].ceiling -= uint16(step);
        }
        oracle.tightenBounds(PROFILE, b);
        floors[i] = b.fields[i].floor;
        ceilings[i] = b.fields[i].ceiling;
    }

    // ------------------------------------------------------------------------------------------
    // Views for the invariants
    // ------------------------------------------------------------------------------------------

    function ghostBoundsAtStore(bytes32 m) external view returns (uint16[8] memory lo, uint16[8] memory hi) {
        return (_ghostFloorsAtStore[m], _ghostCeilingsAtStore[m]);
    }

    function marketCount() external pure returns (uint256) {
        return 3;
    }

    // ------------------------------------------------------------------------------------------
    // Random reports
    // ------------------------------------------------------------------------------------------

    function _randomReport(uint256 seed) internal returns (IRiskOracle.RiskReport memory r, uint256 count) {
        count = 1 + seed % 3;
        r.marketIds = new bytes32[](count);
        r.params = new uint128[](count);
        for (uint256 i; i < count; ++i) {
            r.marketIds[i] = markets[(seed / 3 + i) % 3];
            r.params[i] = _randomParams(r.marketIds[i], uint256(keccak256(abi.encode(seed, i))));
        }
        (,, uint32 epoch) = oracle.getSigners();
        r.epoch = epoch;
        // Mostly a fresh round; sometimes a replay of an old one.
        r.round = (seed >> 100) % 8 == 0 ? nextRound - 1 : nextRound;
        nextRound++;
        r.observedAt = uint64(block.timestamp - (seed >> 40) % 30);
        r.deadline = uint64(block.timestamp + 600);
        r.modelHash = MODEL;
        r.inputsHash = bytes32(seed);
    }

    /// @dev A consistent set near the stored one (so max-change often passes), sometimes pushed out
    ///      of bounds on one field.
    function _randomParams(bytes32 m, uint256 seed) internal view returns (uint128 p) {
        uint256 word = oracle.getMarketWord(m);
        uint256 vol = word >> 160 == 0 || uint16(word) == 0 ? 5000 : uint16(word);
        vol = vol + (seed % 201) - 100;
        uint256 v = 400 + (seed >> 8) % 100;
        uint256 im = 1000 + (seed >> 16) % 100;
        uint16[8] memory f = [uint16(vol), uint16(v), uint16(v + 100), uint16(im), uint16(im / 2), 8000, 3000, 9000];
        if ((seed >> 24) % 5 == 0) {
            uint256 i = (seed >> 32) % 8;
            f[i] = (seed >> 40) & 1 == 0 ? ceilings[i] + 1 : (floors[i] == 0 ? 0 : floors[i] - 1);
        }
        for (uint256 i; i < 8; ++i) {
            p |= uint128(f[i]) << uint128(16 * i);
        }
    }

    /// @dev 1..5 signatures: mostly authorised keys at their own index, sometimes a stranger's key, a
    ///      key at another signer's index, or a repeated index. Returns how many distinct authorised
    ///      signers signed correctly and whether every signature was correct.
    function _randomSignatures(IRiskOracle.RiskReport memory r, uint256 seed)
        internal
        view
        returns (IRiskOracle.Signature[] memory sigs, uint256 goodDistinct, bool allGood)
    {
        bytes32 digest = oracle.reportDigest(r);
        uint256 n = 1 + (seed >> 60) % 5;
        sigs = new IRiskOracle.Signature[](n);
        allGood = true;
        uint256 seen;
        for (uint256 i; i < n; ++i) {
            uint256 rs = uint256(keccak256(abi.encode(seed, "sig", i)));
            uint256 index = (i + (rs % 16 == 0 ? 1 : 0)) % N; // occasionally a repeated index
            uint256 key = keys[index];
            if (rs % 13 == 1) key = 0xBAD; // stranger
            if (rs % 11 == 2) key = keys[(index + 1) % N]; // another signer's key at this index
            (uint8 v, bytes32 sr, bytes32 ss) = vm.sign(key, digest);
            sigs[i] = IRiskOracle.Signature(uint8(index), sr, bytes32((uint256(v - 27) << 255) | uint256(ss)));
            bool good = key == keys[index] && (seen >> index) & 1 == 0;
            if (good) goodDistinct++;
            else allGood = false;
            seen |= 1 << index;
        }
    }
}

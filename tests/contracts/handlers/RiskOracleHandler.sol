// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IRiskOracle} from "../../../contracts/interfaces/IRiskOracle.sol";
import {RiskOracle} from "../../../contracts/RiskOracle.sol";
import {Vm, VM_ADDRESS} from "../utils/Vm.sol";

/// @notice Drives a RiskOracle through random quorum reports (good, under-signed, mis-signed,
///         replayed, out-of-bounds, backdated), guardian actions (pause, tighten in any direction) and
///         governance actions (setSigners, setBounds, relisting, round recovery), and keeps ghost
///         state that the invariant test compares with the oracle. The handler holds both roles.
contract RiskOracleHandler {
    Vm internal constant vm = Vm(VM_ADDRESS);
    bytes32 internal constant MODEL = keccak256("model-manifest-v1");
    uint256 internal constant N = 5;
    uint8 internal constant PROFILES = 2;

    RiskOracle public immutable oracle;
    uint256[N] internal keys;
    uint8 public threshold = 3;
    bytes32[3] public markets = [bytes32("BTC-USD"), bytes32("ETH-USD"), bytes32("SOL-USD")];
    uint64 public nextRound = 1;

    // Ghost state
    mapping(bytes32 => uint64) public ghostRound;
    mapping(bytes32 => IRiskOracle.Bounds) internal _ghostBoundsAtStore;
    mapping(bytes32 => uint256) public ghostWordAtPause;
    /// @dev Block time and params of the last accepted update per market (0 = none since listing/recovery).
    mapping(bytes32 => uint256) public ghostLandedAt;
    mapping(bytes32 => uint256) internal _ghostParams;
    bool public ghostRoundWentBackwards;
    bool public ghostUnderSignedLanded;
    bool public ghostLandedWhilePaused;
    /// @dev A guardian action that succeeded although it lowered a protective (0..4) field's ceiling
    ///      or floor, raised LT's, or moved score/confidence bounds.
    bool public ghostGuardianLoosened;
    /// @dev An update landed within minInterval of the previous one, or moved a field by more than
    ///      its maxChange from the value at the start of the interval.
    string public ghostRateViolation;
    bool public ghostPaused;
    mapping(bytes32 => bool) public ghostMarketPaused;
    uint256 public accepted;
    uint256 public rejected;
    uint256 public guardianTightenings;
    uint256 public governanceActions;
    /// @dev Submissions made while neither the oracle nor any of the report's markets was paused.
    uint256 public openSubmits;

    constructor() {
        address[] memory signers = new address[](N);
        for (uint256 i; i < N; ++i) {
            keys[i] = 0xC0FFEE + i;
            signers[i] = vm.addr(keys[i]);
        }
        IRiskOracle.Bounds[] memory profiles = new IRiskOracle.Bounds[](PROFILES);
        uint8[] memory ids = new uint8[](PROFILES);
        for (uint8 p; p < PROFILES; ++p) {
            ids[p] = p;
            profiles[p] = _baseBounds(p);
        }
        bytes32[] memory listed = new bytes32[](3);
        uint8[] memory listedProfiles = new uint8[](3);
        for (uint256 i; i < 3; ++i) {
            listed[i] = markets[i];
        }
        bytes32[] memory models = new bytes32[](1);
        models[0] = MODEL;
        oracle = new RiskOracle(
            address(this), address(this), signers, threshold, models, 3600, ids, profiles, listed, listedProfiles
        );
    }

    /// @dev Profile 0: relative 30% on 0..4, 1-s interval; profile 1: the same with a 30-s interval.
    function _baseBounds(uint8 p) internal pure returns (IRiskOracle.Bounds memory b) {
        for (uint256 i; i < 8; ++i) {
            uint16 lo = i == 5 ? 1000 : 0;
            uint16 hi = i == 5 ? 9500 : (i >= 6 ? 10000 : 20000);
            b.fields[i] = IRiskOracle.FieldBounds(lo, hi, 3000);
        }
        b.relativeMask = 0x1F;
        b.minInterval = p == 0 ? 1 : 30;
    }

    // ------------------------------------------------------------------------------------------
    // Quorum reports
    // ------------------------------------------------------------------------------------------

    /// @notice Build and submit a random report; record what landed.
    function submit(uint256 seed) external {
        // A third of the reports land in the same block as the previous action (stacking attempts).
        if (seed % 3 != 0) vm.warp(block.timestamp + seed % 45);
        (IRiskOracle.RiskReport memory r, uint256 count) = _randomReport(seed);
        (IRiskOracle.Signature[] memory sigs, uint256 goodDistinct, bool allGood) = _randomSignatures(r, seed);
        bool open = !ghostPaused;
        IRiskOracle.Bounds[] memory inForce = new IRiskOracle.Bounds[](count);
        for (uint256 i; i < count; ++i) {
            if (ghostMarketPaused[r.marketIds[i]]) open = false;
            inForce[i] = oracle.getMarketBounds(r.marketIds[i]);
        }
        if (open) openSubmits++;
        try oracle.submitReport(r, sigs) {
            accepted++;
            if (goodDistinct < threshold || !allGood) ghostUnderSignedLanded = true;
            if (ghostPaused) ghostLandedWhilePaused = true;
            for (uint256 i; i < count; ++i) {
                _recordLanding(r.marketIds[i], r.round, r.params[i], inForce[i]);
            }
        } catch {
            rejected++;
        }
    }

    function _recordLanding(bytes32 m, uint64 round, uint256 params, IRiskOracle.Bounds memory b) internal {
        if (ghostMarketPaused[m]) ghostLandedWhilePaused = true;
        if (round <= ghostRound[m]) ghostRoundWentBackwards = true;
        uint256 last = ghostLandedAt[m];
        if (last != 0) {
            if (block.timestamp < last + b.minInterval) ghostRateViolation = "two updates within minInterval";
            string memory moved = _movedTooFar(_ghostParams[m], params, b);
            if (bytes(moved).length != 0) ghostRateViolation = moved;
        }
        ghostRound[m] = round;
        IRiskOracle.Bounds storage stored = _ghostBoundsAtStore[m];
        for (uint256 i; i < 8; ++i) {
            stored.fields[i] = b.fields[i];
        }
        (stored.relativeMask, stored.minInterval) = (b.relativeMask, b.minInterval);
        ghostLandedAt[m] = block.timestamp;
        _ghostParams[m] = params;
    }

    /// @dev Every field within maxChange of the value at the start of the interval (the previous update).
    function _movedTooFar(uint256 prev, uint256 next, IRiskOracle.Bounds memory b)
        internal
        pure
        returns (string memory)
    {
        for (uint256 i; i < 8; ++i) {
            uint256 s = uint16(prev >> (16 * i));
            uint256 v = uint16(next >> (16 * i));
            uint256 d = v > s ? v - s : s - v;
            bool relative = (b.relativeMask >> i) & 1 == 1;
            if (relative ? d * 10_000 > s * b.fields[i].maxChange : d > b.fields[i].maxChange) {
                return "a field moved more than maxChange within one interval";
            }
        }
        return "";
    }

    // ------------------------------------------------------------------------------------------
    // Guardian
    // ------------------------------------------------------------------------------------------

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

    /// @notice Guardian: move one floor or ceiling of a profile a little, in either direction (never
    ///         crossing). The oracle must refuse every move against the field's protective direction.
    function tighten(uint256 seed) external {
        uint8 profile = uint8(seed % PROFILES);
        IRiskOracle.Bounds memory before = oracle.getBounds(profile);
        IRiskOracle.Bounds memory b = oracle.getBounds(profile);
        uint256 i = (seed >> 8) % 8;
        uint16 step = uint16((seed >> 16) % 200);
        bool up = (seed >> 32) & 1 == 0;
        IRiskOracle.FieldBounds memory f = b.fields[i];
        if ((seed >> 33) & 1 == 0) {
            if (up && f.floor + step <= f.ceiling) f.floor += step;
            else if (!up && f.floor >= step) f.floor -= step;
        } else {
            if (up && uint256(f.ceiling) + step <= type(uint16).max) f.ceiling += step;
            else if (!up && f.ceiling >= f.floor + step) f.ceiling -= step;
        }
        try oracle.tightenBounds(profile, b) {
            ++guardianTightenings;
            if (!_protective(before, oracle.getBounds(profile))) ghostGuardianLoosened = true;
        } catch {}
    }

    function _protective(IRiskOracle.Bounds memory a, IRiskOracle.Bounds memory b) internal pure returns (bool) {
        for (uint256 i; i < 8; ++i) {
            IRiskOracle.FieldBounds memory x = a.fields[i];
            IRiskOracle.FieldBounds memory y = b.fields[i];
            if (i <= 4 && (y.ceiling < x.ceiling || y.floor < x.floor)) return false;
            if (i == 5 && (y.ceiling > x.ceiling || y.floor > x.floor)) return false;
            if (i >= 6 && (y.ceiling != x.ceiling || y.floor != x.floor)) return false;
            if (y.maxChange > x.maxChange) return false;
        }
        return b.minInterval >= a.minInterval && b.relativeMask == a.relativeMask;
    }

    // ------------------------------------------------------------------------------------------
    // Governance (the DAO through its timelock)
    // ------------------------------------------------------------------------------------------

    /// @notice Rotate the signer keys by one place and pick a threshold of 2..4 (bumps the epoch).
    function setSigners(uint256 seed) external {
        uint256 first = keys[0];
        for (uint256 i; i + 1 < N; ++i) {
            keys[i] = keys[i + 1];
        }
        keys[N - 1] = first;
        address[] memory signers = new address[](N);
        for (uint256 i; i < N; ++i) {
            signers[i] = vm.addr(keys[i]);
        }
        threshold = uint8(2 + seed % 3);
        oracle.setSigners(signers, threshold);
        ++governanceActions;
    }

    /// @notice Replace a profile (may loosen: the DAO's power), keeping it valid.
    function setBounds(uint256 seed) external {
        uint8 profile = uint8(seed % PROFILES);
        IRiskOracle.Bounds memory b = _baseBounds(profile);
        b.fields[(seed >> 8) % 5].maxChange = uint16(1000 + (seed >> 16) % 6000);
        b.minInterval = uint32(1 + (seed >> 32) % 60);
        oracle.setBounds(profile, b);
        ++governanceActions;
    }

    /// @notice Move a market to the other profile (data kept).
    function relist(uint256 seed) external {
        bytes32 m = markets[seed % 3];
        oracle.listMarket(m, uint8((seed >> 8) % PROFILES));
        ++governanceActions;
    }

    /// @notice Reset a market's round counter to 0: the next report is a first publication again.
    function recoverRound(uint256 seed) external {
        bytes32 m = markets[seed % 3];
        oracle.recoverMarketRound(m, 0);
        ghostRound[m] = 0;
        ghostLandedAt[m] = 0;
        ++governanceActions;
    }

    // ------------------------------------------------------------------------------------------
    // Views for the invariants
    // ------------------------------------------------------------------------------------------

    function ghostBoundsAtStore(bytes32 m) external view returns (IRiskOracle.Bounds memory) {
        return _ghostBoundsAtStore[m];
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
        // Mostly recent; sometimes backdated up to the max age (the stacking attack).
        uint256 back = (seed >> 40) % 4 == 0 ? (seed >> 48) % 3600 : (seed >> 40) % 30;
        r.observedAt = uint64(block.timestamp - (back > block.timestamp ? 0 : back));
        r.deadline = uint64(block.timestamp + 600);
        r.modelHash = MODEL;
        r.inputsHash = bytes32(seed);
    }

    /// @dev A consistent set near the stored one (so max-change often passes), sometimes pushed out
    ///      of bounds on one field.
    function _randomParams(bytes32 m, uint256 seed) internal view returns (uint128 p) {
        uint256 word = oracle.getMarketWord(m);
        uint256 vol = uint64(word >> 160) == 0 || uint16(word) == 0 ? 5000 : uint16(word);
        vol = vol + (seed % 201) - 100;
        uint256 v = 400 + (seed >> 8) % 100;
        uint256 im = 1000 + (seed >> 16) % 100;
        uint16[8] memory f = [uint16(vol), uint16(v), uint16(v + 100), uint16(im), uint16(im / 2), 8000, 3000, 9000];
        if ((seed >> 24) % 5 == 0) {
            IRiskOracle.Bounds memory b = oracle.getMarketBounds(m);
            uint256 i = (seed >> 32) % 8;
            IRiskOracle.FieldBounds memory fb = b.fields[i];
            f[i] = (seed >> 40) & 1 == 0 ? (fb.ceiling == type(uint16).max ? fb.ceiling : fb.ceiling + 1)
                : (fb.floor == 0 ? 0 : fb.floor - 1);
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

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {BoundsHarness} from "./utils/BoundsHarness.sol";
import {RiskOracleFixture} from "./utils/RiskOracleFixture.sol";

/// @notice Property tests: the SWAR bounds checks against a naive per-field reference, packing
///         round-trips, rounds, max-change rules and guardian tightening.
contract RiskOracleFuzzTest is RiskOracleFixture {
    BoundsHarness internal harness;

    function setUp() public override {
        super.setUp();
        harness = new BoundsHarness();
    }

    // ------------------------------------------------------------------------------------------
    // Bounds: SWAR check == reference, revert data included
    // ------------------------------------------------------------------------------------------

    /// @dev Random words: almost everything fails somewhere, which exercises every error's field naming.
    function testFuzz_check_randomWords_matchesReference(
        uint128 params,
        uint128 stored,
        uint256 a,
        uint256 w,
        bool first
    ) public view {
        _assertCheckMatchesReference(params, stored, a, w, first);
    }

    /// @dev Values drawn near valid ranges so that acceptance and each error are all common.
    function testFuzz_check_nearBounds_matchesReference(uint256 seed, bool first) public view {
        (uint256 a, uint256 w) = _randomProfile(seed);
        uint128 stored = _fieldsNear(a, uint256(keccak256(abi.encode(seed, 1))));
        uint128 params = _fieldsNear(a, uint256(keccak256(abi.encode(seed, 2))));
        _assertCheckMatchesReference(params, stored, a, w, first);
    }

    function _assertCheckMatchesReference(uint128 params, uint128 stored, uint256 a, uint256 w, bool first)
        internal
        view
    {
        bytes memory expected = _referenceCheck(BTC, params, stored, a, w, first);
        (bool ok, bytes memory ret) =
            address(harness).staticcall(abi.encodeCall(harness.check, (BTC, params, stored, a, w, first)));
        assertEq(ok ? 1 : 0, expected.length == 0 ? 1 : 0, "accepted iff the reference accepts");
        assertEq(keccak256(ret), keccak256(expected), "same error, field and values");
    }

    /// @dev The rules in their most literal form.
    function _referenceCheck(bytes32 id, uint256 p, uint256 s, uint256 a, uint256 w, bool first)
        internal
        pure
        returns (bytes memory)
    {
        for (uint256 i; i < 8; ++i) {
            uint16 v = uint16(p >> (16 * i));
            uint16 lo = uint16(a >> (16 * i));
            uint16 hi = uint16(a >> (128 + 16 * i));
            if (v < lo || v > hi) {
                return abi.encodeWithSelector(IRiskOracle.RiskOracleOutOfBounds.selector, id, uint8(i), v, lo, hi);
            }
        }
        for (uint256 i; i < 8 && !first; ++i) {
            uint16 v = uint16(p >> (16 * i));
            uint16 old = uint16(s >> (16 * i));
            uint16 m = uint16(w >> (16 * i));
            uint256 diff = v > old ? v - old : old - v;
            bool relative = (w >> (128 + i)) & 1 == 1;
            if (relative ? diff * 10000 > uint256(old) * m : diff > m) {
                return abi.encodeWithSelector(IRiskOracle.RiskOracleChangeTooLarge.selector, id, uint8(i), old, v, m);
            }
        }
        uint256[8] memory f;
        for (uint256 i; i < 8; ++i) {
            f[i] = uint16(p >> (16 * i));
        }
        uint8 reason =
            f[4] > f[3] ? 1 : f[1] > f[2] ? 2 : f[5] + f[4] > 10000 ? 3 : f[6] > 10000 ? 4 : f[7] > 10000 ? 5 : 0;
        if (reason != 0) return abi.encodeWithSelector(IRiskOracle.RiskOracleInconsistentParams.selector, id, reason);
        return "";
    }

    function _randomProfile(uint256 seed) internal pure returns (uint256 a, uint256 w) {
        for (uint256 i; i < 8; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, "profile", i)));
            uint256 lo = r % 6000;
            uint256 hi = lo + (r >> 16) % 6000;
            a |= (lo << (16 * i)) | (hi << (128 + 16 * i));
            w |= ((r >> 32) % 6000) << (16 * i);
        }
        w |= (seed % 256) << 128;
    }

    function _fieldsNear(uint256 a, uint256 seed) internal pure returns (uint128 p) {
        for (uint256 i; i < 8; ++i) {
            uint256 lo = uint16(a >> (16 * i));
            uint256 hi = uint16(a >> (128 + 16 * i));
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            // Mostly inside [lo, hi], sometimes just outside.
            uint256 v = lo + r % (hi - lo + 1);
            if (r >> 250 == 0 && lo > 0) v = lo - 1;
            if (r >> 250 == 1) v = hi + 1;
            p |= uint128(v << (16 * i));
        }
    }

    // ------------------------------------------------------------------------------------------
    // Packing
    // ------------------------------------------------------------------------------------------

    function testFuzz_marketWord_publishThenDecode_roundTrips(
        uint128 params,
        uint32 observed,
        uint64 rnd,
        uint8 profile,
        bool paused
    ) public view {
        uint256 word = harness.list(paused ? 1 << 233 : 0, profile);
        word = harness.publish(word, params, observed, rnd);
        IRiskOracle.RiskParams memory r = harness.toRiskParams(word);
        uint256 packed = uint256(r.volatility) | uint256(r.var99) << 16 | uint256(r.es99) << 32
            | uint256(r.initialMargin) << 48 | uint256(r.maintenanceMargin) << 64 | uint256(r.liquidationThreshold)
            << 80 | uint256(r.riskScore) << 96 | uint256(r.confidence) << 112;
        assertEq(packed, params, "params");
        assertEq(r.observedAt, observed, "observedAt");
        assertEq(r.round, rnd, "round");
        assertEq(uint8(word >> 224), profile, "profile kept");
        assertEq((word >> 232) & 1, 1, "listed");
        assertEq((word >> 233) & 1, paused ? 1 : 0, "paused kept");
        assertEq(word >> 234, 0, "high bits zero");
    }

    function testFuzz_bounds_encodeDecode_roundTrips(uint256 seed) public view {
        IRiskOracle.Bounds memory b;
        for (uint256 i; i < 8; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint16 lo = uint16(r);
            uint16 hi = uint16(bound(r >> 16, lo, type(uint16).max));
            b.fields[i] = IRiskOracle.FieldBounds(lo, hi, uint16(r >> 32));
        }
        b.relativeMask = uint8(seed);
        b.minInterval = uint32(bound(uint32(seed >> 8), 1, type(uint32).max));
        (uint256 a, uint256 w) = harness.encode(1, b);
        IRiskOracle.Bounds memory back = harness.decode(a, w);
        assertEq(keccak256(abi.encode(back)), keccak256(abi.encode(b)), "round trip");
    }

    // ------------------------------------------------------------------------------------------
    // Through the oracle: rounds and max change
    // ------------------------------------------------------------------------------------------

    function testFuzz_submitReport_secondRound_acceptedIffGreater(uint64 r1, uint64 r2) public {
        r1 = uint64(bound(r1, 1, 1 << 32));
        _publish(ETH, _pack(_defaultFields()), r1);
        vm.warp(block.timestamp + 1); // the wide profile's 1-s interval
        IRiskOracle.RiskReport memory rep = _report(ETH, _pack(_defaultFields()), r2);
        IRiskOracle.Signature[] memory sigs = _sign(rep, K);
        bool tooFar = r2 > r1 && r2 - r1 > oracle.MAX_ROUND_STEP();
        if (r2 <= r1) {
            vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleNonIncreasingRound.selector, ETH, r2, r1));
        } else if (tooFar) {
            vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleRoundStepTooLarge.selector, ETH, r2, r1));
        }
        oracle.submitReport(rep, sigs);
        assertEq(oracle.getRiskParams(ETH).round, r2 > r1 && !tooFar ? r2 : r1, "stored round");
    }

    function testFuzz_submitReport_volatilityMove_relativeRule(uint16 oldVol, uint16 newVol) public {
        oldVol = uint16(bound(oldVol, 1000, 20000)); // strict profile range
        newVol = uint16(bound(newVol, 1000, 20000));
        uint16[8] memory f = _defaultFields();
        f[0] = oldVol;
        _publish(BTC, _pack(f), 1);
        vm.warp(T0 + 60);
        f[0] = newVol;
        IRiskOracle.RiskReport memory rep = _report(BTC, _pack(f), 2);
        IRiskOracle.Signature[] memory sigs = _sign(rep, K);
        uint256 diff = newVol > oldVol ? newVol - oldVol : oldVol - newVol;
        bool allowed = diff * 10000 <= uint256(oldVol) * 5000;
        if (!allowed) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IRiskOracle.RiskOracleChangeTooLarge.selector, BTC, uint8(0), oldVol, newVol, uint16(5000)
                )
            );
        }
        oracle.submitReport(rep, sigs);
        assertEq(oracle.getRiskParams(BTC).volatility, allowed ? newVol : oldVol, "stored vol");
    }

    function testFuzz_submitReport_liquidationMove_absoluteRule(uint16 newLt) public {
        newLt = uint16(bound(newLt, 1000, 9500));
        _publish(BTC, _pack(_defaultFields()), 1); // LT 8000, absolute maxChange 1000
        vm.warp(T0 + 60);
        uint16[8] memory f = _defaultFields();
        f[5] = newLt;
        f[4] = 400; // keep LT + MM <= 10000 for every LT tried
        IRiskOracle.RiskReport memory rep = _report(BTC, _pack(f), 2);
        IRiskOracle.Signature[] memory sigs = _sign(rep, K);
        uint256 diff = newLt > 8000 ? newLt - 8000 : 8000 - newLt;
        if (diff > 1000) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IRiskOracle.RiskOracleChangeTooLarge.selector, BTC, uint8(5), uint16(8000), newLt, uint16(1000)
                )
            );
        }
        oracle.submitReport(rep, sigs);
        assertEq(oracle.getRiskParams(BTC).liquidationThreshold, diff > 1000 ? 8000 : newLt, "stored LT");
    }

    // ------------------------------------------------------------------------------------------
    // Guardian: tightening accepted, any loosening refused with the first loosened field
    // ------------------------------------------------------------------------------------------

    function testFuzz_tightenBounds_acceptedIffNowhereLooser(uint256 seed) public {
        IRiskOracle.Bounds memory prev = _strictBounds();
        IRiskOracle.Bounds memory next = _strictBounds();
        for (uint256 i; i < 8; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            // Move each bound a little either way (never crossing floor/ceiling).
            next.fields[i].floor = uint16(bound(_jiggle(prev.fields[i].floor, r), 0, prev.fields[i].ceiling - 20));
            next.fields[i].ceiling =
                uint16(bound(_jiggle(prev.fields[i].ceiling, r >> 8), prev.fields[i].floor + 20, 65535));
            next.fields[i].maxChange = uint16(_jiggle(prev.fields[i].maxChange, r >> 16));
            // Most fields move only the protective way so that acceptance is common.
            if ((r >> 24) % 4 != 0) _protectiveOnly(prev.fields[i], next.fields[i], i);
            if ((r >> 24) % 4 != 0) {
                if (next.fields[i].maxChange > prev.fields[i].maxChange) {
                    next.fields[i].maxChange = prev.fields[i].maxChange;
                }
            }
        }
        next.minInterval = uint32(bound(seed >> 200, 50, 70));
        next.relativeMask = (seed >> 250) % 8 == 0 ? 0x0F : prev.relativeMask;
        uint8 expected = _referenceFirstLoosened(prev, next);
        vm.prank(GUARDIAN);
        if (expected != 255) {
            vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleNotTighter.selector, STRICT, expected));
        }
        oracle.tightenBounds(STRICT, next);
        IRiskOracle.Bounds memory stored = oracle.getBounds(STRICT);
        assertEq(keccak256(abi.encode(stored)), keccak256(abi.encode(expected == 255 ? next : prev)), "stored");
    }

    /// @dev Undo any move of `n` against field i's protective direction.
    function _protectiveOnly(IRiskOracle.FieldBounds memory p, IRiskOracle.FieldBounds memory n, uint256 i)
        internal
        pure
    {
        if (i <= 4) {
            if (n.floor < p.floor) n.floor = p.floor;
            if (n.ceiling < p.ceiling) n.ceiling = p.ceiling;
        } else if (i == 5) {
            if (n.floor > p.floor) n.floor = p.floor;
            if (n.ceiling > p.ceiling) n.ceiling = p.ceiling;
        } else {
            (n.floor, n.ceiling) = (p.floor, p.ceiling);
        }
    }

    /// @dev x moved by -10..+10, not below 0.
    function _jiggle(uint256 x, uint256 r) internal pure returns (uint256) {
        uint256 up = x + (r % 21);
        return up >= 10 ? up - 10 : 0;
    }

    function _referenceFirstLoosened(IRiskOracle.Bounds memory prev, IRiskOracle.Bounds memory next)
        internal
        pure
        returns (uint8)
    {
        for (uint256 i; i < 8; ++i) {
            IRiskOracle.FieldBounds memory p = prev.fields[i];
            IRiskOracle.FieldBounds memory n = next.fields[i];
            bool ok;
            if (i <= 4) ok = n.floor >= p.floor && n.ceiling >= p.ceiling; // protective: only up
            else if (i == 5) ok = n.floor <= p.floor && n.ceiling <= p.ceiling; // LT: only down
            else ok = n.floor == p.floor && n.ceiling == p.ceiling; // score, confidence: timelock only
            if (!ok || n.maxChange > p.maxChange) return uint8(i);
        }
        if (next.minInterval < prev.minInterval) return 8;
        if (next.relativeMask != prev.relativeMask) return 9;
        return 255;
    }
}

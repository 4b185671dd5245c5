// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IOptionsMarginEngine} from "../../contracts/consumers/IOptionsMarginEngine.sol";
import {OptionsMarginEngineBase} from "./OptionsMarginEngineBase.t.sol";

/// @notice Requirement arithmetic against a plain reference, for fuzzed margins and notionals.
contract OptionsMarginEngineMathTest is OptionsMarginEngineBase {
    uint256 internal constant MAX_NOTIONAL = uint256(uint128(type(int128).max));

    struct Case {
        int256[3] notionals;
        uint16[3] im;
        uint16[3] mm;
    }

    function _markets() internal pure returns (bytes32[3] memory) {
        return [BTC, ETH, bytes32("SOL-USD")];
    }

    function _signedBound(int256 x, uint256 maxAbs) internal pure returns (int256) {
        uint256 magnitude = bound(uint256(x < 0 ? -(x + 1) : x), 0, maxAbs);
        return x < 0 ? -int256(magnitude) : int256(magnitude);
    }

    function _setUpCase(Case memory c) internal returns (uint256 initialRef, uint256 maintenanceRef) {
        bytes32[3] memory ids = _markets();
        oracle.listMarket(ids[2], type(uint16).max);
        engine.listMarket(ids[2], MAX_AGE);
        uint256 weightedIm;
        uint256 weightedMm;
        uint16[3] memory ceilings = [BTC_MM_CEILING, ETH_MM_CEILING, 10_000];
        for (uint256 i; i < 3; ++i) {
            c.notionals[i] = _signedBound(c.notionals[i], MAX_NOTIONAL);
            // A real oracle only stores consistent sets: MM <= IM, MM <= its ceiling, LT + MM <= 100%.
            uint256 cap = c.im[i] < ceilings[i] ? c.im[i] : ceilings[i];
            c.mm[i] = uint16(bound(c.mm[i], 0, cap));
            oracle.publishMargins(ids[i], c.im[i], c.mm[i]);
            weightedIm += _abs(c.notionals[i]) * c.im[i];
            weightedMm += _abs(c.notionals[i]) * c.mm[i];
        }
        return (_ceilBps(weightedIm), _ceilBps(weightedMm));
    }

    function testFuzz_requirements_matchReference(Case memory c) public {
        (uint256 initialRef, uint256 maintenanceRef) = _setUpCase(c);
        bytes32[3] memory ids = _markets();
        if (initialRef != 0) _fund(ALICE, initialRef);
        for (uint256 i; i < 3; ++i) {
            _open(ALICE, ids[i], c.notionals[i]);
        }
        assertEq(engine.initialRequirement(ALICE), initialRef, "initial");
        (uint256 maintenance, bool fallbackUsed) = engine.maintenanceStatus(ALICE);
        assertEq(maintenance, maintenanceRef, "maintenance");
        assertFalse(fallbackUsed, "fresh data");
        assertEq(engine.isLiquidatable(ALICE) ? 1 : 0, initialRef < maintenanceRef ? 1 : 0, "liquidatable");
    }

    function testFuzz_withdraw_oneUnitBelowInitial_reverts(Case memory c) public {
        (uint256 initialRef,) = _setUpCase(c);
        vm.assume(initialRef > 0);
        bytes32[3] memory ids = _markets();
        _fund(ALICE, initialRef);
        for (uint256 i; i < 3; ++i) {
            _open(ALICE, ids[i], c.notionals[i]);
        }
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsMarginEngine.OptionsMarginEngineInsufficientCollateral.selector,
                ALICE,
                initialRef - 1,
                initialRef
            )
        );
        engine.withdraw(1);
    }

    function testFuzz_open_oneUnitShort_reverts(int256 notional, uint16 im) public {
        notional = _signedBound(notional, MAX_NOTIONAL);
        uint256 required = _ceilBps(_abs(notional) * im);
        vm.assume(required > 1);
        oracle.publishMargins(BTC, im, 0);
        _fund(ALICE, required - 1);
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOptionsMarginEngine.OptionsMarginEngineInsufficientCollateral.selector, ALICE, required - 1, required
            )
        );
        engine.setPosition(BTC, notional);
        _fund(ALICE, 1);
        _open(ALICE, BTC, notional);
        assertEq(engine.positionOf(ALICE, BTC), notional, "opens with exactly the requirement");
    }

    function testFuzz_maintenance_stale_usesCeilingTimesNotional(int256 notional, uint16 mm, uint16 ceiling) public {
        notional = _signedBound(notional, 1e36);
        vm.assume(notional != 0);
        mm = uint16(bound(mm, 0, 10_000));
        ceiling = uint16(bound(ceiling, mm, type(uint16).max));
        oracle.listMarket(BTC, ceiling); // moves BTC to a profile with this MM ceiling, keeps its data
        oracle.publishMargins(BTC, mm, mm);
        uint256 initial = _ceilBps(_abs(notional) * mm);
        if (initial != 0) _fund(ALICE, initial);
        _open(ALICE, BTC, notional);
        vm.warp(block.timestamp + MAX_AGE + 1);
        (uint256 maintenance, bool fallbackUsed) = engine.maintenanceStatus(ALICE);
        assertEq(maintenance, _ceilBps(_abs(notional) * ceiling), "ceiling requirement");
        assertTrue(fallbackUsed, "fallback");
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {IVolSurfaceOracle} from "../../contracts/interfaces/IVolSurfaceOracle.sol";
import {SurfaceSmile} from "../../contracts/libraries/SurfaceSmile.sol";
import {VolSurfaceOracleFixture} from "./VolSurfaceOracleFixture.t.sol";

/// @notice Happy path and every revert of the report path, reads, pauses, settlement, governance.
contract VolSurfaceOracleTest is VolSurfaceOracleFixture {
    // ------------------------------------------------------------------------------------------
    // Happy path
    // ------------------------------------------------------------------------------------------

    function test_submit_storesSmilesSpotShocksAndList() public {
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 1);
        _ssubmit(r);
        uint64[] memory exps = surf.expiriesOf(UBTC);
        assertEq(exps.length, 4, "listed");
        for (uint256 i; i < 4; ++i) {
            assertEq(exps[i], _expiry(i), "expiry order");
            assertEq(surf.getSmileWord(UBTC, exps[i]), r.smiles[i], "stored word = reported word");
            IVolSurfaceOracle.Smile memory s = surf.getSmile(UBTC, exps[i]);
            assertEq(s.observedAt, r.observedAt, "observedAt");
            assertEq(s.forward, 88_000e18, "forward WAD");
            // ATM vol ~50% (the fixture builds w(0) = 0.25 t up to rounding).
            uint256 atm = surf.impliedVol(UBTC, exps[i], 88_000e18);
            assertLe(atm, 0.5001e18, "atm vol high");
            assertGt(atm, 0.4999e18, "atm vol low");
        }
        (uint256 spot, uint64 at) = surf.getSpot(UBTC);
        assertEq(spot, 88_000e18, "spot");
        assertEq(at, r.observedAt, "spot time");
        IVolSurfaceOracle.Shocks memory sh = surf.getShocks(UBTC);
        assertEq(sh.priceMove, 0.16e18, "price move");
        assertEq(sh.volUp, 0.5e18, "vol up");
        assertEq(sh.volDown, 0.25e18, "vol down");
    }

    function test_submit_skewMakesLowStrikesDearer() public {
        _ssubmit(_default(UBTC, 1));
        uint64 e = _expiry(3);
        assertGt(surf.impliedVol(UBTC, e, 60_000e18), surf.impliedVol(UBTC, e, 88_000e18), "put wing above ATM");
    }

    function test_submit_secondRoundUpdatesSameSlots() public {
        _ssubmit(_default(UBTC, 1));
        vm.warp(block.timestamp + 60);
        IVolSurfaceOracle.SurfaceReport memory r = _sreport(UBTC, _smiles(4, block.timestamp - 5, 60), 2);
        _ssubmit(r);
        assertEq(surf.getSmileWord(UBTC, _expiry(2)), r.smiles[2], "updated");
        assertEq(surf.expiriesOf(UBTC).length, 4, "same list");
    }

    function test_submit_anExpiryDroppedByTheFitStaysListedUntilSettled() public {
        _ssubmit(_default(UBTC, 1));
        vm.warp(block.timestamp + 60);
        uint256[] memory all = _smiles(4, block.timestamp - 5, 50);
        uint256[] memory three = new uint256[](3);
        for (uint256 i; i < 3; ++i) {
            three[i] = all[i + 1];
        }
        _ssubmit(_sreport(UBTC, three, 2));
        assertEq(surf.expiriesOf(UBTC).length, 4, "dropped expiry kept");
        assertTrue(surf.getSmileWord(UBTC, _expiry(0)) != 0, "old smile kept");
    }

    function test_submit_aNewExpiryJoinsTheListInOrder() public {
        _ssubmit(_default(UBTC, 1)); // expiries 0..3
        vm.warp(block.timestamp + 60);
        uint256 observed = block.timestamp - 5;
        uint256[] memory s = new uint256[](3);
        s[0] = _smileAt(_expiry(1) - observed, 50);
        s[1] = _smileAt(_expiry(3) - observed, 50);
        s[2] = _smileAt(_expiry(9) - observed, 50); // new, after the last
        _ssubmit(_sreport(UBTC, s, 2));
        uint64[] memory exps = surf.expiriesOf(UBTC);
        assertEq(exps.length, 5, "union");
        for (uint256 i; i < 4; ++i) {
            assertEq(exps[i], _expiry(i), "kept in order");
        }
        assertEq(exps[4], _expiry(9), "appended");
        assertEq(surf.getSmileWord(UBTC, _expiry(9)), s[2], "new smile stored");
        // Grow past 8 (second list slot) and shrink back by settlement.
        vm.warp(block.timestamp + 60);
        observed = block.timestamp - 5;
        uint256[] memory many = new uint256[](10);
        for (uint256 i; i < 10; ++i) {
            many[i] = _smileAt(_expiry(i) - observed, 50);
        }
        _ssubmit(_sreport(UBTC, many, 3));
        assertEq(surf.expiriesOf(UBTC).length, 10, "ten listed");
        assertEq(surf.expiriesOf(UBTC)[9], _expiry(9), "second slot");
        vm.warp(_expiry(2) + 10);
        observed = block.timestamp - 5;
        uint256[] memory rest = new uint256[](7);
        for (uint256 i; i < 7; ++i) {
            rest[i] = _smileAt(_expiry(i + 3) - observed, 50);
        }
        _ssubmit(_sreport(UBTC, rest, 4));
        uint64[] memory left = surf.expiriesOf(UBTC);
        assertEq(left.length, 7, "three settled");
        assertEq(left[0], _expiry(3), "first left");
        (uint256 price,) = surf.settlementPrice(UBTC, _expiry(2));
        assertEq(price, 88_000e18, "settled");
    }

    function test_settlement_firstReportAtOrAfterExpiryFreezesItsSpot() public {
        _ssubmit(_default(UBTC, 1));
        uint64 e0 = _expiry(0);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceNotSettled.selector, UBTC, e0));
        surf.settlementPrice(UBTC, e0);
        vm.warp(e0 + 10);
        IVolSurfaceOracle.SurfaceReport memory r = _sreport(UBTC, new uint256[](3), 2);
        r.underlyingWords[0] = _uword(3);
        // Expiries 1..3 of the fixture's schedule remain.
        for (uint256 i; i < 3; ++i) {
            r.smiles[i] = _smileAt(_expiry(i + 1) - (e0 + 5), 50);
        }
        r.underlyingWords[0] = (r.underlyingWords[0] & ~uint256(0xFFFFFFFFFFFFFFFF)) | 90_000e8;
        _ssubmit(r);
        (uint256 price, uint64 at) = surf.settlementPrice(UBTC, e0);
        assertEq(price, 90_000e18, "settled at the report's spot");
        assertEq(at, e0 + 5, "observed at");
        assertEq(surf.getSmileWord(UBTC, e0), 0, "smile cleared");
        assertEq(surf.expiriesOf(UBTC).length, 3, "list shrank");
        // Frozen: a later report does not move it.
        vm.warp(block.timestamp + 120);
        IVolSurfaceOracle.SurfaceReport memory later = _sreport(UBTC, new uint256[](3), 3);
        later.underlyingWords[0] = _uword(3);
        for (uint256 i; i < 3; ++i) {
            later.smiles[i] = _smileAt(_expiry(i + 1) - later.observedAt, 50);
        }
        _ssubmit(later);
        (price,) = surf.settlementPrice(UBTC, e0);
        assertEq(price, 90_000e18, "frozen");
    }

    function test_submit_twoUnderlyingsInOneReport() public {
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 1);
        uint256[] memory s = _smiles(4, r.observedAt, 50);
        uint256[] memory both = new uint256[](8);
        for (uint256 i; i < 4; ++i) {
            both[i] = s[i];
            both[i + 4] = s[i];
        }
        r.underlyings = new bytes32[](2);
        r.underlyings[0] = UBTC;
        r.underlyings[1] = UETH;
        r.underlyingWords = new uint256[](2);
        r.underlyingWords[0] = _uword(4);
        r.underlyingWords[1] = _uword(4);
        r.smiles = both;
        _ssubmit(r);
        assertEq(surf.expiriesOf(UETH).length, 4, "eth listed");
    }

    // ------------------------------------------------------------------------------------------
    // Report-wide reverts
    // ------------------------------------------------------------------------------------------

    function test_revert_unknownSigner() public {
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 1);
        IRiskOracle.Signature[] memory sigs = _ssign(r, K);
        sigs[0] = _sig(0xBEEF, 0, surf.surfaceReportDigest(r));
        vm.expectRevert(
            abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnknownSigner.selector, uint8(0), vm.addr(0xBEEF))
        );
        surf.submitSurfaceReport(r, sigs);
    }

    function test_revert_signatureOverAnotherReport() public {
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 1);
        IRiskOracle.Signature[] memory sigs = _ssign(r, K);
        r.round = 2; // the digest changes: every signature recovers to some other address
        vm.expectRevert();
        surf.submitSurfaceReport(r, sigs);
    }

    function test_revert_duplicateAndTooFewSignatures() public {
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 1);
        IRiskOracle.Signature[] memory sigs = _ssign(r, K);
        sigs[2] = sigs[1];
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceDuplicateSigner.selector, uint8(1)));
        surf.submitSurfaceReport(r, sigs);
        IRiskOracle.Signature[] memory two = _ssign(r, 2);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceTooFewSignatures.selector, 2, 3));
        surf.submitSurfaceReport(r, two);
    }

    function test_revert_wrongEpoch() public {
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 1);
        r.epoch = 7;
        _expectSubmitRevert(r, abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceWrongEpoch.selector, 7, 1));
    }

    function test_revert_newSignerSetVoidsOldEpoch() public {
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 1);
        IRiskOracle.Signature[] memory sigs = _ssign(r, K);
        vm.prank(ADMIN);
        oracle.setSigners(signerAddrs, 2);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceWrongEpoch.selector, 1, 2));
        surf.submitSurfaceReport(r, sigs);
    }

    function test_epoch_bumpWithoutNewSnapshotReachesTheCacheWithTheFirstNewEpochReport() public {
        _ssubmit(_default(UBTC, 1)); // caches epoch 1 with the snapshot
        vm.prank(ADMIN);
        oracle.recoverMarketRound(BTC, 0); // epoch 2, same snapshot
        vm.warp(block.timestamp + 60);
        _ssubmit(_default(UBTC, 2)); // signed under epoch 2: refreshes the cache
        vm.warp(block.timestamp + 60);
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 3);
        r.epoch = 1;
        _expectSubmitRevert(r, abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceWrongEpoch.selector, 1, 2));
    }

    function test_revert_deadlineFutureStale() public {
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 1);
        r.deadline = uint64(block.timestamp - 1);
        _expectSubmitRevert(
            r,
            abi.encodeWithSelector(
                IVolSurfaceOracle.VolSurfaceDeadlinePassed.selector, r.deadline, uint64(block.timestamp)
            )
        );
        r = _default(UBTC, 1);
        r.observedAt = uint64(block.timestamp + 1);
        _expectSubmitRevert(
            r,
            abi.encodeWithSelector(
                IVolSurfaceOracle.VolSurfaceFutureReport.selector, r.observedAt, uint64(block.timestamp)
            )
        );
        r = _default(UBTC, 1);
        r.observedAt = uint64(block.timestamp - SURF_MAX_AGE - 1);
        _expectSubmitRevert(
            r, abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceStaleReport.selector, r.observedAt, SURF_MAX_AGE)
        );
    }

    function test_revert_modelNotAllowed() public {
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 1);
        r.modelHash = keccak256("other model");
        _expectSubmitRevert(
            r, abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceModelNotAllowed.selector, r.modelHash)
        );
    }

    function test_revert_malformed() public {
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 1);
        r.underlyingWords[0] = _uword(5); // announces 5 smiles, 4 follow
        _expectSubmitRevert(r, abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceMalformedReport.selector, 3));
        r = _default(UBTC, 1);
        r.underlyingWords[0] |= uint256(1) << 200;
        _expectSubmitRevert(r, abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceMalformedReport.selector, 4));
        r = _default(UBTC, 1);
        r.underlyingWords = new uint256[](0);
        _expectSubmitRevert(r, abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceMalformedReport.selector, 2));
    }

    // ------------------------------------------------------------------------------------------
    // Per-underlying reverts
    // ------------------------------------------------------------------------------------------

    function test_revert_unknownUnderlying() public {
        _expectSubmitRevert(
            _default(bytes32("DOGE"), 1),
            abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnknownUnderlying.selector, bytes32("DOGE"))
        );
    }

    function test_revert_nonIncreasingRoundAndReplay() public {
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 5);
        IRiskOracle.Signature[] memory sigs = _ssign(r, K);
        surf.submitSurfaceReport(r, sigs);
        vm.warp(block.timestamp + 120);
        r.deadline = uint64(block.timestamp + 600); // a fresh deadline but the same round
        sigs = _ssign(r, K);
        vm.expectRevert(
            abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceNonIncreasingRound.selector, UBTC, 5, 5)
        );
        surf.submitSurfaceReport(r, sigs);
    }

    function test_revert_roundStepTooLarge() public {
        _ssubmit(_default(UBTC, 1));
        vm.warp(block.timestamp + 120);
        uint64 far = 2 + (uint64(1) << 32);
        _expectSubmitRevert(
            _default(UBTC, far),
            abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceRoundStepTooLarge.selector, UBTC, far, 1)
        );
    }

    function test_revert_tooSoonAndTooFrequent() public {
        _ssubmit(_default(UBTC, 1));
        uint64 first = uint64(block.timestamp - 5);
        vm.warp(block.timestamp + 30);
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 2);
        _expectSubmitRevert(
            r,
            abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUpdateTooSoon.selector, UBTC, r.observedAt, first + 60)
        );
        // observedAt far enough apart, but the block is within 60 s of the last acceptance.
        vm.warp(block.timestamp + 28);
        uint64 accepted = first + 5;
        r = _default(UBTC, 2);
        r.observedAt = first + 60;
        _expectSubmitRevert(
            r,
            abi.encodeWithSelector(
                IVolSurfaceOracle.VolSurfaceUpdateTooFrequent.selector, UBTC, uint64(block.timestamp), accepted + 60
            )
        );
    }

    function test_revert_shockOutOfBounds() public {
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 1);
        r.underlyingWords[0] = (r.underlyingWords[0] & ~(uint256(0xFFFF) << 80)) | (uint256(30000) << 80);
        _expectSubmitRevert(
            r,
            abi.encodeWithSelector(
                IVolSurfaceOracle.VolSurfaceShockOutOfBounds.selector, UBTC, uint8(1), 30000, 1000, 20000
            )
        );
        r = _default(UBTC, 1);
        r.underlyingWords[0] &= ~uint256(0xFFFFFFFFFFFFFFFF);
        _expectSubmitRevert(r, abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceInvalidSpot.selector, UBTC));
    }

    function test_revert_spotMovedTooFar() public {
        _ssubmit(_default(UBTC, 1)); // spot 88,000; BTC allows +-30% per update
        vm.warp(block.timestamp + 60);
        IVolSurfaceOracle.SurfaceReport memory r = _default(UBTC, 2);
        r.underlyingWords[0] = (r.underlyingWords[0] & ~uint256(0xFFFFFFFFFFFFFFFF)) | 115_000e8; // +30.7%
        _expectSubmitRevert(
            r,
            abi.encodeWithSelector(
                IVolSurfaceOracle.VolSurfaceSpotChangeTooLarge.selector, UBTC, 88_000e18, 115_000e18
            )
        );
        r = _default(UBTC, 2);
        r.underlyingWords[0] = (r.underlyingWords[0] & ~uint256(0xFFFFFFFFFFFFFFFF)) | 61_000e8; // -30.7%
        _expectSubmitRevert(
            r,
            abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceSpotChangeTooLarge.selector, UBTC, 88_000e18, 61_000e18)
        );
        r = _default(UBTC, 2);
        r.underlyingWords[0] = (r.underlyingWords[0] & ~uint256(0xFFFFFFFFFFFFFFFF)) | 114_000e8; // +29.5%
        _ssubmit(r);
        (uint256 spot,) = surf.getSpot(UBTC);
        assertEq(spot, 114_000e18, "moved within the bound");
    }

    function test_revert_atmVolOutsideFloorCeiling() public {
        // A flat 5% smile 30 days out: b = 0, w = a = 0.05^2 * 30/365.
        IVolSurfaceOracle.SurfaceReport memory r = _sreport(UBTC, new uint256[](1), 1);
        r.smiles[0] = _word(205_479, 0, 0, 0, 1e8, 88_000e6, 30 days);
        IRiskOracle.Signature[] memory sigs = _ssign(r, K);
        try surf.submitSurfaceReport(r, sigs) {
            revert("accepted 5% ATM vol");
        } catch (bytes memory err) {
            assertEq(bytes32(bytes4(err)), bytes32(IVolSurfaceOracle.VolSurfaceAtmVolOutOfBounds.selector), "floor");
        }
        r = _sreport(UBTC, _smiles(2, block.timestamp - 5, 400), 1);
        sigs = _ssign(r, K);
        try surf.submitSurfaceReport(r, sigs) {
            revert("accepted 400% ATM vol");
        } catch (bytes memory err) {
            assertEq(bytes32(bytes4(err)), bytes32(IVolSurfaceOracle.VolSurfaceAtmVolOutOfBounds.selector), "error");
        }
    }

    function test_revert_atmVolChangeTooLarge() public {
        _ssubmit(_default(UBTC, 1));
        vm.warp(block.timestamp + 60);
        // 50% -> 80% is +60% > 50% max change; 50% -> 70% (+40%) passes.
        IVolSurfaceOracle.SurfaceReport memory r = _sreport(UBTC, _smiles(4, block.timestamp - 5, 80), 2);
        IRiskOracle.Signature[] memory sigs = _ssign(r, K);
        try surf.submitSurfaceReport(r, sigs) {
            revert("accepted +60%");
        } catch (bytes memory err) {
            assertEq(bytes32(bytes4(err)), bytes32(IVolSurfaceOracle.VolSurfaceAtmVolChangeTooLarge.selector), "error");
        }
        r = _sreport(UBTC, _smiles(4, block.timestamp - 5, 70), 2);
        _ssubmit(r);
        // And down: 70% -> 30% is -57%.
        vm.warp(block.timestamp + 60);
        r = _sreport(UBTC, _smiles(4, block.timestamp - 5, 30), 3);
        sigs = _ssign(r, K);
        try surf.submitSurfaceReport(r, sigs) {
            revert("accepted -57%");
        } catch (bytes memory err) {
            assertEq(bytes32(bytes4(err)), bytes32(IVolSurfaceOracle.VolSurfaceAtmVolChangeTooLarge.selector), "down");
        }
    }

    /// @dev Each SVI sanity check, on ETH (wide bounds) so nothing else fails first.
    function test_revert_eachSmileCheck() public {
        uint256 tau = 30 days;
        uint64 e = uint64(block.timestamp - 5 + tau);
        _expectSmile(_word(0, 1e8, 1e9, 0, 1e8, 1e8, tau), e, 1); // |rho| = 1
        _expectSmile(_word(1e7, 1e8, 0, 0, 0, 1e8, tau), e, 2); // sigma = 0
        _expectSmile(_word(-2e7, 1e8, 0, 0, 1e8, 1e8, tau), e, 3); // a + b sigma < 0
        uint256 twoYears = 2 * 365 days; // 4 / t = 2 < b (1 + |rho|) = 2 * 1.5
        _expectSmile(_word(1e7, 2e9, 5e8, 0, 1e8, 1e8, twoYears), uint64(block.timestamp - 5 + twoYears), 4);
        _expectSmile(_word(1e7, 1e8, 0, 0, 1e8, 0, tau), e, 5); // forward = 0
        _expectSmile(_word(1e7, 1e8, 0, 0, 1e8, 1e8, 0), uint64(block.timestamp - 5), 6); // tau = 0
        _expectSmile(_word(1e7, 1e8, 0, 0, 1e8, 1e8, tau) | (uint256(1) << 255), e, 7); // pause bit
        _expectSmile(_word(1e7, 1e8, 0, 0, 1e8, 1e8, tau) ^ (uint256(1) << 238), e, 10); // ATM field off by 1 bp
    }

    function test_revert_minimumVarianceBoundaryExact() public {
        // a + b sigma sqrt(1 - rho^2) with rho = 0.6: sqrt(0.64) = 0.8 -> b sigma 0.8 = 0.01 * 0.1 * 0.8 = 8e-4.
        uint256 tau = 30 days;
        uint64 e = uint64(block.timestamp - 5 + tau);
        _expectSmile(_word(-800_001, 1e7, 6e8, 0, 1e8, 1e8, tau), e, 3);
        IVolSurfaceOracle.SurfaceReport memory r = _sreport(UETH, new uint256[](1), 1);
        r.smiles[0] = _word(-800_000, 1e7, 6e8, 0, 1e8, 1e8, tau);
        _ssubmit(r); // exactly zero minimum variance is allowed
    }

    function test_revert_expiriesNotAscending() public {
        uint256[] memory s = _smiles(3, block.timestamp - 5, 50);
        (s[1], s[2]) = (s[2], s[1]);
        IVolSurfaceOracle.SurfaceReport memory r = _sreport(UETH, s, 1);
        uint64 e = uint64(r.observedAt + SurfaceSmile.tau(s[2]));
        _expectSubmitRevert(
            r, abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceInvalidSmile.selector, UETH, e, uint8(8))
        );
    }

    function test_revert_tooManyExpiries() public {
        _ssubmit(_sreport(UETH, _smiles(16, block.timestamp - 5, 50), 1));
        vm.warp(block.timestamp + 60);
        uint256[] memory one = new uint256[](1);
        one[0] = _smileAt(_expiry(20) - (block.timestamp - 5), 50);
        _expectSubmitRevert(
            _sreport(UETH, one, 2), abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceTooManyExpiries.selector, UETH, 17)
        );
    }

    function _expectSmile(uint256 word, uint64 expiry, uint8 reason) internal {
        IVolSurfaceOracle.SurfaceReport memory r = _sreport(UETH, new uint256[](1), 1);
        r.smiles[0] = word;
        _expectSubmitRevert(
            r, abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceInvalidSmile.selector, UETH, expiry, reason)
        );
    }

    // ------------------------------------------------------------------------------------------
    // Reads
    // ------------------------------------------------------------------------------------------

    function test_reads_revertOnUnknownNoDataStaleAndBadStrike() public {
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceNoData.selector, UBTC, 0));
        surf.getSpot(UBTC);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnknownExpiry.selector, UBTC, 1));
        surf.impliedVol(UBTC, 1, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnknownUnderlying.selector, DOGE));
        surf.getSmile(DOGE, 1);
        _ssubmit(_default(UBTC, 1));
        uint64 e = _expiry(1);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceInvalidStrike.selector, 0));
        surf.impliedVol(UBTC, e, 0);
        vm.warp(block.timestamp + 100);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVolSurfaceOracle.VolSurfaceStale.selector, UBTC, uint64(block.timestamp - 105), 50
            )
        );
        surf.getSmileNoOlderThan(UBTC, e, 50);
        assertGt(surf.impliedVolNoOlderThan(UBTC, e, 80_000e18, 200), 0, "fresh enough");
    }

    function test_getMarginInputs_equalsSeparateReadsAndRevertsLikeThem() public {
        _ssubmit(_default(UBTC, 1));
        uint64[] memory es = surf.expiriesOf(UBTC);
        assertGt(es.length, 1, "several expiries");
        (uint64 e0, uint64 e1) = (es[es.length - 1], es[0]); // any order
        uint64[] memory ask = new uint64[](2);
        (ask[0], ask[1]) = (e0, e1);
        (IVolSurfaceOracle.Shocks memory sh, uint256 spot, uint64 spotAt, IVolSurfaceOracle.Smile[] memory sm) =
            surf.getMarginInputs(UBTC, ask, 200);
        assertEq(keccak256(abi.encode(sh)), keccak256(abi.encode(surf.getShocks(UBTC))), "shocks");
        (uint256 spot1, uint64 spotAt1) = surf.getSpot(UBTC);
        assertEq(spot, spot1, "spot");
        assertEq(spotAt, spotAt1, "spot time");
        assertEq(sm.length, 2, "one smile per expiry");
        assertEq(keccak256(abi.encode(sm[0])), keccak256(abi.encode(surf.getSmileNoOlderThan(UBTC, e0, 200))), "smile 0");
        assertEq(keccak256(abi.encode(sm[1])), keccak256(abi.encode(surf.getSmileNoOlderThan(UBTC, e1, 200))), "smile 1");
        (,,, sm) = surf.getMarginInputs(UBTC, new uint64[](0), 200);
        assertEq(sm.length, 0, "no expiries, no smiles");
        ask[1] = 1;
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnknownExpiry.selector, UBTC, 1));
        surf.getMarginInputs(UBTC, ask, 200);
        ask[1] = e1;
        vm.warp(block.timestamp + 100);
        vm.expectRevert(
            abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceStale.selector, UBTC, uint64(block.timestamp - 105), 50)
        );
        surf.getMarginInputs(UBTC, ask, 50);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnknownUnderlying.selector, DOGE));
        surf.getMarginInputs(DOGE, ask, 200);
    }

    // ------------------------------------------------------------------------------------------
    // Pauses
    // ------------------------------------------------------------------------------------------

    function test_pause_riskOraclePauseStopsReportsAtOnceAndReadsAfterSync() public {
        _ssubmit(_default(UBTC, 1));
        vm.prank(GUARDIAN);
        oracle.pause();
        vm.warp(block.timestamp + 60);
        _expectSubmitRevert(_default(UBTC, 2), abi.encodeWithSelector(IVolSurfaceOracle.VolSurfacePaused.selector));
        surf.syncPause(); // anyone
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfacePaused.selector));
        surf.impliedVol(UBTC, _expiry(1), 88_000e18);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfacePaused.selector));
        surf.getSpot(UBTC);
        (uint64 since,) = surf.pauseWindow(UBTC);
        assertEq(since, block.timestamp, "pause start recorded");
        vm.prank(ADMIN);
        oracle.unpause();
        surf.syncPause();
        assertGt(surf.impliedVol(UBTC, _expiry(1), 88_000e18), 0, "readable again");
        (, uint64 resumed) = surf.pauseWindow(UBTC);
        assertEq(resumed, block.timestamp, "resume recorded");
    }

    function test_pause_ownGlobalAndUnderlyingPause() public {
        _ssubmit(_default(UBTC, 1));
        vm.prank(GUARDIAN);
        surf.pauseUnderlying(UBTC);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnderlyingPaused.selector, UBTC));
        surf.getSmile(UBTC, _expiry(0));
        vm.warp(block.timestamp + 60);
        _expectSubmitRevert(
            _default(UBTC, 2), abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnderlyingPaused.selector, UBTC)
        );
        vm.prank(GUARDIAN);
        vm.expectRevert(
            abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnauthorized.selector, GUARDIAN, bytes32(0))
        );
        surf.unpauseUnderlying(UBTC);
        vm.prank(ADMIN);
        surf.unpauseUnderlying(UBTC);
        vm.prank(GUARDIAN);
        surf.pause();
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfacePaused.selector));
        surf.impliedVol(UBTC, _expiry(0), 88_000e18);
        _expectSubmitRevert(_default(UBTC, 2), abi.encodeWithSelector(IVolSurfaceOracle.VolSurfacePaused.selector));
        vm.prank(ADMIN);
        surf.unpause();
        _ssubmit(_default(UBTC, 2));
    }

    function test_pause_strangerCannotPause() public {
        bytes32 role = surf.GUARDIAN_ROLE();
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnauthorized.selector, STRANGER, role));
        surf.pause();
    }

    // ------------------------------------------------------------------------------------------
    // Governance
    // ------------------------------------------------------------------------------------------

    function test_tighten_guardianMayOnlyTighten() public {
        IVolSurfaceOracle.SurfaceBounds memory b = _realBounds();
        b.atmVolFloor = 1500;
        b.atmVolMaxChange = 4000;
        b.minInterval = 120;
        vm.prank(GUARDIAN);
        surf.tightenSurfaceBounds(UBTC, b);
        assertEq(surf.getSurfaceBounds(UBTC).atmVolFloor, 1500, "tightened");
        b.atmVolMaxChange = 4500;
        vm.prank(GUARDIAN);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceNotTighter.selector, UBTC, uint8(2)));
        surf.tightenSurfaceBounds(UBTC, b);
        b = surf.getSurfaceBounds(UBTC);
        b.volDownFloor = 100;
        vm.prank(GUARDIAN);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceNotTighter.selector, UBTC, uint8(7)));
        surf.tightenSurfaceBounds(UBTC, b);
        b = surf.getSurfaceBounds(UBTC);
        b.minInterval = 10;
        vm.prank(GUARDIAN);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceNotTighter.selector, UBTC, uint8(9)));
        surf.tightenSurfaceBounds(UBTC, b);
        b = surf.getSurfaceBounds(UBTC);
        b.spotMaxChange = 4000;
        vm.prank(GUARDIAN);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceNotTighter.selector, UBTC, uint8(10)));
        surf.tightenSurfaceBounds(UBTC, b);
    }

    function test_governance_adminListsAndDelists() public {
        vm.prank(STRANGER);
        vm.expectRevert(
            abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceUnauthorized.selector, STRANGER, bytes32(0))
        );
        surf.setSurfaceBounds(DOGE, _realBounds());
        vm.prank(ADMIN);
        surf.setSurfaceBounds(DOGE, _realBounds());
        assertEq(surf.underlyings().length, 3, "listed");
        IVolSurfaceOracle.SurfaceBounds memory bad = _realBounds();
        bad.atmVolFloor = 40000;
        vm.prank(ADMIN);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceInvalidBounds.selector, DOGE));
        surf.setSurfaceBounds(DOGE, bad);
        _ssubmit(_default(UBTC, 1));
        vm.prank(ADMIN);
        surf.delistExpiry(UBTC, _expiry(2));
        assertEq(surf.expiriesOf(UBTC).length, 3, "delisted");
        assertEq(surf.getSmileWord(UBTC, _expiry(2)), 0, "slot cleared");
        vm.prank(ADMIN);
        vm.expectRevert(abi.encodeWithSelector(IVolSurfaceOracle.VolSurfaceInvalidMaxAge.selector, 0));
        surf.setMaxReportAge(0);
    }
}

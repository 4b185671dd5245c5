// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {RiskOracle} from "../../contracts/RiskOracle.sol";
import {RiskOracleFixture} from "./utils/RiskOracleFixture.sol";

/// @notice Deployment, governance, guardian powers, roles and reads.
contract RiskOracleGovernanceTest is RiskOracleFixture {
    event SignersUpdated(uint32 indexed epoch, address[] signers, uint8 threshold);
    event ModelAllowanceUpdated(bytes32 indexed modelHash, bool allowed);
    event BoundsUpdated(uint8 indexed profileId, IRiskOracle.Bounds bounds, bool tightenedByGuardian);
    event MarketListed(bytes32 indexed marketId, uint8 profileId);
    event PauseUpdated(bool paused);
    event MarketPauseUpdated(bytes32 indexed marketId, bool paused);
    event MaxReportAgeUpdated(uint32 maxReportAge);

    bytes32 internal constant ADMIN_ROLE = 0x00;

    // ------------------------------------------------------------------------------------------
    // Deployment
    // ------------------------------------------------------------------------------------------

    function test_constructor_initialConfig_readBack() public view {
        (address[] memory signers, uint8 k, uint32 epoch) = oracle.getSigners();
        assertEq(signers.length, N_SIGNERS, "signer count");
        for (uint256 i; i < N_SIGNERS; ++i) {
            assertEq(signers[i], signerAddrs[i], "signer");
        }
        assertEq(k, K, "threshold");
        assertEq(epoch, 1, "epoch");
        assertTrue(oracle.isModelAllowed(MODEL), "model");
        assertEq(oracle.getAllowedModels().length, 1, "models");
        assertEq(oracle.maxReportAge(), MAX_AGE, "max age");
        assertFalse(oracle.paused(), "paused");
        assertTrue(oracle.hasRole(ADMIN_ROLE, ADMIN), "admin role");
        assertTrue(oracle.hasRole(oracle.GUARDIAN_ROLE(), GUARDIAN), "guardian role");
        _assertBoundsEq(oracle.getBounds(STRICT), _strictBounds());
        _assertBoundsEq(oracle.getMarketBounds(ETH), _wideBounds());
        assertEq(oracle.getMarketWord(BTC), (uint256(1) << 232) | (uint256(STRICT) << 224), "BTC word");
        assertEq(oracle.getMarketWord(DOGE), 0, "unlisted word");
    }

    function test_constructor_emitsConfigEvents() public {
        address[] memory signers = signerAddrs;
        vm.expectEmit(true, false, false, true);
        emit SignersUpdated(1, signers, K);
        vm.expectEmit(true, false, false, true);
        emit ModelAllowanceUpdated(MODEL, true);
        vm.expectEmit(true, false, false, true);
        emit BoundsUpdated(WIDE, _wideBounds(), false);
        vm.expectEmit(true, false, false, true);
        emit BoundsUpdated(STRICT, _strictBounds(), false);
        vm.expectEmit(false, false, false, true);
        emit MaxReportAgeUpdated(MAX_AGE);
        vm.expectEmit(true, false, false, true);
        emit MarketListed(BTC, STRICT);
        vm.expectEmit(true, false, false, true);
        emit MarketListed(ETH, WIDE);
        _deploy(signers, K);
    }

    function test_constructor_zeroAdmin_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidDeployment.selector, uint8(1)));
        new RiskOracle(
            address(0),
            GUARDIAN,
            signerAddrs,
            K,
            new bytes32[](0),
            MAX_AGE,
            new uint8[](0),
            new IRiskOracle.Bounds[](0),
            new bytes32[](0),
            new uint8[](0)
        );
    }

    function test_constructor_profileArraysMismatch_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidDeployment.selector, uint8(2)));
        new RiskOracle(
            ADMIN,
            GUARDIAN,
            signerAddrs,
            K,
            new bytes32[](0),
            MAX_AGE,
            new uint8[](1),
            new IRiskOracle.Bounds[](0),
            new bytes32[](0),
            new uint8[](0)
        );
    }

    function test_constructor_marketArraysMismatch_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidDeployment.selector, uint8(3)));
        new RiskOracle(
            ADMIN,
            GUARDIAN,
            signerAddrs,
            K,
            new bytes32[](0),
            MAX_AGE,
            new uint8[](0),
            new IRiskOracle.Bounds[](0),
            new bytes32[](1),
            new uint8[](0)
        );
    }

    function test_constructor_zeroMaxAge_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidMaxAge.selector, uint32(0)));
        new RiskOracle(
            ADMIN,
            GUARDIAN,
            signerAddrs,
            K,
            new bytes32[](0),
            0,
            new uint8[](0),
            new IRiskOracle.Bounds[](0),
            new bytes32[](0),
            new uint8[](0)
        );
    }

    function test_constructor_marketUnderMissingProfile_reverts() public {
        bytes32[] memory markets = new bytes32[](1);
        markets[0] = BTC;
        uint8[] memory profiles = new uint8[](1);
        profiles[0] = 3;
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidBounds.selector, uint8(3)));
        new RiskOracle(
            ADMIN,
            GUARDIAN,
            signerAddrs,
            K,
            new bytes32[](0),
            MAX_AGE,
            new uint8[](0),
            new IRiskOracle.Bounds[](0),
            markets,
            profiles
        );
    }

    // ------------------------------------------------------------------------------------------
    // Signers
    // ------------------------------------------------------------------------------------------

    function test_setSigners_newSet_bumpsEpochAndEmits() public {
        address[] memory next = new address[](2);
        next[0] = signerAddrs[4];
        next[1] = signerAddrs[3];
        vm.expectEmit(true, false, false, true);
        emit SignersUpdated(2, next, 2);
        vm.prank(ADMIN);
        oracle.setSigners(next, 2);
        (address[] memory signers, uint8 k, uint32 epoch) = oracle.getSigners();
        assertEq(signers.length, 2, "count");
        assertEq(signers[0], signerAddrs[4], "signer 0");
        assertEq(k, 2, "k");
        assertEq(epoch, 2, "epoch");
    }

    function test_setSigners_empty_reverts() public {
        _expectInvalidSignerSet(new address[](0), 1);
    }

    function test_setSigners_thresholdZero_reverts() public {
        _expectInvalidSignerSet(signerAddrs, 0);
    }

    function test_setSigners_thresholdAboveCount_reverts() public {
        _expectInvalidSignerSet(signerAddrs, uint8(N_SIGNERS + 1));
    }

    function test_setSigners_moreThan31_reverts() public {
        address[] memory many = new address[](32);
        for (uint256 i; i < 32; ++i) {
            many[i] = vm.addr(0x1000 + i);
        }
        _expectInvalidSignerSet(many, 3);
    }

    function test_setSigners_exactly31_accepted() public {
        address[] memory many = new address[](31);
        for (uint256 i; i < 31; ++i) {
            many[i] = vm.addr(0x1000 + i);
        }
        vm.prank(ADMIN);
        oracle.setSigners(many, 16);
        (address[] memory signers,,) = oracle.getSigners();
        assertEq(signers[30], vm.addr(0x1000 + 30), "last signer");
    }

    function test_setSigners_zeroAddress_reverts() public {
        address[] memory s = signerAddrs;
        s[2] = address(0);
        _expectInvalidSignerSet(s, 3);
    }

    function test_setSigners_duplicate_reverts() public {
        address[] memory s = signerAddrs;
        s[4] = s[1];
        _expectInvalidSignerSet(s, 3);
    }

    // ------------------------------------------------------------------------------------------
    // Models, bounds, markets, max age
    // ------------------------------------------------------------------------------------------

    function test_setModelAllowed_addThenRemove_updatesListAndEmits() public {
        bytes32 m2 = keccak256("model-v2");
        vm.expectEmit(true, false, false, true);
        emit ModelAllowanceUpdated(m2, true);
        vm.prank(ADMIN);
        oracle.setModelAllowed(m2, true);
        assertTrue(oracle.isModelAllowed(m2), "added");
        assertEq(oracle.getAllowedModels().length, 2, "two models");
        vm.prank(ADMIN);
        oracle.setModelAllowed(MODEL, false);
        assertFalse(oracle.isModelAllowed(MODEL), "removed");
        bytes32[] memory left = oracle.getAllowedModels();
        assertEq(left.length, 1, "one model");
        assertEq(left[0], m2, "the other one stays");
    }

    function test_setModelAllowed_seventeenth_reverts() public {
        vm.startPrank(ADMIN);
        for (uint256 i = 1; i < 16; ++i) {
            oracle.setModelAllowed(bytes32(i), true);
        }
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleConfigFull.selector));
        oracle.setModelAllowed(bytes32(uint256(99)), true);
        vm.stopPrank();
    }

    function test_setBounds_newProfile_storedAndEmitted() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.minInterval = 300;
        vm.expectEmit(true, false, false, true);
        emit BoundsUpdated(7, b, false);
        vm.prank(ADMIN);
        oracle.setBounds(7, b);
        _assertBoundsEq(oracle.getBounds(7), b);
        _assertBoundsEq(oracle.getBounds(STRICT), _strictBounds()); // others untouched
    }

    function test_setBounds_loosen_allowedToAdmin() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[0].ceiling = 30000;
        vm.prank(ADMIN);
        oracle.setBounds(STRICT, b);
        assertEq(oracle.getBounds(STRICT).fields[0].ceiling, 30000, "ceiling");
    }

    function test_setBounds_floorAboveCeiling_reverts() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[3].floor = 6000;
        vm.prank(ADMIN);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidBounds.selector, uint8(2)));
        oracle.setBounds(2, b);
    }

    function test_setBounds_profileId32_reverts() public {
        vm.prank(ADMIN);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleConfigFull.selector));
        oracle.setBounds(32, _strictBounds());
    }

    function test_getBounds_missingProfile_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidBounds.selector, uint8(5)));
        oracle.getBounds(5);
    }

    function test_listMarket_newMarket_listedAndEmitted() public {
        vm.expectEmit(true, false, false, true);
        emit MarketListed(DOGE, WIDE);
        vm.prank(ADMIN);
        oracle.listMarket(DOGE, WIDE);
        assertEq(oracle.getMarketWord(DOGE), (uint256(1) << 232) | (uint256(WIDE) << 224), "word");
    }

    function test_listMarket_moveProfile_keepsPublishedData() public {
        _publish(BTC, _pack(_defaultFields()), 4);
        uint256 before = oracle.getMarketWord(BTC);
        vm.prank(ADMIN);
        oracle.listMarket(BTC, WIDE);
        uint256 word = oracle.getMarketWord(BTC);
        assertEq(word & ((1 << 224) - 1), before & ((1 << 224) - 1), "data kept");
        assertEq(uint8(word >> 224), WIDE, "profile");
    }

    function test_listMarket_missingProfile_reverts() public {
        vm.prank(ADMIN);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidBounds.selector, uint8(9)));
        oracle.listMarket(DOGE, 9);
    }

    function test_getMarketBounds_unlisted_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleUnknownMarket.selector, DOGE));
        oracle.getMarketBounds(DOGE);
    }

    function test_setMaxReportAge_updatesAndEmits() public {
        vm.expectEmit(false, false, false, true);
        emit MaxReportAgeUpdated(120);
        vm.prank(ADMIN);
        oracle.setMaxReportAge(120);
        assertEq(oracle.maxReportAge(), 120, "max age");
        (,, uint32 epoch) = oracle.getSigners();
        assertEq(epoch, 1, "epoch untouched");
    }

    function test_setMaxReportAge_zero_reverts() public {
        vm.prank(ADMIN);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidMaxAge.selector, uint32(0)));
        oracle.setMaxReportAge(0);
    }

    // ------------------------------------------------------------------------------------------
    // Pause
    // ------------------------------------------------------------------------------------------

    function test_pause_guardianPausesAdminUnpauses() public {
        vm.expectEmit(false, false, false, true);
        emit PauseUpdated(true);
        vm.prank(GUARDIAN);
        oracle.pause();
        assertTrue(oracle.paused(), "paused");
        vm.expectEmit(false, false, false, true);
        emit PauseUpdated(false);
        vm.prank(ADMIN);
        oracle.unpause();
        assertFalse(oracle.paused(), "unpaused");
    }

    function test_pause_adminMayPause() public {
        vm.prank(ADMIN);
        oracle.pause();
        assertTrue(oracle.paused(), "paused");
    }

    function test_pauseMarket_guardianPausesAdminUnpauses() public {
        vm.expectEmit(true, false, false, true);
        emit MarketPauseUpdated(BTC, true);
        vm.prank(GUARDIAN);
        oracle.pauseMarket(BTC);
        assertEq((oracle.getMarketWord(BTC) >> 233) & 1, 1, "paused bit");
        vm.prank(ADMIN);
        oracle.unpauseMarket(BTC);
        assertEq((oracle.getMarketWord(BTC) >> 233) & 1, 0, "unpaused bit");
    }

    function test_pauseMarket_unlisted_reverts() public {
        vm.prank(GUARDIAN);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleUnknownMarket.selector, DOGE));
        oracle.pauseMarket(DOGE);
    }

    // ------------------------------------------------------------------------------------------
    // Guardian tightening
    // ------------------------------------------------------------------------------------------

    function test_tightenBounds_tighter_storedAndEmitted() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[0].floor = 2000; // protective field: floor up
        b.fields[0].ceiling = 25000; // protective field: ceiling up
        b.fields[5].ceiling = 9000; // LT: ceiling down
        b.fields[2].maxChange = 1000;
        b.minInterval = 120;
        vm.expectEmit(true, false, false, true);
        emit BoundsUpdated(STRICT, b, true);
        vm.prank(GUARDIAN);
        oracle.tightenBounds(STRICT, b);
        _assertBoundsEq(oracle.getBounds(STRICT), b);
    }

    function test_tightenBounds_lowerFloor_reverts() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[3].floor = 99;
        _expectNotTighter(b, 3);
    }

    function test_tightenBounds_higherCeiling_reverts() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[6].ceiling = 10001;
        _expectNotTighter(b, 6);
    }

    function test_tightenBounds_largerMaxChange_reverts() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[7].maxChange = 10001;
        _expectNotTighter(b, 7);
    }

    function test_tightenBounds_shorterInterval_reverts() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.minInterval = 59;
        _expectNotTighter(b, 8);
    }

    function test_tightenBounds_otherRelativeMask_reverts() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.relativeMask = 0x0F;
        _expectNotTighter(b, 9);
    }

    function test_tightenBounds_firstLoosenedFieldNamed() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[1].floor = 60; // protective
        b.fields[4].ceiling = 3999; // MM ceiling down: the first unprotective field
        b.fields[5].floor = 2000; // LT floor up: unprotective too, later
        _expectNotTighter(b, 4);
    }

    function test_tightenBounds_missingProfile_reverts() public {
        vm.prank(GUARDIAN);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidBounds.selector, uint8(4)));
        oracle.tightenBounds(4, _strictBounds());
    }

    function test_tightenBounds_floorAboveCeiling_reverts() public {
        IRiskOracle.Bounds memory b = _strictBounds();
        b.fields[0].floor = 20001;
        vm.prank(GUARDIAN);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidBounds.selector, STRICT));
        oracle.tightenBounds(STRICT, b);
    }

    // ------------------------------------------------------------------------------------------
    // Roles: every governance function refuses the wrong caller
    // ------------------------------------------------------------------------------------------

    function test_adminFunctions_guardianOrStranger_revert() public {
        address[2] memory callers = [GUARDIAN, STRANGER];
        for (uint256 i; i < 2; ++i) {
            bytes memory err = abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, callers[i], ADMIN_ROLE
            );
            _expectCallReverts(callers[i], abi.encodeCall(oracle.setSigners, (signerAddrs, 2)), err);
            _expectCallReverts(callers[i], abi.encodeCall(oracle.setModelAllowed, (MODEL, false)), err);
            _expectCallReverts(callers[i], abi.encodeCall(oracle.setBounds, (STRICT, _wideBounds())), err);
            _expectCallReverts(callers[i], abi.encodeCall(oracle.listMarket, (DOGE, WIDE)), err);
            _expectCallReverts(callers[i], abi.encodeCall(oracle.setMaxReportAge, (1)), err);
            _expectCallReverts(callers[i], abi.encodeCall(oracle.unpause, ()), err);
            _expectCallReverts(callers[i], abi.encodeCall(oracle.unpauseMarket, (BTC)), err);
        }
    }

    function test_guardianFunctions_stranger_revert() public {
        bytes memory err = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, STRANGER, oracle.GUARDIAN_ROLE()
        );
        _expectCallReverts(STRANGER, abi.encodeCall(oracle.pause, ()), err);
        _expectCallReverts(STRANGER, abi.encodeCall(oracle.pauseMarket, (BTC)), err);
        _expectCallReverts(STRANGER, abi.encodeCall(oracle.tightenBounds, (STRICT, _strictBounds())), err);
    }

    // ------------------------------------------------------------------------------------------
    // Reads
    // ------------------------------------------------------------------------------------------

    function test_getRiskParams_neverPublished_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleNoData.selector, BTC));
        oracle.getRiskParams(BTC);
    }

    function test_getRiskParamsNoOlderThan_fresh_returns() public {
        _publish(BTC, _pack(_defaultFields()), 1); // observedAt T0 - 5
        vm.warp(T0 + 95);
        assertEq(oracle.getRiskParamsNoOlderThan(BTC, 100).round, 1, "exactly 100 s old is fine");
    }

    function test_getRiskParamsNoOlderThan_stale_reverts() public {
        _publish(BTC, _pack(_defaultFields()), 1);
        vm.warp(T0 + 96);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskOracle.RiskOracleStaleParams.selector, BTC, uint64(T0 - 5), uint256(100))
        );
        oracle.getRiskParamsNoOlderThan(BTC, 100);
    }

    function test_getRiskParamsNoOlderThan_neverPublished_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleNoData.selector, ETH));
        oracle.getRiskParamsNoOlderThan(ETH, 100);
    }

    function test_getRiskParamsBatch_returnsEachInOrder() public {
        uint16[8] memory f = _defaultFields();
        _publish(BTC, _pack(f), 1);
        f[0] = 8000;
        _publish(ETH, _pack(f), 2);
        bytes32[] memory ids = new bytes32[](2);
        ids[0] = ETH;
        ids[1] = BTC;
        IRiskOracle.RiskParams[] memory out = oracle.getRiskParamsBatch(ids);
        assertEq(out[0].volatility, 8000, "eth");
        assertEq(out[0].round, 2, "eth round");
        assertEq(out[1].volatility, 5000, "btc");
        assertEq(out[1].round, 1, "btc round");
    }

    function test_getRiskParamsBatch_unpublishedMember_reverts() public {
        _publish(BTC, _pack(_defaultFields()), 1);
        bytes32[] memory ids = new bytes32[](2);
        ids[0] = BTC;
        ids[1] = ETH;
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleNoData.selector, ETH));
        oracle.getRiskParamsBatch(ids);
    }

    // ------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------

    function _expectInvalidSignerSet(address[] memory signers, uint8 k) internal {
        vm.prank(ADMIN);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleInvalidSignerSet.selector, signers.length, k));
        oracle.setSigners(signers, k);
    }

    function _expectCallReverts(address caller, bytes memory data, bytes memory err) internal {
        vm.prank(caller);
        (bool ok, bytes memory ret) = address(oracle).call(data);
        assertFalse(ok, "call by wrong role succeeded");
        assertEq(keccak256(ret), keccak256(err), "revert data");
    }

    function _assertBoundsEq(IRiskOracle.Bounds memory x, IRiskOracle.Bounds memory y) internal pure {
        for (uint256 i; i < 8; ++i) {
            assertEq(x.fields[i].floor, y.fields[i].floor, "floor");
            assertEq(x.fields[i].ceiling, y.fields[i].ceiling, "ceiling");
            assertEq(x.fields[i].maxChange, y.fields[i].maxChange, "maxChange");
        }
        assertEq(x.relativeMask, y.relativeMask, "relativeMask");
        assertEq(x.minInterval, y.minInterval, "minInterval");
    }
}

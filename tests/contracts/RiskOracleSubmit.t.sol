// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {RiskOracleFixture} from "./utils/RiskOracleFixture.sol";

/// @notice submitReport: the accepted path and every report-path custom error.
contract RiskOracleSubmitTest is RiskOracleFixture {
    event RiskReportAccepted(
        uint64 indexed round, uint32 epoch, uint256 signerBitmap, bytes32 modelHash, bytes32 inputsHash
    );
    event RiskParamsUpdated(bytes32 indexed marketId, uint256 marketWord);

    uint128 internal p0;

    function setUp() public override {
        super.setUp();
        p0 = _pack(_defaultFields());
    }

    // ------------------------------------------------------------------------------------------
    // Accepted reports
    // ------------------------------------------------------------------------------------------

    function test_submitReport_validK3_storesParamsAndRound() public {
        _publish(BTC, p0, 1);
        IRiskOracle.RiskParams memory r = oracle.getRiskParams(BTC);
        assertEq(r.volatility, 5000, "volatility");
        assertEq(r.var99, 500, "var99");
        assertEq(r.es99, 650, "es99");
        assertEq(r.initialMargin, 1000, "im");
        assertEq(r.maintenanceMargin, 500, "mm");
        assertEq(r.liquidationThreshold, 8000, "lt");
        assertEq(r.riskScore, 3000, "score");
        assertEq(r.confidence, 9000, "confidence");
        assertEq(r.observedAt, T0 - 5, "observedAt");
        assertEq(r.round, 1, "round");
    }

    function test_submitReport_valid_marketWordKeepsProfileAndListedBit() public {
        _publish(BTC, p0, 7);
        uint256 word = oracle.getMarketWord(BTC);
        assertEq(word & type(uint128).max, p0, "params");
        assertEq(uint32(word >> 128), T0 - 5, "observedAt");
        assertEq(uint64(word >> 160), 7, "round");
        assertEq(uint8(word >> 224), STRICT, "profile");
        assertEq((word >> 232) & 1, 1, "listed");
        assertEq((word >> 233) & 3, 0, "not paused");
        assertEq(word >> 235, 5, "acceptance lag: accepted 5 s after observedAt");
    }

    function test_submitReport_valid_emitsMarketThenReportEvents() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        uint256 expectedWord =
            (uint256(5) << 235) | (uint256(1) << 232) | (uint256(STRICT) << 224) | (uint256(1) << 160)
            | (uint256(T0 - 5) << 128) | p0;
        vm.expectEmit(true, false, false, true);
        emit RiskParamsUpdated(BTC, expectedWord);
        vm.expectEmit(true, false, false, true);
        emit RiskReportAccepted(1, 1, 0x7, MODEL, INPUTS);
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_batch_storesEveryMarket() public {
        bytes32[] memory ids = new bytes32[](2);
        ids[0] = BTC;
        ids[1] = ETH;
        uint128[] memory ps = new uint128[](2);
        ps[0] = p0;
        uint16[8] memory f = _defaultFields();
        f[0] = 9000;
        ps[1] = _pack(f);
        _submit(_reportMany(ids, ps, 3));
        assertEq(oracle.getRiskParams(BTC).volatility, 5000, "btc vol");
        assertEq(oracle.getRiskParams(ETH).volatility, 9000, "eth vol");
        assertEq(oracle.getRiskParams(ETH).round, 3, "eth round");
    }

    function test_submitReport_moreThanKSignaturesInAnyOrder_allCountedInBitmap() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        bytes32 digest = oracle.reportDigest(r);
        IRiskOracle.Signature[] memory sigs = new IRiskOracle.Signature[](4);
        sigs[0] = _sig(keys[4], 4, digest);
        sigs[1] = _sig(keys[0], 0, digest);
        sigs[2] = _sig(keys[2], 2, digest);
        sigs[3] = _sig(keys[3], 3, digest);
        vm.expectEmit(true, false, false, true);
        emit RiskReportAccepted(1, 1, 0x1D, MODEL, INPUTS);
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_firstPublication_skipsMaxChange() public {
        uint16[8] memory f = _defaultFields();
        f[0] = 19000; // far from anything stored, but there is nothing stored yet
        _publish(BTC, _pack(f), 1);
        assertEq(oracle.getRiskParams(BTC).volatility, 19000, "vol");
    }

    function test_submitReport_withinRelativeChange_accepted() public {
        _publish(BTC, p0, 1);
        vm.warp(T0 + 60);
        uint16[8] memory f = _defaultFields();
        f[0] = 7500; // +50% of 5000: exactly the relative limit
        _publish(BTC, _pack(f), 2);
        assertEq(oracle.getRiskParams(BTC).volatility, 7500, "vol");
    }

    function test_reportDigest_matchesEip712Encoding() public view {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 9);
        bytes32 typeHash = keccak256(
            "RiskReport(uint32 epoch,uint64 round,uint64 observedAt,uint64 deadline,bytes32 modelHash,bytes32 inputsHash,bytes32[] marketIds,uint128[] params)"
        );
        bytes32 structHash = keccak256(
            abi.encode(
                typeHash,
                r.epoch,
                r.round,
                r.observedAt,
                r.deadline,
                r.modelHash,
                r.inputsHash,
                keccak256(abi.encodePacked(r.marketIds)),
                keccak256(abi.encodePacked(r.params))
            )
        );
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("MLRA Risk Oracle"),
                keccak256("1"),
                block.chainid,
                address(oracle)
            )
        );
        bytes32 expected = keccak256(abi.encodePacked(hex"1901", domain, structHash));
        assertEq(oracle.reportDigest(r), expected, "digest");
    }

    // ------------------------------------------------------------------------------------------
    // Report-wide errors
    // ------------------------------------------------------------------------------------------

    function test_submitReport_globallyPaused_reverts() public {
        vm.prank(GUARDIAN);
        oracle.pause();
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOraclePaused.selector));
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_wrongEpoch_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        r.epoch = 2;
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleWrongEpoch.selector, uint32(2), uint32(1)));
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_signerSetChanged_inFlightReportDies() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.prank(ADMIN);
        oracle.setSigners(signerAddrs, 2);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleWrongEpoch.selector, uint32(1), uint32(2)));
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_deadlinePassed_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        r.deadline = uint64(T0 - 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskOracle.RiskOracleDeadlinePassed.selector, uint64(T0 - 1), uint64(T0))
        );
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_observedInFuture_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        r.observedAt = uint64(T0 + 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleFutureReport.selector, uint64(T0 + 1), uint64(T0)));
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_olderThanMaxReportAge_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        r.observedAt = uint64(T0 - MAX_AGE - 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRiskOracle.RiskOracleStaleReport.selector, uint64(T0 - MAX_AGE - 1), uint64(MAX_AGE)
            )
        );
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_exactlyMaxReportAge_accepted() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        r.observedAt = uint64(T0 - MAX_AGE);
        oracle.submitReport(r, _sign(r, K));
        assertEq(oracle.getRiskParams(BTC).observedAt, T0 - MAX_AGE, "observedAt");
    }

    function test_submitReport_empty_reverts() public {
        IRiskOracle.RiskReport memory r = _reportMany(new bytes32[](0), new uint128[](0), 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleMalformedReport.selector, 0, 0));
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_lengthMismatch_reverts() public {
        bytes32[] memory ids = new bytes32[](2);
        ids[0] = BTC;
        ids[1] = ETH;
        uint128[] memory ps = new uint128[](1);
        ps[0] = p0;
        IRiskOracle.RiskReport memory r = _reportMany(ids, ps, 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleMalformedReport.selector, 2, 1));
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_roundAboveUint64InRawCalldata_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        bytes memory data = abi.encodeCall(oracle.submitReport, (r, sigs));
        // Head: selector, offset(report), offset(sigs); the report's round is its second word.
        uint256 roundAt = 4 + 64 + 32;
        data[roundAt] = 0x01; // top byte of the round word: no longer a uint64
        (bool ok, bytes memory ret) = address(oracle).call(data);
        assertFalse(ok, "dirty round accepted");
        assertEq(
            keccak256(ret),
            keccak256(abi.encodeWithSelector(IRiskOracle.RiskOracleMalformedReport.selector, 1, 1)),
            "error"
        );
    }

    function test_submitReport_modelNotAllowed_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        r.modelHash = keccak256("rogue model");
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleModelNotAllowed.selector, r.modelHash));
        oracle.submitReport(r, sigs);
    }

    // ------------------------------------------------------------------------------------------
    // Signature errors
    // ------------------------------------------------------------------------------------------

    function test_submitReport_fewerThanK_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K - 1);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleTooFewSignatures.selector, K - 1, K));
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_indexOutsideSet_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        sigs[2] = _sig(keys[2], 5, oracle.reportDigest(r));
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleUnknownSigner.selector, uint8(5), signerAddrs[2]));
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_unauthorisedKey_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        sigs[1] = _sig(0xBEEF, 1, oracle.reportDigest(r));
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleUnknownSigner.selector, uint8(1), vm.addr(0xBEEF)));
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_signerNamesAnotherIndex_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        sigs[1] = _sig(keys[3], 1, oracle.reportDigest(r)); // signer 3's key claiming index 1
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleUnknownSigner.selector, uint8(1), signerAddrs[3]));
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_signatureOverOtherReport_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        r.inputsHash = keccak256("other inputs"); // signatures no longer match
        bytes32 digest = oracle.reportDigest(r);
        (bool ok, bytes memory ret) = address(oracle).call(abi.encodeCall(oracle.submitReport, (r, sigs)));
        assertFalse(ok, "accepted a tampered report");
        assertEq(bytes4(ret), IRiskOracle.RiskOracleUnknownSigner.selector, "error selector");
        assertTrue(digest != bytes32(0), "digest");
    }

    function test_submitReport_highS_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        // An s in the upper half of the curve order (n/2 + 1): ecrecover would accept such a malleable
        // signature; ECDSA.tryRecover rejects it before recovering, so the error names address(0).
        uint256 highS = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A1;
        sigs[0].vs = bytes32((uint256(sigs[0].vs) & (1 << 255)) | highS);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleUnknownSigner.selector, uint8(0), address(0)));
        oracle.submitReport(r, sigs);
    }

    function test_submitReport_duplicateSigner_reverts() public {
        IRiskOracle.RiskReport memory r = _report(BTC, p0, 1);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        sigs[2] = sigs[0];
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleDuplicateSigner.selector, uint8(0)));
        oracle.submitReport(r, sigs);
    }

    // ------------------------------------------------------------------------------------------
    // Per-market errors
    // ------------------------------------------------------------------------------------------

    function test_submitReport_unlistedMarket_reverts() public {
        _expectMarketRevert(
            _report(DOGE, p0, 1), abi.encodeWithSelector(IRiskOracle.RiskOracleUnknownMarket.selector, DOGE)
        );
    }

    function test_submitReport_marketPaused_reverts() public {
        vm.prank(GUARDIAN);
        oracle.pauseMarket(BTC);
        _expectMarketRevert(
            _report(BTC, p0, 1), abi.encodeWithSelector(IRiskOracle.RiskOracleMarketPaused.selector, BTC)
        );
    }

    function test_submitReport_replayedRound_reverts() public {
        _publish(BTC, p0, 1);
        vm.warp(T0 + 100);
        _expectMarketRevert(
            _report(BTC, p0, 1),
            abi.encodeWithSelector(IRiskOracle.RiskOracleNonIncreasingRound.selector, BTC, uint64(1), uint64(1))
        );
    }

    function test_submitReport_lowerRound_reverts() public {
        _publish(BTC, p0, 5);
        vm.warp(T0 + 100);
        _expectMarketRevert(
            _report(BTC, p0, 4),
            abi.encodeWithSelector(IRiskOracle.RiskOracleNonIncreasingRound.selector, BTC, uint64(4), uint64(5))
        );
    }

    function test_submitReport_sameMarketTwiceInReport_reverts() public {
        bytes32[] memory ids = new bytes32[](2);
        ids[0] = ETH;
        ids[1] = ETH;
        uint128[] memory ps = new uint128[](2);
        ps[0] = p0;
        ps[1] = p0;
        _expectMarketRevert(
            _reportMany(ids, ps, 1),
            abi.encodeWithSelector(IRiskOracle.RiskOracleNonIncreasingRound.selector, ETH, uint64(1), uint64(1))
        );
    }

    function test_submitReport_soonerThanMinInterval_reverts() public {
        _publish(BTC, p0, 1); // observedAt T0 - 5; strict profile minInterval 60
        vm.warp(T0 + 50);
        _expectMarketRevert(
            _report(BTC, p0, 2),
            abi.encodeWithSelector(
                IRiskOracle.RiskOracleUpdateTooSoon.selector, BTC, uint64(T0 + 45), uint64(T0 - 5 + 60)
            )
        );
    }

    function test_submitReport_belowFloor_reverts() public {
        uint16[8] memory f = _defaultFields();
        f[1] = 49; // var99 floor 50
        _expectMarketRevert(
            _report(BTC, _pack(f), 1),
            abi.encodeWithSelector(
                IRiskOracle.RiskOracleOutOfBounds.selector, BTC, uint8(1), uint16(49), uint16(50), uint16(3000)
            )
        );
    }

    function test_submitReport_aboveCeiling_reverts() public {
        uint16[8] memory f = _defaultFields();
        f[5] = 9501; // LT ceiling 9500 (and LT + MM would also be inconsistent: bounds come first)
        _expectMarketRevert(
            _report(BTC, _pack(f), 1),
            abi.encodeWithSelector(
                IRiskOracle.RiskOracleOutOfBounds.selector, BTC, uint8(5), uint16(9501), uint16(1000), uint16(9500)
            )
        );
    }

    function test_submitReport_relativeChangeTooLarge_reverts() public {
        _publish(BTC, p0, 1);
        vm.warp(T0 + 100);
        uint16[8] memory f = _defaultFields();
        f[0] = 7501; // > +50% of 5000
        _expectMarketRevert(
            _report(BTC, _pack(f), 2),
            abi.encodeWithSelector(
                IRiskOracle.RiskOracleChangeTooLarge.selector, BTC, uint8(0), uint16(5000), uint16(7501), uint16(5000)
            )
        );
    }

    function test_submitReport_absoluteChangeTooLarge_reverts() public {
        _publish(BTC, p0, 1);
        vm.warp(T0 + 100);
        uint16[8] memory f = _defaultFields();
        f[5] = 6999; // LT 8000 -> 6999: 1001 bp, absolute limit 1000
        _expectMarketRevert(
            _report(BTC, _pack(f), 2),
            abi.encodeWithSelector(
                IRiskOracle.RiskOracleChangeTooLarge.selector, BTC, uint8(5), uint16(8000), uint16(6999), uint16(1000)
            )
        );
    }

    function test_submitReport_maintenanceAboveInitial_reverts() public {
        uint16[8] memory f = _defaultFields();
        f[4] = 1001; // MM > IM 1000
        _expectInconsistent(f, 1);
    }

    function test_submitReport_varAboveEs_reverts() public {
        uint16[8] memory f = _defaultFields();
        f[1] = 651; // VaR > ES 650
        _expectInconsistent(f, 2);
    }

    function test_submitReport_ltPlusMmAbove100pct_reverts() public {
        uint16[8] memory f = _defaultFields();
        f[5] = 9501; // LT 9501 + MM 500 > 10000
        _expectInconsistent(f, 3);
    }

    function test_submitReport_scoreAbove10000_reverts() public {
        uint16[8] memory f = _defaultFields();
        f[6] = 10001;
        _expectInconsistent(f, 4);
    }

    function test_submitReport_confidenceAbove10000_reverts() public {
        uint16[8] memory f = _defaultFields();
        f[7] = 10001;
        _expectInconsistent(f, 5);
    }

    function test_submitReport_oneBadMarketInBatch_revertsWholeReport() public {
        bytes32[] memory ids = new bytes32[](2);
        ids[0] = ETH;
        ids[1] = DOGE;
        uint128[] memory ps = new uint128[](2);
        ps[0] = p0;
        ps[1] = p0;
        _expectMarketRevert(
            _reportMany(ids, ps, 1), abi.encodeWithSelector(IRiskOracle.RiskOracleUnknownMarket.selector, DOGE)
        );
        assertEq(oracle.getMarketWord(ETH) >> 160 & type(uint64).max, 0, "ETH untouched");
    }

    // ------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------

    function _expectMarketRevert(IRiskOracle.RiskReport memory r, bytes memory err) internal {
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.expectRevert(err);
        oracle.submitReport(r, sigs);
    }

    /// @dev On the wide-profile market (ETH) only consistency can fail.
    function _expectInconsistent(uint16[8] memory f, uint8 reason) internal {
        _expectMarketRevert(
            _report(ETH, _pack(f), 1),
            abi.encodeWithSelector(IRiskOracle.RiskOracleInconsistentParams.selector, ETH, reason)
        );
    }
}

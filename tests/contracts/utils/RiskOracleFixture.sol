// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IRiskOracle} from "../../../contracts/interfaces/IRiskOracle.sol";
import {RiskOracle} from "../../../contracts/RiskOracle.sol";
import {Assertions} from "./Assertions.sol";

/// @notice Shared set-up for the RiskOracle forge tests: a 5-signer, k = 3 oracle with a strict and a
///         wide bounds profile, two listed markets, and helpers that build, sign and submit reports.
abstract contract RiskOracleFixture is Assertions {
    address internal constant ADMIN = address(0xAD);
    address internal constant GUARDIAN = address(0x6A);
    address internal constant STRANGER = address(0xBAD);
    bytes32 internal constant MODEL = keccak256("model-manifest-v1");
    bytes32 internal constant INPUTS = keccak256("inputs");
    bytes32 internal constant BTC = bytes32("BTC-USD");
    bytes32 internal constant ETH = bytes32("ETH-USD");
    bytes32 internal constant DOGE = bytes32("DOGE-USD");
    uint8 internal constant STRICT = 1;
    uint8 internal constant WIDE = 0;
    uint32 internal constant MAX_AGE = 3600;
    uint256 internal constant N_SIGNERS = 5;
    uint8 internal constant K = 3;
    uint256 internal constant T0 = 1_750_000_000;

    RiskOracle internal oracle;
    uint256[] internal keys;
    address[] internal signerAddrs;

    function setUp() public virtual {
        vm.warp(T0);
        for (uint256 i; i < N_SIGNERS; ++i) {
            keys.push(0xA11CE + i);
            signerAddrs.push(vm.addr(0xA11CE + i));
        }
        oracle = _deploy(signerAddrs, K);
    }

    function _deploy(address[] memory signers, uint8 k) internal returns (RiskOracle) {
        bytes32[] memory models = new bytes32[](1);
        models[0] = MODEL;
        uint8[] memory ids = new uint8[](2);
        ids[0] = WIDE;
        ids[1] = STRICT;
        IRiskOracle.Bounds[] memory profiles = new IRiskOracle.Bounds[](2);
        profiles[0] = _wideBounds();
        profiles[1] = _strictBounds();
        bytes32[] memory markets = new bytes32[](2);
        markets[0] = BTC;
        markets[1] = ETH;
        uint8[] memory marketProfiles = new uint8[](2);
        marketProfiles[0] = STRICT;
        marketProfiles[1] = WIDE;
        return new RiskOracle(ADMIN, GUARDIAN, signers, k, models, MAX_AGE, ids, profiles, markets, marketProfiles);
    }

    // ------------------------------------------------------------------------------------------
    // Bounds profiles and params
    // ------------------------------------------------------------------------------------------

    /// @dev Anything consistent goes; changes unlimited; the smallest minimum interval (1 s).
    function _wideBounds() internal pure returns (IRiskOracle.Bounds memory b) {
        for (uint256 i; i < 8; ++i) {
            b.fields[i] = IRiskOracle.FieldBounds({floor: 0, ceiling: type(uint16).max, maxChange: type(uint16).max});
        }
        b.minInterval = 1;
    }

    /// @dev Realistic bounds: relative 50% for vol/VaR/ES/IM/MM, absolute for LT/score/confidence, 60 s interval.
    function _strictBounds() internal pure returns (IRiskOracle.Bounds memory b) {
        b.fields[0] = IRiskOracle.FieldBounds(1000, 20000, 5000);
        b.fields[1] = IRiskOracle.FieldBounds(50, 3000, 5000);
        b.fields[2] = IRiskOracle.FieldBounds(60, 4000, 5000);
        b.fields[3] = IRiskOracle.FieldBounds(100, 5000, 5000);
        b.fields[4] = IRiskOracle.FieldBounds(50, 4000, 5000);
        b.fields[5] = IRiskOracle.FieldBounds(1000, 9500, 1000);
        b.fields[6] = IRiskOracle.FieldBounds(0, 10000, 5000);
        b.fields[7] = IRiskOracle.FieldBounds(0, 10000, 10000);
        b.relativeMask = 0x1F;
        b.minInterval = 60;
    }

    /// @dev vol 50%, VaR 5%, ES 6.5%, IM 10%, MM 5%, LT 80%, score 30%, confidence 90%.
    function _defaultFields() internal pure returns (uint16[8] memory f) {
        f = [uint16(5000), 500, 650, 1000, 500, 8000, 3000, 9000];
    }

    function _pack(uint16[8] memory f) internal pure returns (uint128 w) {
        for (uint256 i; i < 8; ++i) {
            w |= uint128(f[i]) << uint128(16 * i);
        }
    }

    function _field(uint256 word, uint256 i) internal pure returns (uint16) {
        return uint16(word >> (16 * i));
    }

    // ------------------------------------------------------------------------------------------
    // Reports and signatures
    // ------------------------------------------------------------------------------------------

    function _report(bytes32 market, uint128 params, uint64 round)
        internal
        view
        returns (IRiskOracle.RiskReport memory r)
    {
        bytes32[] memory ids = new bytes32[](1);
        ids[0] = market;
        uint128[] memory ps = new uint128[](1);
        ps[0] = params;
        r = _reportMany(ids, ps, round);
    }

    function _reportMany(bytes32[] memory ids, uint128[] memory ps, uint64 round)
        internal
        view
        returns (IRiskOracle.RiskReport memory r)
    {
        (,, uint32 epoch) = oracle.getSigners();
        r.epoch = epoch;
        r.round = round;
        r.observedAt = uint64(block.timestamp - 5);
        r.deadline = uint64(block.timestamp + 600);
        r.modelHash = MODEL;
        r.inputsHash = INPUTS;
        r.marketIds = ids;
        r.params = ps;
    }

    /// @dev Compact (EIP-2098) signature of `digest` by `key`, naming signer index `index`.
    function _sig(uint256 key, uint8 index, bytes32 digest) internal pure returns (IRiskOracle.Signature memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        bytes32 vs = bytes32((uint256(v - 27) << 255) | uint256(s));
        return IRiskOracle.Signature({signer: index, r: r, vs: vs});
    }

    /// @dev Signatures by the first `count` signers, in index order.
    function _sign(IRiskOracle.RiskReport memory r, uint256 count)
        internal
        view
        returns (IRiskOracle.Signature[] memory sigs)
    {
        bytes32 digest = oracle.reportDigest(r);
        sigs = new IRiskOracle.Signature[](count);
        for (uint256 i; i < count; ++i) {
            sigs[i] = _sig(keys[i], uint8(i), digest);
        }
    }

    function _submit(IRiskOracle.RiskReport memory r) internal {
        oracle.submitReport(r, _sign(r, K));
    }

    /// @dev The guardian's tightenBounds(STRICT, b) must revert naming `field` as not protective.
    function _expectNotTighter(IRiskOracle.Bounds memory b, uint8 field) internal {
        vm.prank(GUARDIAN);
        vm.expectRevert(abi.encodeWithSelector(IRiskOracle.RiskOracleNotTighter.selector, STRICT, field));
        oracle.tightenBounds(STRICT, b);
    }

    /// @dev Publish `params` for `market` at `round` with k signatures.
    function _publish(bytes32 market, uint128 params, uint64 round) internal {
        _submit(_report(market, params, round));
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {IVolSurfaceOracle} from "../../contracts/interfaces/IVolSurfaceOracle.sol";
import {VolSurfaceOracle} from "../../contracts/VolSurfaceOracle.sol";
import {SurfaceSmile} from "../../contracts/libraries/SurfaceSmile.sol";
import {RiskOracleFixture} from "./utils/RiskOracleFixture.sol";

/// @notice Shared set-up for the VolSurfaceOracle tests: the RiskOracle fixture (5 signers, k = 3, ADMIN
///         and GUARDIAN roles) plus a surface oracle listing BTC (realistic bounds) and ETH (wide).
abstract contract VolSurfaceOracleFixture is RiskOracleFixture {
    bytes32 internal constant UBTC = bytes32("BTC");
    bytes32 internal constant UETH = bytes32("ETH");
    uint32 internal constant SURF_MAX_AGE = 3600;
    uint256 internal constant DAY = 1 days;

    VolSurfaceOracle internal surf;

    function setUp() public virtual override {
        super.setUp();
        bytes32[] memory us = new bytes32[](2);
        us[0] = UBTC;
        us[1] = UETH;
        IVolSurfaceOracle.SurfaceBounds[] memory bs = new IVolSurfaceOracle.SurfaceBounds[](2);
        bs[0] = _realBounds();
        bs[1] = _wideSurfaceBounds();
        surf = new VolSurfaceOracle(IRiskOracle(address(oracle)), SURF_MAX_AGE, us, bs);
    }

    /// @dev ATM vol 10%..300%, +-50% per update; shocks 5-50% / 10-200% / 5-90%; 60 s interval; spot +-30%.
    function _realBounds() internal pure returns (IVolSurfaceOracle.SurfaceBounds memory) {
        return IVolSurfaceOracle.SurfaceBounds(1000, 30000, 5000, 500, 5000, 1000, 20000, 500, 9000, 60, 3000);
    }

    function _wideSurfaceBounds() internal pure returns (IVolSurfaceOracle.SurfaceBounds memory) {
        return IVolSurfaceOracle.SurfaceBounds(0, 65535, 65535, 0, 65535, 0, 65535, 0, 65535, 1, 65535);
    }

    // ------------------------------------------------------------------------------------------
    // Words
    // ------------------------------------------------------------------------------------------

    function _word(int256 a, uint256 b, int256 rho, int256 m, uint256 sigma, uint256 fwd, uint256 tau)
        internal
        pure
        returns (uint256)
    {
        return SurfaceSmile.withAtm(SurfaceSmile.encode(SurfaceSmile.Params(a, b, rho, m, sigma, fwd, tau)));
    }

    /// @dev A BTC-like smile `tau` seconds out with ATM vol ~ volPct % (w(0) = vol^2 t exactly up to
    ///      rounding): b = 0.3 sqrt(t), rho = -0.12, m = 0.05 sqrt(t), sigma = 0.6 sqrt(t).
    function _smileAt(uint256 tau, uint256 volPct) internal pure returns (uint256) {
        uint256 t = (tau * 1e18) / SurfaceSmile.YEAR; // WAD
        uint256 root = SurfaceSmile.sqrtWad(t); // WAD
        int256 b = int256((3e17 * root) / 1e18);
        int256 m = int256((5e16 * root) / 1e18);
        int256 sigma = int256((6e17 * root) / 1e18);
        int256 a = _levelFor(volPct, t, b, m, sigma);
        return _word(a / 1e9, uint256(b / 1e9), -12e7, m / 1e9, uint256(sigma / 1e9), 88_000e6, tau);
    }

    /// @dev a = v t - b (sqrt(m^2 + sigma^2) - rho m) with rho = -0.12 (all WAD).
    function _levelFor(uint256 volPct, uint256 t, int256 b, int256 m, int256 sigma) internal pure returns (int256) {
        int256 r = int256(SurfaceSmile.sqrtWad(uint256((m * m + sigma * sigma) / 1e18)));
        return int256((volPct * volPct * 1e14 * t) / 1e18) - (b * (r + (12e16 * m) / 1e18)) / 1e18;
    }

    /// @dev Spot 88,000, shocks 16% / 50% / 25%, `n` smiles.
    function _uword(uint256 n) internal pure returns (uint256) {
        return uint256(88_000e8) | (uint256(1600) << 64) | (uint256(5000) << 80) | (uint256(2500) << 96) | (n << 112);
    }

    /// @dev `n` smiles 1, 2, ... days out at `volPct`, observed at `observed`; expiries at fixed times
    ///      (base + i days) so later reports hit the same slots.
    function _smiles(uint256 n, uint256 observed, uint256 volPct) internal pure returns (uint256[] memory s) {
        s = new uint256[](n);
        uint256 base = ((T0 / DAY) + 2) * DAY;
        for (uint256 i; i < n; ++i) {
            s[i] = _smileAt(base + i * DAY - observed, volPct);
        }
    }

    function _expiry(uint256 i) internal pure returns (uint64) {
        return uint64(((T0 / DAY) + 2) * DAY + i * DAY);
    }

    // ------------------------------------------------------------------------------------------
    // Reports
    // ------------------------------------------------------------------------------------------

    function _sreport(bytes32 u, uint256[] memory smiles, uint64 rnd)
        internal
        view
        returns (IVolSurfaceOracle.SurfaceReport memory r)
    {
        (,, uint32 epoch) = oracle.getSigners();
        r.epoch = epoch;
        r.round = rnd;
        r.observedAt = uint64(block.timestamp - 5);
        r.deadline = uint64(block.timestamp + 600);
        r.modelHash = MODEL;
        r.inputsHash = INPUTS;
        r.underlyings = new bytes32[](1);
        r.underlyings[0] = u;
        r.underlyingWords = new uint256[](1);
        r.underlyingWords[0] = _uword(smiles.length);
        r.smiles = smiles;
    }

    /// @dev The default report: `u` with 4 smiles at 50% observed 5 s ago.
    function _default(bytes32 u, uint64 rnd) internal view returns (IVolSurfaceOracle.SurfaceReport memory) {
        return _sreport(u, _smiles(4, block.timestamp - 5, 50), rnd);
    }

    function _ssign(IVolSurfaceOracle.SurfaceReport memory r, uint256 count)
        internal
        view
        returns (IRiskOracle.Signature[] memory sigs)
    {
        bytes32 digest = surf.surfaceReportDigest(r);
        sigs = new IRiskOracle.Signature[](count);
        for (uint256 i; i < count; ++i) {
            sigs[i] = _sig(keys[i], uint8(i), digest);
        }
    }

    function _ssubmit(IVolSurfaceOracle.SurfaceReport memory r) internal {
        surf.submitSurfaceReport(r, _ssign(r, K));
    }

    function _expectSubmitRevert(IVolSurfaceOracle.SurfaceReport memory r, bytes memory err) internal {
        IRiskOracle.Signature[] memory sigs = _ssign(r, K);
        vm.expectRevert(err);
        surf.submitSurfaceReport(r, sigs);
    }
}

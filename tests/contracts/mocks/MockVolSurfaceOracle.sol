// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVolSurfaceOracle} from "../../../contracts/interfaces/IVolSurfaceOracle.sol";

/// @notice Test double of the VolSurfaceOracle read side for the portfolio margin engine's tests and
///         gas bench. Stores each smile packed in three slots (as a real oracle would pack it, so the
///         engine's measured gas includes realistic cold reads), reverts like the interface says
///         (paused, unknown, no data, stale, not settled) and keeps pause windows. Anyone may write.
contract MockVolSurfaceOracle {
    // Not `is IVolSurfaceOracle`: that interface also carries the report and governance side, which a
    // read-side double has no business implementing. Tests cast the mock to IVolSurfaceOracle.
    struct PackedSmile {
        int128 a;
        uint128 b;
        int64 rho;
        int64 m;
        uint64 sigma;
        uint64 expiry;
        uint192 forward;
        uint64 observedAt;
    }

    struct PackedShocks {
        uint64 priceMove;
        uint64 volUp;
        uint64 volDown;
        uint64 observedAt;
    }

    struct Spot {
        uint192 price;
        uint64 observedAt;
    }

    struct Window {
        uint64 pausedSince;
        uint64 resumedAt;
        bool paused;
    }

    bool public globallyPaused;
    mapping(bytes32 => bool) public listed;
    mapping(bytes32 => mapping(uint64 => PackedSmile)) private _smiles;
    mapping(bytes32 => uint64[]) private _expiries;
    mapping(bytes32 => PackedShocks) private _shocks;
    mapping(bytes32 => Spot) private _spots;
    mapping(bytes32 => mapping(uint64 => Spot)) private _settlements;
    mapping(bytes32 => Window) private _windows;

    function setSmile(bytes32 u, uint64 expiry, IVolSurfaceOracle.Smile calldata s) external {
        listed[u] = true;
        if (_smiles[u][expiry].expiry == 0) _expiries[u].push(expiry);
        _smiles[u][expiry] = PackedSmile({
            a: int128(s.a),
            b: uint128(s.b),
            rho: int64(s.rho),
            m: int64(s.m),
            sigma: uint64(s.sigma),
            expiry: expiry,
            forward: uint192(s.forward),
            observedAt: s.observedAt
        });
    }

    function setShocks(bytes32 u, uint256 priceMove, uint256 volUp, uint256 volDown, uint64 observedAt) external {
        listed[u] = true;
        _shocks[u] = PackedShocks(uint64(priceMove), uint64(volUp), uint64(volDown), observedAt);
    }

    function setSpot(bytes32 u, uint256 price, uint64 observedAt) external {
        listed[u] = true;
        _spots[u] = Spot(uint192(price), observedAt);
    }

    function setSettlement(bytes32 u, uint64 expiry, uint256 price, uint64 observedAt) external {
        _settlements[u][expiry] = Spot(uint192(price), observedAt);
    }

    function pauseAll(bool paused) external {
        globallyPaused = paused;
    }

    function pauseUnderlying(bytes32 u, bool paused) external {
        Window storage w = _windows[u];
        if (paused && !w.paused) w.pausedSince = uint64(block.timestamp);
        if (!paused && w.paused) (w.pausedSince, w.resumedAt) = (0, uint64(block.timestamp));
        w.paused = paused;
    }

    function getSmile(bytes32 u, uint64 expiry) public view returns (IVolSurfaceOracle.Smile memory) {
        _readable(u);
        PackedSmile memory p = _smiles[u][expiry];
        if (p.expiry == 0) revert IVolSurfaceOracle.VolSurfaceUnknownExpiry(u, expiry);
        return IVolSurfaceOracle.Smile(p.a, p.b, p.rho, p.m, p.sigma, p.forward, p.expiry, p.observedAt);
    }

    function getSmileNoOlderThan(bytes32 u, uint64 expiry, uint256 maxAge) public view returns (IVolSurfaceOracle.Smile memory s) {
        s = getSmile(u, expiry);
        if (block.timestamp > s.observedAt && block.timestamp - s.observedAt > maxAge) revert IVolSurfaceOracle.VolSurfaceStale(u, s.observedAt, maxAge);
    }

    function impliedVol(bytes32, uint64, uint256) external pure returns (uint256) {
        revert("MockVolSurfaceOracle: impliedVol not modelled");
    }

    function getShocks(bytes32 u) public view returns (IVolSurfaceOracle.Shocks memory) {
        _readable(u);
        PackedShocks memory p = _shocks[u];
        if (p.observedAt == 0) revert IVolSurfaceOracle.VolSurfaceNoData(u, 0);
        return IVolSurfaceOracle.Shocks(p.priceMove, p.volUp, p.volDown, p.observedAt);
    }

    function getSpot(bytes32 u) external view returns (uint256, uint64) {
        _readable(u);
        Spot memory s = _spots[u];
        if (s.observedAt == 0) revert IVolSurfaceOracle.VolSurfaceNoData(u, 0);
        return (s.price, s.observedAt);
    }

    /// @dev As the real oracle's, except that an unset spot reads (0, 0) instead of reverting (the
    ///      engine uses the spot only for linear positions and rejects 0 there).
    function getMarginInputs(bytes32 u, uint64[] calldata expiries, uint256 maxAge)
        external
        view
        returns (IVolSurfaceOracle.Shocks memory shocks, uint256 spot, uint64 spotObservedAt, IVolSurfaceOracle.Smile[] memory smiles)
    {
        shocks = getShocks(u);
        (spot, spotObservedAt) = (_spots[u].price, _spots[u].observedAt);
        smiles = new IVolSurfaceOracle.Smile[](expiries.length);
        for (uint256 i; i < expiries.length; ++i) {
            smiles[i] = getSmileNoOlderThan(u, expiries[i], maxAge);
        }
    }

    function expiriesOf(bytes32 u) external view returns (uint64[] memory) {
        return _expiries[u];
    }

    function settlementPrice(bytes32 u, uint64 expiry) external view returns (uint256, uint64) {
        Spot memory s = _settlements[u][expiry];
        if (s.observedAt == 0) revert IVolSurfaceOracle.VolSurfaceNotSettled(u, expiry);
        return (s.price, s.observedAt);
    }

    function pauseWindow(bytes32 u) external view returns (uint64 pausedSince, uint64 resumedAt) {
        Window memory w = _windows[u];
        return (w.pausedSince, w.resumedAt);
    }

    function _readable(bytes32 u) private view {
        if (globallyPaused) revert IVolSurfaceOracle.VolSurfacePaused();
        if (!listed[u]) revert IVolSurfaceOracle.VolSurfaceUnknownUnderlying(u);
        if (_windows[u].paused) revert IVolSurfaceOracle.VolSurfaceUnderlyingPaused(u);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title IVolSurfaceOracle (read side)
/// @notice Implied-volatility surfaces per underlying: one raw-SVI smile per listed expiry, the
///         forward per expiry, the underlying's spot and the scenario shock sizes, published by the
///         same k-of-n EIP-712 report flow as the RiskOracle (its signer set, epoch and model
///         allow-list) and bounded by DAO rules per underlying.
/// @dev Units (all decoded getters return 18-decimal fixed point, "WAD"):
///      - raw SVI total variance w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)), with
///        k = ln(K / F) the log-moneyness and w = sigma_BS^2 * t the total implied variance;
///        a, m are signed WAD, b, sigma unsigned WAD, rho signed WAD in (-1, 1);
///      - t is the year fraction (expiry - observedAt) / 365 days, the time the smile was fitted at;
///      - forward, spot and settlement prices: WAD quote-currency units per unit of underlying (USD);
///      - shocks: priceMove is the fractional price move of the core scenario grid (0.16e18 = 16%);
///        volUp / volDown are relative moves of implied vol at 30 days to expiry (0.5e18 = +50%),
///        scaled by term by the consumer.
///      Reads revert rather than return unusable data: paused (globally, via the RiskOracle's pause,
///      or per underlying), unknown underlying or expiry, never published.
interface IVolSurfaceOracle {
    /// @notice One expiry's smile as published.
    struct Smile {
        int256 a;
        uint256 b;
        int256 rho;
        int256 m;
        uint256 sigma;
        uint256 forward;
        uint64 expiry;
        uint64 observedAt;
    }

    /// @notice Scenario shock sizes for one underlying as published (see units above).
    struct Shocks {
        uint256 priceMove;
        uint256 volUp;
        uint256 volDown;
        uint64 observedAt;
    }

    /// @notice The oracle (or the RiskOracle whose signers it shares) is paused.
    error VolSurfacePaused();
    /// @notice The underlying is paused.
    error VolSurfaceUnderlyingPaused(bytes32 underlying);
    /// @notice The underlying is not listed.
    error VolSurfaceUnknownUnderlying(bytes32 underlying);
    /// @notice The expiry is not listed for the underlying.
    error VolSurfaceUnknownExpiry(bytes32 underlying, uint64 expiry);
    /// @notice Nothing has been published for the underlying / expiry yet.
    error VolSurfaceNoData(bytes32 underlying, uint64 expiry);
    /// @notice The stored data is older than the caller's maximum age.
    error VolSurfaceStale(bytes32 underlying, uint64 observedAt, uint256 maxAge);
    /// @notice No settlement price has been recorded for the expiry yet.
    error VolSurfaceNotSettled(bytes32 underlying, uint64 expiry);

    /// @notice The smile of a listed expiry.
    function getSmile(bytes32 underlying, uint64 expiry) external view returns (Smile memory);

    /// @notice The smile, reverting with VolSurfaceStale if observedAt + maxAge < block.timestamp.
    function getSmileNoOlderThan(bytes32 underlying, uint64 expiry, uint256 maxAge)
        external
        view
        returns (Smile memory);

    /// @notice Black-76 implied volatility sigma(K, T) of the listed expiry at `strike` (WAD), as an
    ///         annualised WAD fraction: sqrt(w(ln(K / F)) / t). Python and Solidity agree on it within
    ///         the documented rounding (differential test).
    function impliedVol(bytes32 underlying, uint64 expiry, uint256 strike) external view returns (uint256);

    /// @notice The underlying's scenario shock sizes.
    function getShocks(bytes32 underlying) external view returns (Shocks memory);

    /// @notice The underlying's spot as last published and its observation time.
    function getSpot(bytes32 underlying) external view returns (uint256 spot, uint64 observedAt);

    /// @notice The listed expiries of an underlying, ascending.
    function expiriesOf(bytes32 underlying) external view returns (uint64[] memory);

    /// @notice The settlement price of an expiry: the spot of the first accepted report observed at
    ///         or after the expiry, frozen from then on. Reverts with VolSurfaceNotSettled before.
    function settlementPrice(bytes32 underlying, uint64 expiry) external view returns (uint256 price, uint64 observedAt);

    /// @notice When the underlying's current pause (its own or the global one) began, 0 if none, and
    ///         when the last pause ended (for consumers' liquidation grace periods).
    function pauseWindow(bytes32 underlying) external view returns (uint64 pausedSince, uint64 resumedAt);
}

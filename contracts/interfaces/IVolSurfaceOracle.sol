// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IRiskOracle} from "./IRiskOracle.sol";

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

    // ==========================================================================================
    // Added with the implementation (VolSurfaceOracle): report flow, bounds, governance, raw words.
    // Above this line nothing changed but the IRiskOracle import (for its Signature struct).
    // ==========================================================================================

    /// @notice The signed body of a surface report (EIP-712 primary type `SurfaceReport`, domain
    ///         {"MLRA Vol Surface Oracle", "1", chainId, the VolSurfaceOracle}).
    /// @param epoch The RiskOracle's signer-set epoch the report was signed under.
    /// @param round Must exceed the stored round of every underlying it updates (by at most 2^32).
    /// @param observedAt Unix time of the option chain the surfaces were fitted from.
    /// @param deadline Unix time after which the report must not be accepted.
    /// @param modelHash Model manifest hash; must be on the RiskOracle's allow-list.
    /// @param inputsHash Hash binding the inputs (the option chain) the nodes observed.
    /// @param underlyings Underlyings updated (ASCII symbol, left-aligned, zero padded, e.g. "BTC").
    /// @param underlyingWords Per underlying, same order ("report underlying word"):
    ///          bits   0..63  spot, uint64, 1e-8 quote units (WAD / 1e10)
    ///          bits  64..79  priceMove, uint16 bp (1600 = 16%)
    ///          bits  80..95  volUp, uint16 bp
    ///          bits  96..111 volDown, uint16 bp
    ///          bits 112..116 n, the number of this underlying's smiles in `smiles` (1..MAX_EXPIRIES)
    ///          bits 117..255 zero
    /// @param smiles The smile words of every underlying, concatenated in `underlyings` order, each
    ///        underlying's expiries strictly ascending. Layout ("smile word", also the stored slot):
    ///          bits   0..33  a,       int34,  1e-9 units (|a| < 8.59)
    ///          bits  34..65  b,       uint32, 1e-9 units (b < 4.29)
    ///          bits  66..96  rho,     int31,  1e-9 units (|rho| < 1 is checked)
    ///          bits  97..129 m,       int33,  1e-9 units (|m| < 4.29)
    ///          bits 130..162 sigma,   uint33, 1e-9 units (0 < sigma < 8.59)
    ///          bits 163..210 forward, uint48, 1e-6 quote units (WAD / 1e12; F < 2.8e8)
    ///          bits 211..237 tau,     uint27, expiry - observedAt in seconds (1 s .. 4.25 years), so
    ///                        expiry = observedAt + tau and t = tau / 365 days
    ///          bits 238..253 atmVol,  uint16, bp: floor(1e4 sqrt(w(0) / t)) as the contract computes
    ///                        it (checked; the bounds and the change limit compare these fields)
    ///          bit  254      underlying paused (stored mirror; zero in a report)
    ///          bit  255      oracle paused (stored mirror of the global pauses; zero in a report)
    struct SurfaceReport {
        uint32 epoch;
        uint64 round;
        uint64 observedAt;
        uint64 deadline;
        bytes32 modelHash;
        bytes32 inputsHash;
        bytes32[] underlyings;
        uint256[] underlyingWords;
        uint256[] smiles;
    }

    /// @notice DAO bounds of one underlying (all vols and shocks in bp, 1 bp = 0.01%).
    /// @param atmVolFloor Lowest accepted ATM implied vol sqrt(w(0) / t) of any published expiry.
    /// @param atmVolCeiling Highest accepted ATM implied vol.
    /// @param atmVolMaxChange Largest change of an expiry's ATM vol from its stored value in one
    ///        update, bp of the stored value (5000: within x0.5 .. x1.5); >= 10000 disables the lower side.
    /// @param priceMoveFloor .. volDownCeiling Floor and ceiling of each published shock.
    /// @param minInterval Smallest gap in seconds between two accepted updates of the underlying, both
    ///        in observedAt and in block time of acceptance (>= 1).
    /// @param spotMaxChange Largest change of the spot from the stored one in one update, bp of the
    ///        stored spot (>= 10000 disables the lower side). The spot settles expiries, so a quorum
    ///        can move a settlement price at most this far per minInterval.
    struct SurfaceBounds {
        uint16 atmVolFloor;
        uint16 atmVolCeiling;
        uint16 atmVolMaxChange;
        uint16 priceMoveFloor;
        uint16 priceMoveCeiling;
        uint16 volUpFloor;
        uint16 volUpCeiling;
        uint16 volDownFloor;
        uint16 volDownCeiling;
        uint32 minInterval;
        uint16 spotMaxChange;
    }

    // ------------------------------------------------------------------------------------------
    // Errors (report path)
    // ------------------------------------------------------------------------------------------

    /// @notice The report was signed under another signer-set epoch (the RiskOracle's).
    error VolSurfaceWrongEpoch(uint32 reportEpoch, uint32 currentEpoch);
    /// @notice The report's deadline has passed.
    error VolSurfaceDeadlinePassed(uint64 deadline, uint64 blockTime);
    /// @notice observedAt lies in the future.
    error VolSurfaceFutureReport(uint64 observedAt, uint64 blockTime);
    /// @notice observedAt is older than the oracle's maximum report age.
    error VolSurfaceStaleReport(uint64 observedAt, uint32 maxAge);
    /// @notice The arrays do not fit together (reason: 1 no underlying, 2 underlyings and words differ
    ///         in length, 3 the smile counts do not add up to `smiles.length`, 4 dirty bits in an
    ///         underlying word, 5 a smile count of 0 or above MAX_EXPIRIES, 6 a header word outside its
    ///         type: epoch above uint32, round, observedAt or deadline above uint64).
    error VolSurfaceMalformedReport(uint8 reason);
    /// @notice The model hash is not on the RiskOracle's allow-list.
    error VolSurfaceModelNotAllowed(bytes32 modelHash);
    /// @notice Fewer signatures than the RiskOracle's threshold.
    error VolSurfaceTooFewSignatures(uint256 signatures, uint256 threshold);
    /// @notice A signature's index is outside the signer set, or it recovers to another address.
    error VolSurfaceUnknownSigner(uint8 signer, address recovered);
    /// @notice Two signatures name the same signer.
    error VolSurfaceDuplicateSigner(uint8 signer);
    /// @notice The report's round does not exceed the underlying's stored round (replay or reorder).
    error VolSurfaceNonIncreasingRound(bytes32 underlying, uint64 round, uint64 storedRound);
    /// @notice The round exceeds the stored round by more than MAX_ROUND_STEP.
    error VolSurfaceRoundStepTooLarge(bytes32 underlying, uint64 round, uint64 storedRound);
    /// @notice observedAt is sooner after the stored one than the underlying's minInterval allows.
    error VolSurfaceUpdateTooSoon(bytes32 underlying, uint64 observedAt, uint64 earliest);
    /// @notice The previous update was accepted less than minInterval ago (block time).
    error VolSurfaceUpdateTooFrequent(bytes32 underlying, uint64 blockTime, uint64 earliest);
    /// @notice The spot is zero.
    error VolSurfaceInvalidSpot(bytes32 underlying);
    /// @notice The spot (WAD) moved further from the stored one (WAD) than spotMaxChange allows.
    error VolSurfaceSpotChangeTooLarge(bytes32 underlying, uint256 stored, uint256 spot);
    /// @notice A shock lies outside its floor/ceiling (field 0 priceMove, 1 volUp, 2 volDown).
    error VolSurfaceShockOutOfBounds(bytes32 underlying, uint8 field, uint16 value, uint16 floor, uint16 ceiling);
    /// @notice A smile fails a sanity check (reason: 1 |rho| >= 1, 2 sigma = 0, 3 minimum total
    ///         variance a + b sigma sqrt(1 - rho^2) < 0, 4 Lee's wing bound b (1 + |rho|) > 4 / t,
    ///         5 forward = 0, 6 tau = 0, 7 pause bits set, 8 expiry not after the previous one,
    ///         9 expiry beyond 2^32 - 1, 10 the atmVol field is not floor(1e4 sqrt(w(0) / t))).
    error VolSurfaceInvalidSmile(bytes32 underlying, uint64 expiry, uint8 reason);
    /// @notice The ATM vol (WAD, whole bp) of an expiry lies outside the underlying's floor/ceiling (WAD).
    error VolSurfaceAtmVolOutOfBounds(bytes32 underlying, uint64 expiry, uint256 atmVol, uint256 floor, uint256 ceiling);
    /// @notice The ATM vol (WAD, whole bp) moved further from the stored one than atmVolMaxChange allows.
    error VolSurfaceAtmVolChangeTooLarge(bytes32 underlying, uint64 expiry, uint256 stored, uint256 atmVol);
    /// @notice The underlying would list more than MAX_EXPIRIES unexpired expiries.
    error VolSurfaceTooManyExpiries(bytes32 underlying, uint256 count);
    /// @notice impliedVol: the strike is zero or so small that K / F rounds to zero.
    error VolSurfaceInvalidStrike(uint256 strike);

    // ------------------------------------------------------------------------------------------
    // Errors (governance)
    // ------------------------------------------------------------------------------------------

    /// @notice The caller lacks the RiskOracle role the call needs (DEFAULT_ADMIN_ROLE or GUARDIAN_ROLE).
    error VolSurfaceUnauthorized(address account, bytes32 role);
    /// @notice Bounds are inconsistent: a floor above its ceiling, or minInterval 0.
    error VolSurfaceInvalidBounds(bytes32 underlying);
    /// @notice A guardian change is not protective (field: 0..8 in SurfaceBounds order, 9 minInterval,
    ///         10 spotMaxChange).
    error VolSurfaceNotTighter(bytes32 underlying, uint8 field);
    /// @notice Already MAX_UNDERLYINGS underlyings listed (bounds the gas of pause()).
    error VolSurfaceTooManyUnderlyings(uint256 maxUnderlyings);
    /// @notice maxReportAge must be 1 .. 2^21 - 1 seconds.
    error VolSurfaceInvalidMaxAge(uint32 maxReportAge);
    /// @notice Constructor arguments are inconsistent (1 no RiskOracle code, 2 underlyings and bounds
    ///         differ in length).
    error VolSurfaceInvalidDeployment(uint8 reason);

    // ------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------

    /// @notice A report was accepted; `signerBitmap` bit i = RiskOracle signer index i co-signed.
    event SurfaceReportAccepted(
        uint64 indexed round, uint32 epoch, uint256 signerBitmap, bytes32 modelHash, bytes32 inputsHash
    );
    /// @notice An underlying's surface changed: its new state word (layout in SurfaceState). The smile
    ///         words stored are the report's (calldata of the accepted transaction; getSmileWord reads
    ///         them back): not repeated in the log, which would cost ~280 gas per expiry.
    event SurfaceUpdated(bytes32 indexed underlying, uint256 stateWord);
    /// @notice An expiry was settled at `price` (WAD) from the report observed at `observedAt`.
    event ExpirySettled(bytes32 indexed underlying, uint64 indexed expiry, uint256 price, uint64 observedAt);
    /// @notice The DAO removed an unexpired expiry (it will not be settled).
    event ExpiryDelisted(bytes32 indexed underlying, uint64 indexed expiry);
    /// @notice An underlying was listed or its bounds changed (by the DAO, or tightened by the guardian).
    event SurfaceBoundsUpdated(bytes32 indexed underlying, SurfaceBounds bounds, bool tightenedByGuardian);
    /// @notice The oracle's own global pause changed, or the RiskOracle's pause was mirrored (`synced`).
    event SurfacePauseUpdated(bool paused, bool synced);
    /// @notice An underlying's pause flag changed.
    event UnderlyingPauseUpdated(bytes32 indexed underlying, bool paused);
    /// @notice The maximum report age changed.
    event SurfaceMaxReportAgeUpdated(uint32 maxReportAge);

    // ------------------------------------------------------------------------------------------
    // Report submission and raw reads
    // ------------------------------------------------------------------------------------------

    /// @notice Verify a co-signed report (k-of-n of the RiskOracle's signers) and store every
    ///         underlying's spot, shocks and smiles, or revert. Listed expiries reached by observedAt
    ///         are settled at this report's spot first. Anyone may submit.
    function submitSurfaceReport(SurfaceReport calldata report, IRiskOracle.Signature[] calldata signatures)
        external;

    /// @notice The EIP-712 digest signers sign for `report`.
    function surfaceReportDigest(SurfaceReport calldata report) external view returns (bytes32);

    /// @notice One margin check's reads of one underlying in a single call (a consumer revaluing a book
    ///         saves one external call and one struct decoding per expiry): the shocks (as getShocks),
    ///         the spot and its observation time (as getSpot) and the smile of each of `expiries`, in
    ///         order (each as getSmileNoOlderThan(underlying, expiry, maxAge)). Reverts as those do.
    function getMarginInputs(bytes32 underlying, uint64[] calldata expiries, uint256 maxAge)
        external
        view
        returns (Shocks memory shocks, uint256 spot, uint64 spotObservedAt, Smile[] memory smiles);

    /// @notice The raw stored smile word (layout above; 0 if the expiry is not listed). Never reverts:
    ///         the caller must treat bits 254 and 255 as "do not use".
    function getSmileWord(bytes32 underlying, uint64 expiry) external view returns (uint256);

    /// @notice The raw state word of an underlying (layout in VolSurfaceOracle). Never reverts.
    function getStateWord(bytes32 underlying) external view returns (uint256);

    /// @notice sigma(K, T) like impliedVol, reverting with VolSurfaceStale if the smile is older than maxAge.
    function impliedVolNoOlderThan(bytes32 underlying, uint64 expiry, uint256 strike, uint256 maxAge)
        external
        view
        returns (uint256);

    /// @notice Every listed underlying, in listing order.
    function underlyings() external view returns (bytes32[] memory);

    /// @notice The bounds of a listed underlying.
    function getSurfaceBounds(bytes32 underlying) external view returns (SurfaceBounds memory);

    /// @notice The RiskOracle whose signers, threshold, epoch, model allow-list, roles and pause are used.
    function riskOracle() external view returns (address);

    /// @notice Maximum age of a report's observedAt at submission, seconds.
    function maxReportAge() external view returns (uint32);

    /// @notice Whether the oracle's own global pause, or the mirrored RiskOracle pause, is in force.
    function paused() external view returns (bool ownPause, bool riskOraclePause);

    // ------------------------------------------------------------------------------------------
    // Governance (roles are the RiskOracle's: DEFAULT_ADMIN_ROLE = the DAO's timelock, GUARDIAN_ROLE)
    // ------------------------------------------------------------------------------------------

    /// @notice DAO: list an underlying with its bounds, or replace the bounds of a listed one.
    function setSurfaceBounds(bytes32 underlying, SurfaceBounds calldata bounds) external;

    /// @notice DAO: set the maximum report age (1 .. 2^21 - 1 seconds).
    function setMaxReportAge(uint32 maxAge) external;

    /// @notice DAO: remove an unexpired listed expiry (a bogus listing); it is never settled.
    function delistExpiry(bytes32 underlying, uint64 expiry) external;

    /// @notice DAO: lift the oracle's own global pause (a mirrored RiskOracle pause stays until synced).
    function unpause() external;

    /// @notice DAO: lift an underlying's pause.
    function unpauseUnderlying(bytes32 underlying) external;

    /// @notice Guardian or DAO: pause every underlying (reports and typed reads revert).
    function pause() external;

    /// @notice Guardian or DAO: pause one underlying.
    function pauseUnderlying(bytes32 underlying) external;

    /// @notice Guardian or DAO: replace bounds with more protective ones: ATM-vol and shock floors and
    ///         ceilings may only rise (as the RiskOracle's protective fields), atmVolMaxChange and
    ///         spotMaxChange may only fall, minInterval may only grow.
    function tightenSurfaceBounds(bytes32 underlying, SurfaceBounds calldata bounds) external;

    /// @notice Anyone: mirror the RiskOracle's global pause into this oracle's words, so typed reads
    ///         revert while it is paused (reports check the RiskOracle's pause live and need no sync),
    ///         and refresh the cached threshold and epoch of the RiskOracle's signer set.
    function syncPause() external;
}

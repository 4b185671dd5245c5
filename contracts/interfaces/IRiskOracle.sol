// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title IRiskOracle
/// @notice Per-market risk parameters (volatility, VaR, ES, margins, liquidation threshold, score,
///         confidence) published by k-of-n co-signed EIP-712 reports and governed by a DAO.
/// @dev Units: every risk field is a uint16 in basis points (1 bp = 0.01%), so 0..65535 bp.
///      - volatility:           annualised volatility of log returns, bp (5000 = 50%/yr)
///      - var99 / es99:          1-day 99% Value-at-Risk / Expected Shortfall as a loss fraction of notional, bp
///      - initialMargin / maintenanceMargin: collateral per unit notional, bp
///      - liquidationThreshold:  maximum debt/collateral value before liquidation (lending LT), bp
///      - riskScore:             0 (calm) .. 10000 (extreme), dimensionless
///      - confidence:            0 .. 10000, the node network's confidence in this set
///
///      A report carries, per market, the eight fields packed into a uint128 ("params word"):
///        bits   0..15  volatility            bits  64..79  maintenanceMargin
///        bits  16..31  var99                 bits  80..95  liquidationThreshold
///        bits  32..47  es99                  bits  96..111 riskScore
///        bits  48..63  initialMargin         bits 112..127 confidence
///      Field index i (0..7) sits at bits [16*i, 16*i+16); errors name fields by this index.
///
///      Each market's state is one storage slot ("market word"):
///        bits   0..127 params word as above
///        bits 128..159 observedAt (uint32, unix seconds)
///        bits 160..223 round (uint64; 0 = never published)
///        bits 224..231 bounds profile id (uint8)
///        bit  232      listed
///        bit  233      market paused (pauseMarket)
///        bit  234      oracle paused (pause(): mirrored into every listed market's word, so a read
///                      sees both pauses in the one slot it loads)
///        bits 235..255 acceptance lag: block time of acceptance minus observedAt, seconds (< 2^21;
///                      maxReportAge is capped below 2^21), so acceptedAt = observedAt + lag
///
///      Pauses reach every reader: the typed reads (getRiskParams, getRiskParamsNoOlderThan,
///      getRiskParamsBatch) revert with RiskOraclePaused / RiskOracleMarketPaused while bit 234 /
///      bit 233 is set. getMarketWord is the raw slot and never reverts: whoever reads it must check
///      bits 233 and 234 (RiskParamAggregator does, and reverts).
interface IRiskOracle {
    // ------------------------------------------------------------------------------------------
    // Structs
    // ------------------------------------------------------------------------------------------

    /// @notice The signed body of a report (EIP-712 primary type `RiskReport`).
    /// @param epoch Signer-set epoch the report was signed under; any signer or threshold change bumps it.
    /// @param round Report round; must exceed every listed market's last stored round.
    /// @param observedAt Unix time of the observations the parameters were computed from.
    /// @param deadline Unix time after which the report must not be accepted.
    /// @param modelHash sha256 of the model manifest that produced the parameters (allow-listed by the DAO).
    /// @param inputsHash Hash binding the inputs the nodes observed (see the node's reports module).
    /// @param marketIds Markets updated by this report (ASCII symbol, left-aligned, zero padded, e.g. "BTC-USD").
    /// @param params Packed params word for each market, same order as `marketIds`.
    struct RiskReport {
        uint32 epoch;
        uint64 round;
        uint64 observedAt;
        uint64 deadline;
        bytes32 modelHash;
        bytes32 inputsHash;
        bytes32[] marketIds;
        uint128[] params;
    }

    /// @notice One signer's EIP-2098 compact signature over the report digest.
    /// @param signer Index of the signer in the current signer set (0..30).
    /// @param r ECDSA r.
    /// @param vs ECDSA yParity (top bit) and s (low 255 bits).
    struct Signature {
        uint8 signer;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Bounds for one field.
    /// @param floor Lowest accepted value, bp.
    /// @param ceiling Highest accepted value, bp.
    /// @param maxChange Largest change from the stored value in one update: bp of the stored value when
    ///        the field's bit in `Bounds.relativeMask` is set, else absolute bp. 65535 absolute = unlimited.
    ///        Since two accepted updates of a market are at least `minInterval` apart in block time,
    ///        this is also the largest change within any window of `minInterval` seconds.
    struct FieldBounds {
        uint16 floor;
        uint16 ceiling;
        uint16 maxChange;
    }

    /// @notice A bounds profile; every listed market points at one profile (markets may share one).
    /// @param fields Bounds per field index 0..7.
    /// @param relativeMask Bit i set: field i's maxChange is relative (bp of the stored value).
    /// @param minInterval Smallest gap, in seconds, between two accepted updates of a market, both in
    ///        observedAt and in block time of acceptance; at least 1 (several updates in one block
    ///        could otherwise stack maxChange).
    struct Bounds {
        FieldBounds[8] fields;
        uint8 relativeMask;
        uint32 minInterval;
    }

    /// @notice Decoded market state as returned by the getters.
    struct RiskParams {
        uint16 volatility;
        uint16 var99;
        uint16 es99;
        uint16 initialMargin;
        uint16 maintenanceMargin;
        uint16 liquidationThreshold;
        uint16 riskScore;
        uint16 confidence;
        uint32 observedAt;
        uint64 round;
    }

    // ------------------------------------------------------------------------------------------
    // Errors (report path)
    // ------------------------------------------------------------------------------------------

    /// @notice The whole oracle is paused by the guardian or the DAO.
    error RiskOraclePaused();
    /// @notice The market is paused.
    error RiskOracleMarketPaused(bytes32 marketId);
    /// @notice The market is not listed by the DAO.
    error RiskOracleUnknownMarket(bytes32 marketId);
    /// @notice A report is empty or `marketIds` and `params` differ in length.
    error RiskOracleMalformedReport(uint256 marketIds, uint256 params);
    /// @notice The report was signed under another signer-set epoch.
    error RiskOracleWrongEpoch(uint32 reportEpoch, uint32 currentEpoch);
    /// @notice observedAt lies in the future.
    error RiskOracleFutureReport(uint64 observedAt, uint64 blockTime);
    /// @notice observedAt is older than the oracle's maximum report age.
    error RiskOracleStaleReport(uint64 observedAt, uint64 maxAge);
    /// @notice The report's deadline has passed.
    error RiskOracleDeadlinePassed(uint64 deadline, uint64 blockTime);
    /// @notice The report's round does not exceed the market's stored round (replay or reorder).
    error RiskOracleNonIncreasingRound(bytes32 marketId, uint64 round, uint64 storedRound);
    /// @notice The update's observedAt is sooner than the market's minimum interval allows.
    error RiskOracleUpdateTooSoon(bytes32 marketId, uint64 observedAt, uint64 earliest);
    /// @notice The previous update of the market was accepted less than minInterval ago (block time).
    error RiskOracleUpdateTooFrequent(bytes32 marketId, uint64 blockTime, uint64 earliest);
    /// @notice The report's round exceeds the market's stored round by more than MAX_ROUND_STEP.
    error RiskOracleRoundStepTooLarge(bytes32 marketId, uint64 round, uint64 storedRound);
    /// @notice The model hash is not on the DAO's allow-list.
    error RiskOracleModelNotAllowed(bytes32 modelHash);
    /// @notice Fewer valid signatures than the threshold.
    error RiskOracleTooFewSignatures(uint256 signatures, uint256 threshold);
    /// @notice A signature's signer index is outside the set, or it recovers to another address.
    error RiskOracleUnknownSigner(uint8 signer, address recovered);
    /// @notice Two signatures name the same signer.
    error RiskOracleDuplicateSigner(uint8 signer);
    /// @notice A field lies outside its profile's floor/ceiling.
    error RiskOracleOutOfBounds(bytes32 marketId, uint8 field, uint16 value, uint16 floor, uint16 ceiling);
    /// @notice A field moved further than its profile's maxChange allows in one update.
    error RiskOracleChangeTooLarge(bytes32 marketId, uint8 field, uint16 stored, uint16 value, uint16 maxChange);
    /// @notice The parameter set contradicts itself (reason: 1 MM > IM, 2 VaR > ES, 3 LT + MM > 100%,
    ///         4 score > 10000, 5 confidence > 10000).
    error RiskOracleInconsistentParams(bytes32 marketId, uint8 reason);

    // ------------------------------------------------------------------------------------------
    // Errors (reads and governance)
    // ------------------------------------------------------------------------------------------

    /// @notice Nothing has been published for the market yet.
    error RiskOracleNoData(bytes32 marketId);
    /// @notice The stored parameters are older than the caller's maximum age.
    error RiskOracleStaleParams(bytes32 marketId, uint64 observedAt, uint256 maxAge);
    /// @notice Signer set invalid: empty, more than 31, zero address, duplicate, or threshold 0 / above n.
    error RiskOracleInvalidSignerSet(uint256 signers, uint256 threshold);
    /// @notice A bounds profile is invalid (floor above ceiling, minInterval 0) or does not exist.
    error RiskOracleInvalidBounds(uint8 profileId);
    /// @notice A guardian change is not protective (field 8 = minInterval, 9 = relativeMask): see
    ///         tightenBounds for what the guardian may do per field.
    error RiskOracleNotTighter(uint8 profileId, uint8 field);
    /// @notice The oracle already lists MAX_MARKETS markets (bounds the gas of pause()).
    error RiskOracleTooManyMarkets(uint256 maxMarkets);
    /// @notice Too many allow-listed models or profiles for the config snapshot.
    error RiskOracleConfigFull();
    /// @notice maxReportAge must be at least 1 and below 2^21 seconds (it bounds the stored acceptance lag).
    error RiskOracleInvalidMaxAge(uint32 maxReportAge);
    /// @notice Constructor arguments are inconsistent (reason: 1 zero admin, 2 profileIds and profiles
    ///         differ in length, 3 marketIds and marketProfiles differ in length).
    error RiskOracleInvalidDeployment(uint8 reason);

    // ------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------

    /// @notice A report was accepted. `signerBitmap` bit i = signer index i co-signed.
    event RiskReportAccepted(
        uint64 indexed round, uint32 epoch, uint256 signerBitmap, bytes32 modelHash, bytes32 inputsHash
    );
    /// @notice A market's state changed; `marketWord` is the new storage word (layout above).
    event RiskParamsUpdated(bytes32 indexed marketId, uint256 marketWord);
    /// @notice The signer set or threshold changed; reports of older epochs are void.
    event SignersUpdated(uint32 indexed epoch, address[] signers, uint8 threshold);
    /// @notice A model hash was added to or removed from the allow-list.
    event ModelAllowanceUpdated(bytes32 indexed modelHash, bool allowed);
    /// @notice A bounds profile was set (by the DAO) or tightened (by the guardian).
    event BoundsUpdated(uint8 indexed profileId, Bounds bounds, bool tightenedByGuardian);
    /// @notice A market was listed or moved to another profile.
    event MarketListed(bytes32 indexed marketId, uint8 profileId);
    /// @notice The global pause flag changed.
    event PauseUpdated(bool paused);
    /// @notice A market's pause flag changed.
    event MarketPauseUpdated(bytes32 indexed marketId, bool paused);
    /// @notice The maximum report age changed.
    event MaxReportAgeUpdated(uint32 maxReportAge);
    /// @notice The DAO reset a market's round counter; `epoch` is the new signer epoch, which voids
    ///         every report signed before the recovery.
    event MarketRoundRecovered(bytes32 indexed marketId, uint64 round, uint32 epoch);

    // ------------------------------------------------------------------------------------------
    // Report submission
    // ------------------------------------------------------------------------------------------

    /// @notice Verify a co-signed report and store every market's parameters, or revert.
    /// @dev Anyone may submit; validity comes from the signatures. Nothing is clamped: any failing
    ///      check reverts the whole report with the error naming the market, field and values.
    function submitReport(RiskReport calldata report, Signature[] calldata signatures) external;

    /// @notice The EIP-712 digest signers sign for `report`.
    function reportDigest(RiskReport calldata report) external view returns (bytes32);

    // ------------------------------------------------------------------------------------------
    // Reads
    // ------------------------------------------------------------------------------------------

    /// @notice Latest parameters of a market; reverts with RiskOracleNoData if none were published, and
    ///         with RiskOraclePaused / RiskOracleMarketPaused while the oracle / the market is paused.
    function getRiskParams(bytes32 marketId) external view returns (RiskParams memory);

    /// @notice Latest parameters, reverting like getRiskParams, and with RiskOracleStaleParams if older
    ///         than `maxAge` seconds.
    function getRiskParamsNoOlderThan(bytes32 marketId, uint256 maxAge) external view returns (RiskParams memory);

    /// @notice Latest parameters of several markets (reverts like getRiskParams on any unusable one).
    function getRiskParamsBatch(bytes32[] calldata marketIds) external view returns (RiskParams[] memory);

    /// @notice The raw market word (layout above); zero for a market never listed. Never reverts: the
    ///         caller must treat bits 233 (market paused) and 234 (oracle paused) as "do not use".
    function getMarketWord(bytes32 marketId) external view returns (uint256);

    /// @notice When the pauses that affect a market started and ended, for consumers' grace periods.
    /// @return pausedSince Start of the earliest pause (global or the market's) still in force; 0 if none.
    /// @return resumedAt The latest time a pause affecting the market (global or its own) was lifted; 0
    ///         if never.
    function pauseWindow(bytes32 marketId) external view returns (uint64 pausedSince, uint64 resumedAt);

    /// @notice The bounds profile that currently governs a listed market.
    function getMarketBounds(bytes32 marketId) external view returns (Bounds memory);

    /// @notice A bounds profile by id.
    function getBounds(uint8 profileId) external view returns (Bounds memory);

    /// @notice Current signer set, threshold and epoch.
    function getSigners() external view returns (address[] memory signers, uint8 threshold, uint32 epoch);

    /// @notice Whether a model hash is allow-listed.
    function isModelAllowed(bytes32 modelHash) external view returns (bool);

    /// @notice Allow-listed model hashes.
    function getAllowedModels() external view returns (bytes32[] memory);

    /// @notice Maximum age of a report's observedAt at submission, seconds.
    function maxReportAge() external view returns (uint32);

    /// @notice Whether the whole oracle is paused.
    function paused() external view returns (bool);

    // ------------------------------------------------------------------------------------------
    // Governance: DEFAULT_ADMIN_ROLE (the DAO's TimelockController)
    // ------------------------------------------------------------------------------------------

    /// @notice Replace the signer set and threshold; bumps the epoch.
    function setSigners(address[] calldata signers, uint8 threshold) external;

    /// @notice Add or remove a model hash from the allow-list.
    function setModelAllowed(bytes32 modelHash, bool allowed) external;

    /// @notice Create or replace a bounds profile (may loosen).
    function setBounds(uint8 profileId, Bounds calldata bounds) external;

    /// @notice List a market under a profile, or move it to another profile.
    function listMarket(bytes32 marketId, uint8 profileId) external;

    /// @notice Set the maximum report age in seconds (1 .. 2^21 - 1).
    function setMaxReportAge(uint32 maxReportAge) external;

    /// @notice Recover a market whose round counter was pushed out of reach: set its stored round to
    ///         `round` (params and observedAt kept; 0 = as if never published, so the next report is
    ///         checked like a first publication) and bump the signer epoch, which voids every report
    ///         signed before the recovery, so none of them can be replayed against the lower round.
    function recoverMarketRound(bytes32 marketId, uint64 round) external;

    /// @notice Lift the global pause.
    function unpause() external;

    /// @notice Lift a market's pause.
    function unpauseMarket(bytes32 marketId) external;

    // ------------------------------------------------------------------------------------------
    // Guardian: GUARDIAN_ROLE (also allowed to the admin)
    // ------------------------------------------------------------------------------------------

    /// @notice Pause every market: no report lands and every typed read reverts with RiskOraclePaused.
    ///         Costs ~7k gas per listed market (at most MAX_MARKETS).
    function pause() external;

    /// @notice Pause one market: its reports and typed reads revert with RiskOracleMarketPaused.
    function pauseMarket(bytes32 marketId) external;

    /// @notice Replace a profile with a more protective one, direction-aware per field:
    ///         - protective fields (0 volatility, 1 var99, 2 es99, 3 initialMargin, 4 maintenanceMargin):
    ///           floor and ceiling may only rise (a lower IM/MM ceiling would lower the margins that
    ///           can land, and the engines' stale-data fallback is the MM ceiling);
    ///         - liquidationThreshold (5): floor and ceiling may only fall;
    ///         - riskScore (6), confidence (7): floor and ceiling unchanged;
    ///         - every field: maxChange not larger; minInterval not shorter; relativeMask unchanged.
    ///         Anything else goes through the DAO's timelock (setBounds).
    function tightenBounds(uint8 profileId, Bounds calldata bounds) external;
}

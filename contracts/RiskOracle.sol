// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IRiskOracle} from "./interfaces/IRiskOracle.sol";
import {BoundsProfile} from "./libraries/BoundsProfile.sol";
import {ConfigSnapshot} from "./libraries/ConfigSnapshot.sol";
import {MarketWord} from "./libraries/MarketWord.sol";
import {ReportCalldata} from "./libraries/ReportCalldata.sol";

/// @title RiskOracle
/// @notice Stores per-market risk parameters published by k-of-n co-signed EIP-712 reports, within
///         bounds governed by a DAO (DEFAULT_ADMIN_ROLE, held by a TimelockController) and a guardian
///         (GUARDIAN_ROLE: pause and tighten at once, never loosen or unpause).
/// @dev Hot state is two kinds of slot:
///      - `_config` (one slot, read once per report):
///          bits   0..159  address of the current config snapshot (ConfigSnapshot: signers, models, profiles)
///          bits 160..191  epoch (uint32; bumped by every signer-set or threshold change)
///          bits 192..199  threshold k
///          bits 200..207  signer count n
///          bits 208..239  maxReportAge, seconds
///          bit  240       global pause
///          bits 241..255  snapshot code size in bytes (<= 3,189), so one EXTCODECOPY reads it
///      - `_markets[marketId]`: the market word (layout in IRiskOracle), one slot per market. The global
///        pause is mirrored into bit 234 of every listed market's word, so a typed read honours both
///        pauses from the one slot it loads anyway (+~30 gas instead of a second cold SLOAD).
///      Cold state, off the hot paths: the list of listed markets (walked by pause/unpause) and the
///      pause start/end times that consumers' grace periods use (`pauseWindow`).
///      Governance data that a report needs but that changes rarely lives in an immutable config
///      snapshot (a data-only contract written with CREATE); see ConfigSnapshot for the gas rationale.
///      Gas (anvil receipts, 21,000 base and calldata included; steady state = second publication,
///      strict profile with five relative fields; legacy codegen, optimizer 10,000 runs):
///        one market, k = 1 / 3 / 5 signatures     49,823 / 59,895 / 69,991
///        10 / 50 markets, k = 3, per market       14,786 / 10,779
///        cold getRiskParams through ReadProbe       6,945   (getMarketWord: 5,366)
///      One market, k = 3 breaks down as 21,000 base + 6,736 calldata + 9,300 ecrecover + 2,100
///      config + 2,650 snapshot + 5,000 market slot + 3,530 events = 50,316 fixed, ~9,600 logic.
contract RiskOracle is IRiskOracle, AccessControl, EIP712 {
    using MarketWord for uint256;

    /// @notice Role that may pause (globally or per market) and tighten bounds.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    uint256 private constant EPOCH_SHIFT = 160;
    uint256 private constant THRESHOLD_SHIFT = 192;
    uint256 private constant SIGNER_COUNT_SHIFT = 200;
    uint256 private constant MAX_AGE_SHIFT = 208;
    uint256 private constant PAUSED_FLAG = 1 << 240;
    uint256 private constant SIZE_SHIFT = 241;
    uint256 private constant RESUMED_SHIFT = 64;

    /// @notice Largest round increase one report may make for a market (rounds are time slots, so
    ///         2^32 covers 136 years of 1-s rounds); a quorum cannot push a round to 2^64 - 1 at once.
    uint64 public constant MAX_ROUND_STEP = uint64(1) << 32;
    /// @notice Most markets the oracle lists; bounds the gas of pause() and unpause() (~7k per market).
    uint256 public constant MAX_MARKETS = 256;

    /// @dev Packed configuration word (layout above).
    uint256 private _config;
    /// @dev Market words (layout in IRiskOracle).
    mapping(bytes32 marketId => uint256 word) private _markets;
    /// @dev Every market ever listed, in listing order (pause() mirrors the global flag into each).
    bytes32[] private _marketList;
    /// @dev Global pause times: pausedAt (bits 0..63, 0 = not paused) | resumedAt (bits 64..127).
    uint256 private _pauseTimes;
    /// @dev Per-market pause times, same layout.
    mapping(bytes32 marketId => uint256 times) private _marketPauseTimes;

    /// @notice Deploy with the full initial configuration, so a fresh deployment needs no timelock
    ///         round trip. Emits the same events as the corresponding governance calls.
    /// @param admin DEFAULT_ADMIN_ROLE holder (the DAO's TimelockController).
    /// @param guardian GUARDIAN_ROLE holder (may be zero: no guardian).
    /// @param profileIds Ids (0..31) of `profiles`, same order.
    /// @param marketProfiles Profile id of each market in `marketIds`, same order.
    constructor(
        address admin,
        address guardian,
        address[] memory signers,
        uint8 threshold,
        bytes32[] memory models,
        uint32 maxAge,
        uint8[] memory profileIds,
        Bounds[] memory profiles,
        bytes32[] memory marketIds,
        uint8[] memory marketProfiles
    ) EIP712("MLRA Risk Oracle", "1") {
        if (admin == address(0)) revert RiskOracleInvalidDeployment(1);
        if (profileIds.length != profiles.length) revert RiskOracleInvalidDeployment(2);
        if (marketIds.length != marketProfiles.length) revert RiskOracleInvalidDeployment(3);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (guardian != address(0)) _grantRole(GUARDIAN_ROLE, guardian);

        ConfigSnapshot.Config memory c = ConfigSnapshot.Config(new address[](0), new bytes32[](0), 0, new uint256[](0));
        c.signers = _validSigners(signers, threshold);
        for (uint256 i; i < models.length; ++i) {
            c.models = _withModel(c.models, models[i], true);
        }
        for (uint256 i; i < profiles.length; ++i) {
            (uint256 a, uint256 w) = BoundsProfile.encode(profileIds[i], profiles[i]);
            _putProfile(c, profileIds[i], a, w);
        }
        uint256 cfg = (uint256(1) << EPOCH_SHIFT) | (uint256(threshold) << THRESHOLD_SHIFT)
            | (signers.length << SIGNER_COUNT_SHIFT);
        _commit(cfg, c);
        emit SignersUpdated(1, signers, threshold);
        for (uint256 i; i < c.models.length; ++i) {
            emit ModelAllowanceUpdated(c.models[i], true);
        }
        for (uint256 i; i < profiles.length; ++i) {
            emit BoundsUpdated(profileIds[i], profiles[i], false);
        }
        _setMaxReportAge(maxAge);
        for (uint256 i; i < marketIds.length; ++i) {
            _listMarket(marketIds[i], marketProfiles[i]);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Report submission
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IRiskOracle
    function submitReport(RiskReport calldata report, Signature[] calldata signatures) external {
        uint256 cfg = _config;
        uint256 stamp = _checkHeader(report, cfg);
        (uint256 bitmap, uint256 profiles) = _authorise(report, signatures, cfg);
        _applyMarkets(report, stamp, profiles);
        emit RiskReportAccepted(
            MarketWord.round(stamp), uint32(cfg >> EPOCH_SHIFT), bitmap, report.modelHash, report.inputsHash
        );
    }

    /// @inheritdoc IRiskOracle
    function reportDigest(RiskReport calldata report) external view returns (bytes32) {
        return _hashTypedDataV4(ReportCalldata.structHash(report, report.marketIds, report.params));
    }

    /// @dev Report-wide checks, cheapest first: pause, epoch, deadline, future, stale, lengths.
    ///      Returns the report's observedAt and round at their market-word positions ("stamp").
    function _checkHeader(RiskReport calldata report, uint256 cfg) private view returns (uint256 stamp) {
        if (cfg & PAUSED_FLAG != 0) revert RiskOraclePaused();
        (uint256 epoch, uint256 rnd, uint256 observedAt, uint256 deadline) = ReportCalldata.header(report);
        uint256 current = uint32(cfg >> EPOCH_SHIFT);
        if (epoch != current) revert RiskOracleWrongEpoch(uint32(epoch), uint32(current));
        (bytes32[] calldata ids, uint128[] calldata params, bool ok) = ReportCalldata.arrays(report);
        // Raw words: anything that is not a valid uint64 is malformed (ABI would have rejected it).
        if ((rnd | observedAt | deadline) >> 64 != 0 || !ok) {
            revert RiskOracleMalformedReport(ids.length, params.length);
        }
        if (deadline < block.timestamp) revert RiskOracleDeadlinePassed(uint64(deadline), uint64(block.timestamp));
        // observedAt <= block.timestamp < 2^32 (until 2106), so it fits the market word's uint32.
        if (observedAt > block.timestamp) revert RiskOracleFutureReport(uint64(observedAt), uint64(block.timestamp));
        uint32 maxAge = uint32(cfg >> MAX_AGE_SHIFT);
        uint256 lag = block.timestamp - observedAt;
        if (lag > maxAge) revert RiskOracleStaleReport(uint64(observedAt), maxAge);
        if (ids.length == 0 || ids.length != params.length) {
            revert RiskOracleMalformedReport(ids.length, params.length);
        }
        // lag <= maxAge <= MarketWord.MAX_LAG (setMaxReportAge enforces it).
        stamp = MarketWord.stamp(observedAt, rnd, lag);
    }

    /// @dev Model allow-list, then signatures. Returns the signer bitmap and the memory address of the
    ///      snapshot's profile table for the per-market checks.
    function _authorise(RiskReport calldata report, Signature[] calldata signatures, uint256 cfg)
        private
        view
        returns (uint256 bitmap, uint256 profiles)
    {
        bytes memory snap = ConfigSnapshot.load(address(uint160(cfg)), cfg >> SIZE_SHIFT);
        bytes32 modelHash = report.modelHash;
        if (!ConfigSnapshot.hasModel(snap, modelHash)) revert RiskOracleModelNotAllowed(modelHash);
        // `ok` (arrays inside calldata) was checked in _checkHeader.
        // slither-disable-next-line unused-return
        (bytes32[] calldata ids, uint128[] calldata params,) = ReportCalldata.arrays(report);
        bytes32 digest = _hashTypedDataV4(ReportCalldata.structHash(report, ids, params));
        bitmap = _verifySignatures(digest, signatures, ConfigSnapshot.signerTable(snap), cfg);
        profiles = ConfigSnapshot.profileTable(snap);
    }

    /// @dev Every signature must recover to the signer its index names, indices distinct, at least k.
    ///      `signers` is the memory address of the snapshot's signer table. Returns the index bitmap.
    function _verifySignatures(bytes32 digest, Signature[] calldata sigs, uint256 signers, uint256 cfg)
        private
        pure
        returns (uint256 bitmap)
    {
        uint256 threshold = uint8(cfg >> THRESHOLD_SHIFT);
        if (sigs.length < threshold) revert RiskOracleTooFewSignatures(sigs.length, threshold);
        uint256 count = uint8(cfg >> SIGNER_COUNT_SHIFT);
        for (uint256 i; i < sigs.length; ++i) {
            (uint256 index, bytes32 r, bytes32 vs) = ReportCalldata.signatureAt(sigs, i);
            // index < 31 from here on (the ABI's uint8 bound is implied), so the shift is safe.
            if (index >= count) _revertUnknownSigner(index, digest, r, vs);
            uint256 bit = 1 << index;
            if (bitmap & bit != 0) revert RiskOracleDuplicateSigner(uint8(index));
            // errArg only details `err`, which is checked.
            // slither-disable-next-line unused-return
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, r, vs);
            if (recovered != ConfigSnapshot.signerIn(signers, index) || err != ECDSA.RecoverError.NoError) {
                revert RiskOracleUnknownSigner(uint8(index), recovered);
            }
            bitmap |= bit;
        }
    }

    function _revertUnknownSigner(uint256 index, bytes32 digest, bytes32 r, bytes32 vs) private pure {
        // Only names the address in the error; address(0) if the signature does not recover at all.
        // slither-disable-next-line unused-return
        (address recovered,,) = ECDSA.tryRecover(digest, r, vs);
        revert RiskOracleUnknownSigner(uint8(index), recovered);
    }

    /// @dev Per market: check (listed, not paused, round, intervals, bounds, consistency), store, emit.
    ///      `stamp` holds the report's observedAt and round at their market-word positions. Raw calldata
    ///      words were hashed for the digest; reading `params[i]` here ABI-validates each one (a dirty
    ///      word reverts), so what is stored is exactly what was signed.
    function _applyMarkets(RiskReport calldata report, uint256 stamp, uint256 profiles) private {
        // slither-disable-next-line unused-return
        (bytes32[] calldata ids, uint128[] calldata params,) = ReportCalldata.arrays(report);
        for (uint256 i; i < ids.length; ++i) {
            bytes32 marketId = ids[i];
            uint256 p = params[i];
            uint256 word = _checkMarket(marketId, p, stamp, profiles).publish(p, stamp);
            _markets[marketId] = word;
            emit RiskParamsUpdated(marketId, word);
        }
    }

    /// @dev The market's current word, after checking that `p` may replace it.
    function _checkMarket(bytes32 marketId, uint256 p, uint256 stamp, uint256 profiles)
        private
        view
        returns (uint256 word)
    {
        word = _markets[marketId];
        if (!word.isListed()) revert RiskOracleUnknownMarket(marketId);
        // The global pause was checked on _config; its mirror bit needs no second look here.
        if (word.isPaused()) revert RiskOracleMarketPaused(marketId);
        uint64 storedRound = word.round();
        uint64 rnd = stamp.round();
        if (rnd <= storedRound) revert RiskOracleNonIncreasingRound(marketId, rnd, storedRound);
        // rnd > storedRound here, so the difference cannot underflow.
        unchecked {
            if (rnd - storedRound > MAX_ROUND_STEP) _revertRoundStep(marketId, rnd, storedRound);
        }
        (uint256 a, uint256 w) = ConfigSnapshot.profileAt(profiles, word.profileId());
        // Round 0 means never published (not a time): a strict equality is exact here.
        // slither-disable-next-line incorrect-equality
        bool first = storedRound == 0;
        if (!first) _checkIntervals(marketId, word, stamp, BoundsProfile.minInterval(w));
        BoundsProfile.check(marketId, p, word & MarketWord.PARAMS_MASK, a, w, first);
    }

    /// @dev minInterval separates two updates both in observedAt and in block time of acceptance. The
    ///      second rule is what bounds change per window: observedAt alone may be backdated by up to
    ///      maxReportAge, so several reports could otherwise land in one block, each moving maxChange.
    ///      The error is built in a separate function: keeping the hot path free of it saves gas.
    function _checkIntervals(bytes32 marketId, uint256 word, uint256 stamp, uint256 interval) private view {
        unchecked {
            // observedAt < 2^32 and interval < 2^32, acceptedAt < 2^33: no overflow.
            uint256 earliest = uint256(word.observedAt()) + interval;
            uint256 earliestBlock = word.acceptedAt() + interval;
            if (stamp.observedAt() < earliest || block.timestamp < earliestBlock) {
                _revertTooSoon(marketId, stamp.observedAt(), earliest, earliestBlock);
            }
        }
    }

    function _revertTooSoon(bytes32 marketId, uint64 observed, uint256 earliest, uint256 earliestBlock)
        private
        view
    {
        if (observed < earliest) revert RiskOracleUpdateTooSoon(marketId, observed, uint64(earliest));
        revert RiskOracleUpdateTooFrequent(marketId, uint64(block.timestamp), uint64(earliestBlock));
    }

    function _revertRoundStep(bytes32 marketId, uint64 rnd, uint64 storedRound) private pure {
        revert RiskOracleRoundStepTooLarge(marketId, rnd, storedRound);
    }

    // ------------------------------------------------------------------------------------------
    // Reads
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IRiskOracle
    function getRiskParams(bytes32 marketId) external view returns (RiskParams memory) {
        uint256 word = _usableWord(marketId);
        MarketWord.returnRiskParams(word); // ends the call with the ABI-encoded RiskParams
    }

    /// @inheritdoc IRiskOracle
    function getRiskParamsNoOlderThan(bytes32 marketId, uint256 maxAge) external view returns (RiskParams memory) {
        uint256 word = _usableWord(marketId);
        uint256 observedAt = word.observedAt();
        // One-sided: only age is checked; observedAt never exceeds the block time it was accepted in.
        if (block.timestamp > observedAt && block.timestamp - observedAt > maxAge) {
            revert RiskOracleStaleParams(marketId, uint64(observedAt), maxAge);
        }
        return word.toRiskParams();
    }

    /// @inheritdoc IRiskOracle
    function getRiskParamsBatch(bytes32[] calldata marketIds) external view returns (RiskParams[] memory out) {
        out = new RiskParams[](marketIds.length);
        for (uint256 i; i < marketIds.length; ++i) {
            out[i] = _usableWord(marketIds[i]).toRiskParams();
        }
    }

    /// @dev The market word if its params may be used: published, and neither paused nor in a paused
    ///      oracle (the global pause is mirrored into bit 234, so this stays one SLOAD).
    function _usableWord(bytes32 marketId) private view returns (uint256 word) {
        word = _markets[marketId];
        if (word & MarketWord.ANY_PAUSE != 0) {
            if (word & MarketWord.GLOBAL_PAUSED != 0) revert RiskOraclePaused();
            revert RiskOracleMarketPaused(marketId);
        }
        // Round 0 means never published (not a time): a strict equality is exact here.
        // slither-disable-next-line incorrect-equality
        if (word.round() == 0) revert RiskOracleNoData(marketId);
    }

    /// @inheritdoc IRiskOracle
    function getMarketWord(bytes32 marketId) external view returns (uint256) {
        return _markets[marketId];
    }

    /// @inheritdoc IRiskOracle
    function pauseWindow(bytes32 marketId) external view returns (uint64 pausedSince, uint64 resumedAt) {
        (uint64 gp, uint64 gr) = _times(_pauseTimes);
        (uint64 mp, uint64 mr) = _times(_marketPauseTimes[marketId]);
        // 0 means "no pause in force" (a flag value, not a time comparison).
        // slither-disable-next-line incorrect-equality
        pausedSince = gp == 0 || (mp != 0 && mp < gp) ? mp : gp;
        resumedAt = gr > mr ? gr : mr;
    }

    /// @inheritdoc IRiskOracle
    function getMarketBounds(bytes32 marketId) external view returns (Bounds memory) {
        uint256 word = _markets[marketId];
        if (!word.isListed()) revert RiskOracleUnknownMarket(marketId);
        return getBounds(word.profileId());
    }

    /// @inheritdoc IRiskOracle
    function getBounds(uint8 profileId) public view returns (Bounds memory) {
        bytes memory snap = _snapshot(_config);
        // A profile bit (not a time): a strict equality is exact here.
        // slither-disable-next-line incorrect-equality
        if (profileId >= ConfigSnapshot.MAX_PROFILES || (ConfigSnapshot.profileMask(snap) >> profileId) & 1 == 0) {
            revert RiskOracleInvalidBounds(profileId);
        }
        (uint256 a, uint256 w) = ConfigSnapshot.profileWords(snap, profileId);
        return BoundsProfile.decode(a, w);
    }

    /// @inheritdoc IRiskOracle
    function getSigners() external view returns (address[] memory signers, uint8 threshold, uint32 epoch) {
        uint256 cfg = _config;
        signers = ConfigSnapshot.decode(_snapshot(cfg)).signers;
        threshold = uint8(cfg >> THRESHOLD_SHIFT);
        epoch = uint32(cfg >> EPOCH_SHIFT);
    }

    /// @inheritdoc IRiskOracle
    function isModelAllowed(bytes32 modelHash) external view returns (bool) {
        return ConfigSnapshot.hasModel(_snapshot(_config), modelHash);
    }

    /// @inheritdoc IRiskOracle
    function getAllowedModels() external view returns (bytes32[] memory) {
        return ConfigSnapshot.decode(_snapshot(_config)).models;
    }

    /// @inheritdoc IRiskOracle
    function maxReportAge() external view returns (uint32) {
        return uint32(_config >> MAX_AGE_SHIFT);
    }

    /// @inheritdoc IRiskOracle
    function paused() external view returns (bool) {
        return _config & PAUSED_FLAG != 0;
    }

    /// @notice Address of the current config snapshot (data-only contract; see ConfigSnapshot).
    function configSnapshot() external view returns (address) {
        return address(uint160(_config));
    }

    // ------------------------------------------------------------------------------------------
    // Governance: DEFAULT_ADMIN_ROLE
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IRiskOracle
    function setSigners(address[] calldata signers, uint8 threshold) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 cfg = _config;
        ConfigSnapshot.Config memory c = ConfigSnapshot.decode(_snapshot(cfg));
        c.signers = _validSigners(signers, threshold);
        uint32 epoch = uint32(cfg >> EPOCH_SHIFT) + 1;
        uint256 keep = cfg & ~(uint256(type(uint32).max) << EPOCH_SHIFT | uint256(0xFFFF) << THRESHOLD_SHIFT);
        cfg = keep | (uint256(epoch) << EPOCH_SHIFT) | (uint256(threshold) << THRESHOLD_SHIFT)
            | (signers.length << SIGNER_COUNT_SHIFT);
        _commit(cfg, c);
        emit SignersUpdated(epoch, signers, threshold);
    }

    /// @inheritdoc IRiskOracle
    function setModelAllowed(bytes32 modelHash, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 cfg = _config;
        ConfigSnapshot.Config memory c = ConfigSnapshot.decode(_snapshot(cfg));
        c.models = _withModel(c.models, modelHash, allowed);
        _commit(cfg, c);
        emit ModelAllowanceUpdated(modelHash, allowed);
    }

    /// @inheritdoc IRiskOracle
    function setBounds(uint8 profileId, Bounds calldata bounds) external onlyRole(DEFAULT_ADMIN_ROLE) {
        (uint256 a, uint256 w) = BoundsProfile.encode(profileId, bounds);
        uint256 cfg = _config;
        ConfigSnapshot.Config memory c = ConfigSnapshot.decode(_snapshot(cfg));
        _putProfile(c, profileId, a, w);
        _commit(cfg, c);
        emit BoundsUpdated(profileId, bounds, false);
    }

    /// @inheritdoc IRiskOracle
    function listMarket(bytes32 marketId, uint8 profileId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _listMarket(marketId, profileId);
    }

    /// @inheritdoc IRiskOracle
    function setMaxReportAge(uint32 maxAge) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMaxReportAge(maxAge);
    }

    /// @inheritdoc IRiskOracle
    function recoverMarketRound(bytes32 marketId, uint64 round) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 word = _markets[marketId];
        if (!word.isListed()) revert RiskOracleUnknownMarket(marketId);
        _markets[marketId] = word.withRound(round);
        // A new epoch voids every report signed so far: none can be replayed against the lower round.
        uint256 cfg = _config;
        uint32 epoch = uint32(cfg >> EPOCH_SHIFT) + 1;
        _config = (cfg & ~(uint256(type(uint32).max) << EPOCH_SHIFT)) | (uint256(epoch) << EPOCH_SHIFT);
        emit MarketRoundRecovered(marketId, round, epoch);
        emit SignersUpdated(epoch, ConfigSnapshot.decode(_snapshot(cfg)).signers, uint8(cfg >> THRESHOLD_SHIFT));
    }

    /// @inheritdoc IRiskOracle
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 cfg = _config;
        if (cfg & PAUSED_FLAG == 0) return;
        _config = cfg & ~PAUSED_FLAG;
        _mirrorGlobalPause(false);
        _pauseTimes = _resumed(_pauseTimes);
        emit PauseUpdated(false);
    }

    /// @inheritdoc IRiskOracle
    function unpauseMarket(bytes32 marketId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMarketPaused(marketId, false);
    }

    // ------------------------------------------------------------------------------------------
    // Guardian: GUARDIAN_ROLE or DEFAULT_ADMIN_ROLE
    // ------------------------------------------------------------------------------------------

    /// @dev The guardian's powers are a subset of the admin's.
    modifier onlyGuardian() {
        if (!hasRole(GUARDIAN_ROLE, msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert AccessControlUnauthorizedAccount(msg.sender, GUARDIAN_ROLE);
        }
        _;
    }

    /// @inheritdoc IRiskOracle
    function pause() external onlyGuardian {
        uint256 cfg = _config;
        if (cfg & PAUSED_FLAG != 0) return;
        _config = cfg | PAUSED_FLAG;
        _mirrorGlobalPause(true);
        _pauseTimes = _paused(_pauseTimes);
        emit PauseUpdated(true);
    }

    /// @inheritdoc IRiskOracle
    function pauseMarket(bytes32 marketId) external onlyGuardian {
        _setMarketPaused(marketId, true);
    }

    /// @inheritdoc IRiskOracle
    function tightenBounds(uint8 profileId, Bounds calldata bounds) external onlyGuardian {
        (uint256 a, uint256 w) = BoundsProfile.encode(profileId, bounds);
        uint256 cfg = _config;
        bytes memory snap = _snapshot(cfg);
        if (profileId >= ConfigSnapshot.MAX_PROFILES || (ConfigSnapshot.profileMask(snap) >> profileId) & 1 == 0) {
            revert RiskOracleInvalidBounds(profileId);
        }
        (uint256 prevA, uint256 prevW) = ConfigSnapshot.profileWords(snap, profileId);
        uint8 loosened = BoundsProfile.firstUnprotective(prevA, prevW, a, w);
        if (loosened != type(uint8).max) revert RiskOracleNotTighter(profileId, loosened);
        ConfigSnapshot.Config memory c = ConfigSnapshot.decode(snap);
        _putProfile(c, profileId, a, w);
        _commit(cfg, c);
        emit BoundsUpdated(profileId, bounds, true);
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    function _snapshot(uint256 cfg) private view returns (bytes memory) {
        return ConfigSnapshot.load(address(uint160(cfg)), cfg >> SIZE_SHIFT);
    }

    /// @dev Write `c` as a new snapshot and store `cfg` pointing at it.
    function _commit(uint256 cfg, ConfigSnapshot.Config memory c) private {
        bytes memory code = ConfigSnapshot.encode(c);
        address pointer = ConfigSnapshot.write(code);
        uint256 keep = cfg & ~(uint256(type(uint160).max) | (~uint256(0) << SIZE_SHIFT));
        _config = keep | uint256(uint160(pointer)) | (code.length << SIZE_SHIFT);
    }

    function _validSigners(address[] memory signers, uint8 threshold) private pure returns (address[] memory) {
        uint256 n = signers.length;
        if (n == 0 || n > ConfigSnapshot.MAX_SIGNERS || threshold == 0 || threshold > n) {
            revert RiskOracleInvalidSignerSet(n, threshold);
        }
        for (uint256 i; i < n; ++i) {
            if (signers[i] == address(0)) revert RiskOracleInvalidSignerSet(n, threshold);
            for (uint256 j; j < i; ++j) {
                if (signers[j] == signers[i]) revert RiskOracleInvalidSignerSet(n, threshold);
            }
        }
        return signers;
    }

    /// @dev `models` with `modelHash` added (if absent) or removed (if present, order not kept).
    function _withModel(bytes32[] memory models, bytes32 modelHash, bool allowed)
        private
        pure
        returns (bytes32[] memory out)
    {
        uint256 m = models.length;
        uint256 at = m;
        for (uint256 i; i < m; ++i) {
            if (models[i] == modelHash) at = i;
        }
        if (allowed == (at < m)) return models; // already in the requested state
        if (allowed && m == ConfigSnapshot.MAX_MODELS) revert RiskOracleConfigFull();
        out = new bytes32[](allowed ? m + 1 : m - 1);
        for (uint256 i; i < m && i < out.length; ++i) {
            out[i] = models[i];
        }
        if (allowed) out[m] = modelHash;
        else if (at < m - 1) out[at] = models[m - 1];
    }

    /// @dev Set profile `id` in `c`, growing the table when needed.
    function _putProfile(ConfigSnapshot.Config memory c, uint8 id, uint256 a, uint256 w) private pure {
        if (id >= ConfigSnapshot.MAX_PROFILES) revert RiskOracleConfigFull();
        uint256 len = c.profileWords.length;
        if (2 * uint256(id) >= len) {
            uint256[] memory grown = new uint256[](2 * (uint256(id) + 1));
            for (uint256 i; i < len; ++i) {
                grown[i] = c.profileWords[i];
            }
            c.profileWords = grown;
        }
        c.profileWords[2 * uint256(id)] = a;
        c.profileWords[2 * uint256(id) + 1] = w;
        c.profileMask |= uint32(1 << id);
    }

    function _listMarket(bytes32 marketId, uint8 profileId) private {
        uint256 cfg = _config;
        uint256 mask = ConfigSnapshot.profileMask(_snapshot(cfg));
        if (profileId >= ConfigSnapshot.MAX_PROFILES || (mask >> profileId) & 1 == 0) {
            revert RiskOracleInvalidBounds(profileId);
        }
        uint256 word = _markets[marketId];
        if (!word.isListed()) {
            if (_marketList.length >= MAX_MARKETS) revert RiskOracleTooManyMarkets(MAX_MARKETS);
            _marketList.push(marketId);
            if (cfg & PAUSED_FLAG != 0) word |= MarketWord.GLOBAL_PAUSED;
        }
        _markets[marketId] = word.list(profileId);
        emit MarketListed(marketId, profileId);
    }

    /// @dev Set or clear the global-pause mirror bit in every listed market (bounded by MAX_MARKETS).
    function _mirrorGlobalPause(bool isPaused) private {
        uint256 n = _marketList.length;
        for (uint256 i; i < n; ++i) {
            bytes32 marketId = _marketList[i];
            uint256 word = _markets[marketId];
            _markets[marketId] = isPaused ? word | MarketWord.GLOBAL_PAUSED : word & ~MarketWord.GLOBAL_PAUSED;
        }
    }

    function _times(uint256 t) private pure returns (uint64 pausedAt, uint64 resumedAt) {
        return (uint64(t), uint64(t >> RESUMED_SHIFT));
    }

    /// @dev Times word with pausedAt = now (kept if already paused).
    function _paused(uint256 t) private view returns (uint256) {
        return uint64(t) != 0 ? t : (t & ~uint256(type(uint64).max)) | block.timestamp;
    }

    /// @dev Times word with pausedAt cleared and resumedAt = now.
    function _resumed(uint256 t) private view returns (uint256) {
        // pausedAt 0 means "not paused" (a flag value, not a time comparison).
        // slither-disable-next-line incorrect-equality
        return uint64(t) == 0 ? t : block.timestamp << RESUMED_SHIFT;
    }

    function _setMaxReportAge(uint32 maxAge) private {
        if (maxAge == 0 || maxAge > MarketWord.MAX_LAG) revert RiskOracleInvalidMaxAge(maxAge);
        _config = (_config & ~(uint256(type(uint32).max) << MAX_AGE_SHIFT)) | (uint256(maxAge) << MAX_AGE_SHIFT);
        emit MaxReportAgeUpdated(maxAge);
    }

    function _setMarketPaused(bytes32 marketId, bool isPaused) private {
        uint256 word = _markets[marketId];
        if (!word.isListed()) revert RiskOracleUnknownMarket(marketId);
        _markets[marketId] = isPaused ? word | MarketWord.PAUSED : word & ~MarketWord.PAUSED;
        uint256 t = _marketPauseTimes[marketId];
        _marketPauseTimes[marketId] = isPaused ? _paused(t) : _resumed(t);
        emit MarketPauseUpdated(marketId, isPaused);
    }
}

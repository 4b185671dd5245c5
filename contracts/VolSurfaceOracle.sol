// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IRiskOracle} from "./interfaces/IRiskOracle.sol";
import {IVolSurfaceOracle} from "./interfaces/IVolSurfaceOracle.sol";
import {ConfigSnapshot} from "./libraries/ConfigSnapshot.sol";
import {SurfaceCalldata} from "./libraries/SurfaceCalldata.sol";
import {SurfaceSmile} from "./libraries/SurfaceSmile.sol";
import {SurfaceState} from "./libraries/SurfaceState.sol";

/// @notice The RiskOracle getter that is not part of IRiskOracle (RiskOracle.configSnapshot()).
interface IConfigSnapshotSource {
    function configSnapshot() external view returns (address);
}

/// @title VolSurfaceOracle
/// @notice Implied-volatility surfaces (one raw-SVI smile per expiry, forwards, spot, scenario shocks)
///         published by k-of-n co-signed EIP-712 reports of the RiskOracle's signers, within DAO bounds
///         per underlying.
/// @dev What is shared with the RiskOracle, read from it on every report: the signer set and the
///      model allow-list (its config snapshot, one EXTCODECOPY through the ConfigSnapshot library),
///      the threshold and epoch (getSigners), its global pause (paused(): no report lands while the
///      RiskOracle is paused). Governance roles are the RiskOracle's too (hasRole): DEFAULT_ADMIN_ROLE
///      (the DAO's timelock) sets bounds, max age, delists and unpauses; GUARDIAN_ROLE pauses and
///      tightens. Own state: bounds per underlying, maxReportAge, an own global pause.
///      Storage:
///      - `_config`: bits 0..31 maxReportAge, bit 32 own global pause, bit 33 mirrored RiskOracle pause,
///        bits 34..193 the RiskOracle config snapshot address that bits 194..225 (epoch) and 226..233
///        (threshold) were read with (a cache, see _authorise).
///      - `_states[u]`: the state word (layout in SurfaceState), `_bounds[u]` the bounds word.
///      - `_smiles[u][expiry]`: the smile word (layout in IVolSurfaceOracle.SurfaceReport), one slot
///        per expiry, self-contained: impliedVol and getSmile read only this slot. Both pauses are
///        mirrored into bits 254/255 of every listed smile word (and into the state words), so reads
///        honour them from the slot they load anyway; pause() walks at most 16 x 17 slots.
///      - `_expiryLists[u]`: the listed expiries, ascending, 8 x uint32 per slot (count in the state word).
///      Expiries are listed automatically: a report's smiles are stored under expiry = observedAt + tau,
///      and the listed set is the union of the stored unexpired expiries and the report's (at most
///      MAX_EXPIRIES). A listed expiry stays listed until a report observed at or after it settles it
///      (settlement price = that report's spot, frozen) or the DAO delists it, so an expiry that the
///      fitter drops shortly before expiry (too few quotes) still settles; its smile ages meanwhile
///      (consumers check observedAt / use the NoOlderThan reads).
///      Underlyings are listed by the DAO (setSurfaceBounds), at most MAX_UNDERLYINGS.
///      Gas (anvil receipts, 21,000 base and calldata included; bench/gas_surface.py; legacy codegen,
///      optimizer 10,000 runs): 2 underlyings x 8 expiries, 3 signatures, steady state ~199,360
///      (per smile 6,717: 5,000 for its slot, 1,717 checks); first publication 547,705; a daily roll
///      (one expiry settled and one listed per underlying) 324,658; cold impliedVol through a probe 7,623.
contract VolSurfaceOracle is IVolSurfaceOracle, EIP712 {
    /// @notice EIP-712 type hash of SurfaceReport.
    bytes32 public constant SURFACE_REPORT_TYPEHASH = SurfaceCalldata.TYPEHASH;
    /// @notice The RiskOracle's guardian role (pause, tighten).
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @notice Most expiries listed per underlying (bounds reads of the list and the pause walk).
    uint256 public constant MAX_EXPIRIES = 16;
    /// @notice Most underlyings listed (bounds the gas of pause(): <= 16 x 17 slot writes).
    uint256 public constant MAX_UNDERLYINGS = 16;
    /// @notice Largest round increase one report may make for an underlying (as the RiskOracle's).
    uint64 public constant MAX_ROUND_STEP = uint64(1) << 32;

    bytes32 private constant ADMIN_ROLE = 0x00;
    uint256 private constant OWN_PAUSE = 1 << 32;
    uint256 private constant SYNCED_PAUSE = 1 << 33;
    uint256 private constant ANY_GLOBAL_PAUSE = OWN_PAUSE | SYNCED_PAUSE;
    uint256 private constant POINTER_SHIFT = 34;
    uint256 private constant EPOCH_SHIFT = 194;
    uint256 private constant THRESHOLD_SHIFT = 226;
    uint256 private constant LOCAL_MASK = (1 << POINTER_SHIFT) - 1;
    uint256 private constant RESUMED_SHIFT = 64;
    uint256 private constant WAD_PER_BP = 1e14;

    IRiskOracle private immutable _riskOracle;

    uint256 private _config;
    mapping(bytes32 underlying => uint256 word) private _states;
    mapping(bytes32 underlying => uint256 word) private _bounds;
    mapping(bytes32 underlying => uint256[2] words) private _expiryLists;
    mapping(bytes32 underlying => mapping(uint64 expiry => uint256 word)) private _smiles;
    /// @dev price (uint64, 1e-8 units) | observedAt << 64; 0 = not settled.
    mapping(bytes32 underlying => mapping(uint64 expiry => uint256 word)) private _settlements;
    bytes32[] private _underlyingList;
    /// @dev Global pause times: pausedAt (bits 0..63, 0 = not paused) | resumedAt (bits 64..127).
    uint256 private _pauseTimes;
    mapping(bytes32 underlying => uint256 times) private _underlyingPauseTimes;

    /// @param riskOracle_ The RiskOracle whose signers, threshold, epoch, models, roles and pause apply.
    /// @param maxAge Maximum report age in seconds (1 .. 2^21 - 1).
    /// @param underlyings_ Underlyings listed at deployment, with their `bounds` (same order).
    constructor(
        IRiskOracle riskOracle_,
        uint32 maxAge,
        bytes32[] memory underlyings_,
        SurfaceBounds[] memory bounds
    ) EIP712("MLRA Vol Surface Oracle", "1") {
        if (address(riskOracle_).code.length == 0) revert VolSurfaceInvalidDeployment(1);
        if (underlyings_.length != bounds.length) revert VolSurfaceInvalidDeployment(2);
        _riskOracle = riskOracle_;
        _setMaxReportAge(maxAge);
        for (uint256 i; i < underlyings_.length; ++i) {
            _setBounds(underlyings_[i], bounds[i]);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Report submission
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IVolSurfaceOracle
    function submitSurfaceReport(SurfaceReport calldata report, IRiskOracle.Signature[] calldata signatures)
        external
    {
        uint256 cfg = _config;
        (uint256 reportEpoch, uint256 lag) = _checkHeader(report, cfg);
        (uint256 bitmap, uint32 epoch) = _authorise(report, reportEpoch, signatures, cfg);
        uint256 offset = 0;
        uint256 n = report.underlyings.length;
        for (uint256 i; i < n; ++i) {
            offset = _applyUnderlying(report, i, offset, lag);
        }
        if (offset != report.smiles.length) revert VolSurfaceMalformedReport(3);
        emit SurfaceReportAccepted(report.round, epoch, bitmap, report.modelHash, report.inputsHash);
    }

    /// @inheritdoc IVolSurfaceOracle
    function surfaceReportDigest(SurfaceReport calldata report) external view returns (bytes32) {
        return _hashTypedDataV4(SurfaceCalldata.structHash(report));
    }

    /// @dev Own pause, header words, timing, array shapes. Returns the report's epoch and the acceptance
    ///      lag (block time - observedAt).
    function _checkHeader(SurfaceReport calldata report, uint256 cfg)
        private
        view
        returns (uint256 epoch, uint256 lag)
    {
        if (cfg & ANY_GLOBAL_PAUSE != 0) revert VolSurfacePaused();
        uint256 rnd;
        uint256 observedAt;
        uint256 deadline;
        (epoch, rnd, observedAt, deadline) = SurfaceCalldata.header(report);
        // Raw words: anything that is not a valid uint32 / uint64 is malformed (ABI would reject it).
        if ((rnd | observedAt | deadline) >> 64 != 0 || epoch >> 32 != 0) revert VolSurfaceMalformedReport(6);
        if (deadline < block.timestamp) {
            revert VolSurfaceDeadlinePassed(uint64(deadline), uint64(block.timestamp));
        }
        if (observedAt > block.timestamp) {
            revert VolSurfaceFutureReport(uint64(observedAt), uint64(block.timestamp));
        }
        lag = block.timestamp - observedAt;
        uint32 maxAge = uint32(cfg);
        if (lag > maxAge) revert VolSurfaceStaleReport(uint64(observedAt), maxAge);
        uint256 n = report.underlyings.length;
        if (n == 0) revert VolSurfaceMalformedReport(1);
        if (n != report.underlyingWords.length) revert VolSurfaceMalformedReport(2);
    }

    /// @dev The RiskOracle's pause, epoch, model allow-list and signer set; returns the signer bitmap.
    ///      Threshold and epoch are cached in `_config` with the snapshot address they were read with:
    ///      while the RiskOracle's snapshot is unchanged and the report names the cached epoch, the
    ///      cache is used (getSigners decodes the whole snapshot: ~9k gas); otherwise they are re-read
    ///      and cached. Every signer-set or threshold change writes a new snapshot, so the cache can only
    ///      lag an epoch bump that keeps the snapshot (RiskOracle.recoverMarketRound): the first report
    ///      signed under the new epoch (or syncPause) refreshes it; until then reports of the previous
    ///      epoch, signed by the same signers under the same threshold, are still accepted.
    function _authorise(
        SurfaceReport calldata report,
        uint256 reportEpoch,
        IRiskOracle.Signature[] calldata signatures,
        uint256 cfg
    ) private returns (uint256 bitmap, uint32 epoch) {
        IRiskOracle ro = _riskOracle;
        if (ro.paused()) revert VolSurfacePaused();
        address pointer = IConfigSnapshotSource(address(ro)).configSnapshot();
        uint256 threshold = uint8(cfg >> THRESHOLD_SHIFT);
        epoch = uint32(cfg >> EPOCH_SHIFT);
        if (pointer != address(uint160(cfg >> POINTER_SHIFT)) || reportEpoch != epoch) {
            (threshold, epoch) = _refreshSigners(cfg, pointer);
        }
        if (reportEpoch != epoch) revert VolSurfaceWrongEpoch(uint32(reportEpoch), epoch);
        bytes memory snap = ConfigSnapshot.load(pointer, pointer.code.length);
        bytes32 modelHash = report.modelHash;
        if (!ConfigSnapshot.hasModel(snap, modelHash)) revert VolSurfaceModelNotAllowed(modelHash);
        bytes32 digest = _hashTypedDataV4(SurfaceCalldata.structHash(report));
        bitmap = _verifySignatures(digest, signatures, snap, threshold);
    }

    /// @dev Read threshold and epoch from the RiskOracle and cache them with `pointer` in `_config`.
    function _refreshSigners(uint256 cfg, address pointer) private returns (uint256 threshold, uint32 epoch) {
        uint8 k;
        // The signer list is read from the snapshot itself (ConfigSnapshot), not from this answer.
        // slither-disable-next-line unused-return
        (, k, epoch) = _riskOracle.getSigners();
        threshold = k;
        _config = (cfg & LOCAL_MASK) | (uint256(uint160(pointer)) << POINTER_SHIFT)
            | (uint256(epoch) << EPOCH_SHIFT) | (threshold << THRESHOLD_SHIFT);
    }

    /// @dev Every signature must recover to the signer its index names, indices distinct, at least k.
    function _verifySignatures(
        bytes32 digest,
        IRiskOracle.Signature[] calldata sigs,
        bytes memory snap,
        uint256 threshold
    ) private pure returns (uint256 bitmap) {
        if (sigs.length < threshold) revert VolSurfaceTooFewSignatures(sigs.length, threshold);
        uint256 count = ConfigSnapshot.signerCount(snap);
        uint256 table = ConfigSnapshot.signerTable(snap);
        for (uint256 i; i < sigs.length; ++i) {
            (uint256 index, bytes32 r, bytes32 vs) = SurfaceCalldata.signatureAt(sigs, i);
            // errArg only details `err`, which is checked.
            // slither-disable-next-line unused-return
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, r, vs);
            if (index >= count) revert VolSurfaceUnknownSigner(uint8(index), recovered);
            uint256 bit = 1 << index;
            if (bitmap & bit != 0) revert VolSurfaceDuplicateSigner(uint8(index));
            if (recovered != ConfigSnapshot.signerIn(table, index) || err != ECDSA.RecoverError.NoError) {
                revert VolSurfaceUnknownSigner(uint8(index), recovered);
            }
            bitmap |= bit;
        }
    }

    /// @dev Checks and stores underlying `i` and its smiles (from `offset`); returns the next offset.
    function _applyUnderlying(SurfaceReport calldata report, uint256 i, uint256 offset, uint256 lag)
        private
        returns (uint256 end)
    {
        uint256 uw = report.underlyingWords[i];
        end = offset + ((uw >> SurfaceState.REPORT_COUNT_SHIFT) & 31);
        if (end > report.smiles.length) revert VolSurfaceMalformedReport(3);
        _publish(report.underlyings[i], uw, report.smiles[offset:end], report.observedAt, report.round, lag);
    }

    function _publish(bytes32 u, uint256 uw, uint256[] calldata smiles, uint256 observed, uint64 rnd, uint256 lag)
        private
    {
        uint256 s = _states[u];
        uint256 bw = _checkUnderlying(u, s, uw, rnd, observed);
        uint256 count = _storeSurface(u, SurfaceState.count(s), uw & SurfaceState.SPOT_MASK, smiles, observed, bw);
        s = SurfaceState.published(s, uw & SurfaceState.PAYLOAD_MASK, observed, rnd, lag, count);
        _states[u] = s;
        emit SurfaceUpdated(u, s);
    }

    /// @dev Listed, not paused, round, intervals, report word shape, spot, shocks. Returns the bounds word.
    function _checkUnderlying(bytes32 u, uint256 s, uint256 uw, uint64 rnd, uint256 observed)
        private
        view
        returns (uint256 bw)
    {
        if (!SurfaceState.isListed(s)) revert VolSurfaceUnknownUnderlying(u);
        // The global pause was checked on _config (and on the RiskOracle); the mirror bit follows it.
        if (s & SurfaceState.UNDERLYING_PAUSED != 0) revert VolSurfaceUnderlyingPaused(u);
        uint64 stored = SurfaceState.round(s);
        if (rnd <= stored) revert VolSurfaceNonIncreasingRound(u, rnd, stored);
        unchecked {
            if (rnd - stored > MAX_ROUND_STEP) revert VolSurfaceRoundStepTooLarge(u, rnd, stored);
        }
        bw = _bounds[u];
        if (stored != 0) {
            _checkIntervals(u, s, observed, SurfaceState.minInterval(bw));
            _checkSpotMove(u, SurfaceState.spot(s), uw & SurfaceState.SPOT_MASK, SurfaceState.spotMaxChange(bw));
        }
        if (uw >> 117 != 0) revert VolSurfaceMalformedReport(4);
        uint256 n = (uw >> SurfaceState.REPORT_COUNT_SHIFT) & 31;
        if (n == 0 || n > MAX_EXPIRIES) revert VolSurfaceMalformedReport(5);
        if (uw & SurfaceState.SPOT_MASK == 0) revert VolSurfaceInvalidSpot(u);
        // Shock f at report bits 64 + 16 f, its floor and ceiling at bounds bits 48 + 32 f and 64 + 32 f.
        _checkShock(u, 0, uint16(uw >> 64), bw >> 48);
        _checkShock(u, 1, uint16(uw >> 80), bw >> 80);
        _checkShock(u, 2, uint16(uw >> 96), bw >> 112);
    }

    /// @dev The new spot within spotMaxChange (bp) of the stored one: spot 1e4 <= old (1e4 + c) and
    ///      spot 1e4 >= old (1e4 - c) when c < 1e4.
    function _checkSpotMove(bytes32 u, uint256 old, uint256 spot, uint256 c) private pure {
        bool tooFar;
        unchecked {
            // Spots < 2^64, factors < 2^17: no overflow.
            tooFar = spot * 1e4 > old * (1e4 + c) || (c < 1e4 && spot * 1e4 < old * (1e4 - c));
        }
        if (tooFar) {
            revert VolSurfaceSpotChangeTooLarge(u, old * SurfaceState.SPOT_UNIT, spot * SurfaceState.SPOT_UNIT);
        }
    }

    function _checkShock(bytes32 u, uint8 f, uint16 value, uint256 loHi) private pure {
        uint16 lo = uint16(loHi);
        uint16 hi = uint16(loHi >> 16);
        if (value < lo || value > hi) revert VolSurfaceShockOutOfBounds(u, f, value, lo, hi);
    }

    /// @dev minInterval separates two updates both in observedAt and in block time of acceptance (as in
    ///      the RiskOracle: observedAt alone may be backdated by up to maxReportAge).
    function _checkIntervals(bytes32 u, uint256 s, uint256 observed, uint256 interval) private view {
        uint256 earliest = uint256(SurfaceState.observedAt(s)) + interval;
        if (observed < earliest) revert VolSurfaceUpdateTooSoon(u, uint64(observed), uint64(earliest));
        uint256 earliestBlock = SurfaceState.acceptedAt(s) + interval;
        if (block.timestamp < earliestBlock) {
            revert VolSurfaceUpdateTooFrequent(u, uint64(block.timestamp), uint64(earliestBlock));
        }
    }

    /// @dev Per-underlying constants of the smile loop: ATM vol floor and ceiling (bp) and the change
    ///      factors 1e4 + c and 1e4 - c (0 when c >= 1e4).
    struct AtmBounds {
        bytes32 u;
        uint256 lo;
        uint256 hi;
        uint256 up;
        uint256 down;
    }

    function _atmBounds(bytes32 u, uint256 bw) private pure returns (AtmBounds memory) {
        uint256 c = SurfaceState.field(bw, 2);
        return AtmBounds(u, SurfaceState.field(bw, 0), SurfaceState.field(bw, 1), 1e4 + c, c < 1e4 ? 1e4 - c : 0);
    }

    /// @dev Check and store each smile; returns whether every expiry already held a smile (was listed).
    function _storeSmiles(bytes32 u, uint256[] calldata smiles, uint256 observed, uint256 bw)
        private
        returns (bool allListed)
    {
        AtmBounds memory bounds = _atmBounds(u, bw);
        mapping(uint64 expiry => uint256 word) storage slots = _smiles[u];
        uint256 base;
        assembly ("memory-safe") {
            base := slots.slot
        }
        allListed = true;
        uint256 previous = observed;
        uint256 n = smiles.length;
        // observed < 2^64 (ABI), tau < 2^27, j < 16: no overflow.
        unchecked {
            for (uint256 j; j < n; ++j) {
                // Assembly (measured: -119 gas per smile): the word without a second bounds check (the
                // slice was checked when taken) and the slot of slots[expiry] hashed once for the read
                // and the write (keccak256(abi.encode(uint64 expiry, base)), expiry < 2^32 checked).
                uint256 w;
                assembly ("memory-safe") {
                    w := calldataload(add(smiles.offset, shl(5, j)))
                }
                uint256 expiry = observed + SurfaceSmile.tau(w);
                if (SurfaceSmile.check(w) != 0 || expiry <= previous || expiry > type(uint32).max) {
                    _revertSmile(u, w, expiry, previous);
                }
                uint256 slot;
                uint256 old;
                assembly ("memory-safe") {
                    mstore(0x00, expiry)
                    mstore(0x20, base)
                    slot := keccak256(0x00, 0x40)
                    old := sload(slot)
                }
                _checkAtm(bounds, expiry, w, old);
                assembly ("memory-safe") {
                    sstore(slot, w)
                }
                // A zero slot means "not listed" (a flag value).
                // slither-disable-next-line incorrect-equality
                if (old == 0) allListed = false;
                previous = expiry;
            }
        }
    }

    /// @dev The reason a smile failed: its sanity check, else the order (8) or the expiry range (9).
    function _revertSmile(bytes32 u, uint256 w, uint256 expiry, uint256 previous) private pure {
        uint8 bad = SurfaceSmile.check(w);
        if (bad == 0) bad = expiry <= previous ? 8 : 9;
        revert VolSurfaceInvalidSmile(u, uint64(expiry), bad);
    }

    /// @dev The report's expiries packed as the list words (8 x uint32 per word).
    function _reportList(uint256[] calldata smiles, uint256 observed)
        private
        pure
        returns (uint256 listA, uint256 listB)
    {
        for (uint256 j; j < smiles.length; ++j) {
            uint256 expiry = observed + SurfaceSmile.tau(smiles[j]);
            if (j < 8) listA |= expiry << (32 * j);
            else listB |= expiry << (32 * (j - 8));
        }
    }

    /// @dev The smile's ATM vol field must be floor(1e4 sqrt(w(0) / t)) (checked without a square root,
    ///      see SurfaceSmile.atmConsistent), lie within [floor, ceiling] and, if the expiry
    ///      held a smile, within atmVolMaxChange of the stored ATM vol field (read, not recomputed):
    ///      bp 1e4 <= old (1e4 + c) and bp 1e4 >= old (1e4 - c), all in whole bp.
    function _checkAtm(AtmBounds memory b, uint256 expiry, uint256 w, uint256 old) private pure {
        if (!SurfaceSmile.atmConsistent(w)) revert VolSurfaceInvalidSmile(b.u, uint64(expiry), 10);
        uint256 bp = SurfaceSmile.atmVol(w);
        if (bp < b.lo || bp > b.hi) {
            revert VolSurfaceAtmVolOutOfBounds(
                b.u, uint64(expiry), bp * WAD_PER_BP, b.lo * WAD_PER_BP, b.hi * WAD_PER_BP
            );
        }
        if (old == 0) return;
        uint256 oldBp = SurfaceSmile.atmVol(old);
        bool tooFar;
        unchecked {
            // bp < 2^16, factors < 2^17: no overflow.
            tooFar = bp * 1e4 > oldBp * b.up || bp * 1e4 < oldBp * b.down;
        }
        if (tooFar) revert VolSurfaceAtmVolChangeTooLarge(b.u, uint64(expiry), oldBp * WAD_PER_BP, bp * WAD_PER_BP);
    }

    /// @dev Store the smiles, settle the listed expiries reached by `observed`, then list the union of
    ///      the rest and the report's expiries. Returns the new count. Steady state (the stored
    ///      expiries, none reached) costs one list-slot read per 8 expiries and no list write.
    function _storeSurface(
        bytes32 u,
        uint256 stored,
        uint256 spot,
        uint256[] calldata smiles,
        uint256 observed,
        uint256 bw
    ) private returns (uint256) {
        bool allListed = _storeSmiles(u, smiles, observed, bw);
        // A smile slot is nonzero exactly while its expiry is listed. If every report expiry was listed
        // and the counts match, the listed set is the report's, all after observedAt: nothing to settle,
        // nothing to write, and the list need not even be read.
        // Counts (not times): a strict equality is exact here.
        // slither-disable-next-line incorrect-equality
        if (allListed && stored == smiles.length) return stored;
        (uint256 listA, uint256 listB) = _reportList(smiles, observed);
        return _syncList(u, stored, listA, listB, smiles.length, observed, spot);
    }

    function _syncList(
        bytes32 u,
        uint256 stored,
        uint256 listA,
        uint256 listB,
        uint256 n,
        uint256 observed,
        uint256 spot
    ) private returns (uint256) {
        uint256[2] storage list = _expiryLists[u];
        uint64[] memory old = _unpack(stored == 0 ? 0 : list[0], stored > 8 ? list[1] : 0, stored);
        return _mergeList(u, old, _unpack(listA, listB, n), observed, spot);
    }

    function _mergeList(bytes32 u, uint64[] memory old, uint64[] memory add, uint256 observed, uint256 spot)
        private
        returns (uint256 count)
    {
        uint64[] memory merged = new uint64[](old.length + add.length);
        uint256 j = 0;
        for (uint256 i; i < old.length; ++i) {
            uint64 e = old[i];
            if (e <= observed) {
                _settle(u, e, spot, observed);
                continue;
            }
            while (j < add.length && add[j] < e) {
                merged[count++] = add[j++];
            }
            // Expiries (keys, not times to compare): a strict equality is exact here.
            // slither-disable-next-line incorrect-equality
            if (j < add.length && add[j] == e) ++j;
            merged[count++] = e;
        }
        while (j < add.length) {
            merged[count++] = add[j++];
        }
        if (count > MAX_EXPIRIES) revert VolSurfaceTooManyExpiries(u, count);
        _writeList(_expiryLists[u], merged, count, old.length);
    }

    function _unpack(uint256 a, uint256 b, uint256 n) private pure returns (uint64[] memory out) {
        out = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            out[i] = _entry(a, b, i);
        }
    }

    function _settle(bytes32 u, uint64 expiry, uint256 spot, uint256 observed) private {
        _settlements[u][expiry] = spot | (observed << 64);
        delete _smiles[u][expiry];
        emit ExpirySettled(u, expiry, spot * SurfaceState.SPOT_UNIT, uint64(observed));
    }

    function _entry(uint256 listA, uint256 listB, uint256 i) private pure returns (uint64) {
        return i < 8 ? uint64(uint32(listA >> (32 * i))) : uint64(uint32(listB >> (32 * (i - 8))));
    }

    /// @dev Store `count` entries; the second slot only if it is or was in use (a cold no-op write
    ///      would cost 2,200 gas).
    function _writeList(uint256[2] storage list, uint64[] memory entries, uint256 count, uint256 previous)
        private
    {
        uint256 a = 0;
        uint256 b = 0;
        for (uint256 i; i < count; ++i) {
            if (i < 8) a |= uint256(entries[i]) << (32 * i);
            else b |= uint256(entries[i]) << (32 * (i - 8));
        }
        list[0] = a;
        if (count > 8 || previous > 8) list[1] = b;
    }

    // ------------------------------------------------------------------------------------------
    // Reads
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IVolSurfaceOracle
    function getSmile(bytes32 underlying, uint64 expiry) external view returns (Smile memory) {
        return _toSmile(_usableSmile(underlying, expiry), expiry);
    }

    /// @inheritdoc IVolSurfaceOracle
    function getSmileNoOlderThan(bytes32 underlying, uint64 expiry, uint256 maxAge)
        external
        view
        returns (Smile memory)
    {
        uint256 w = _fresh(underlying, expiry, maxAge);
        return _toSmile(w, expiry);
    }

    /// @inheritdoc IVolSurfaceOracle
    function impliedVol(bytes32 underlying, uint64 expiry, uint256 strike) external view returns (uint256) {
        return SurfaceSmile.impliedVol(_usableSmile(underlying, expiry), strike);
    }

    /// @inheritdoc IVolSurfaceOracle
    function impliedVolNoOlderThan(bytes32 underlying, uint64 expiry, uint256 strike, uint256 maxAge)
        external
        view
        returns (uint256)
    {
        return SurfaceSmile.impliedVol(_fresh(underlying, expiry, maxAge), strike);
    }

    /// @inheritdoc IVolSurfaceOracle
    function getShocks(bytes32 underlying) external view returns (Shocks memory) {
        uint256 s = _usableState(underlying);
        return Shocks(
            uint256(SurfaceState.shock(s, 0)) * WAD_PER_BP,
            uint256(SurfaceState.shock(s, 1)) * WAD_PER_BP,
            uint256(SurfaceState.shock(s, 2)) * WAD_PER_BP,
            SurfaceState.observedAt(s)
        );
    }

    /// @inheritdoc IVolSurfaceOracle
    function getSpot(bytes32 underlying) external view returns (uint256 spot, uint64 observedAt) {
        uint256 s = _usableState(underlying);
        return (SurfaceState.spot(s) * SurfaceState.SPOT_UNIT, SurfaceState.observedAt(s));
    }

    /// @inheritdoc IVolSurfaceOracle
    /// @dev The return data is written directly (the ABI layout of the declared returns: 4 words of
    ///      shocks, spot, spot time, the offset 0xe0, the count, 8 words per smile): building the struct
    ///      array and encoding it cost about 400 gas more per smile.
    function getMarginInputs(bytes32 underlying, uint64[] calldata expiries, uint256 maxAge)
        external
        view
        returns (Shocks memory, uint256, uint64, Smile[] memory)
    {
        uint256 s = _usableState(underlying);
        uint256 n = expiries.length;
        uint256 out;
        assembly ("memory-safe") {
            out := mload(0x40)
            mstore(0x40, add(out, add(0x100, shl(8, n))))
        }
        _head(out, s, n);
        for (uint256 i; i < n; ++i) {
            Smile memory smile = _toSmile(_fresh(underlying, expiries[i], maxAge), expiries[i]);
            assembly ("memory-safe") {
                mcopy(add(add(out, 0x100), shl(8, i)), smile, 0x100)
            }
        }
        assembly ("memory-safe") {
            return(out, add(0x100, shl(8, n)))
        }
    }

    /// @dev getMarginInputs' head: shocks, spot, spot time, the smiles' offset and count.
    function _head(uint256 out, uint256 s, uint256 n) private pure {
        (uint256 move, uint256 up, uint256 down) = (
            uint256(SurfaceState.shock(s, 0)) * WAD_PER_BP,
            uint256(SurfaceState.shock(s, 1)) * WAD_PER_BP,
            uint256(SurfaceState.shock(s, 2)) * WAD_PER_BP
        );
        (uint256 spot, uint256 at) = (SurfaceState.spot(s) * SurfaceState.SPOT_UNIT, SurfaceState.observedAt(s));
        assembly ("memory-safe") {
            mstore(out, move)
            mstore(add(out, 0x20), up)
            mstore(add(out, 0x40), down)
            mstore(add(out, 0x60), at)
            mstore(add(out, 0x80), spot)
            mstore(add(out, 0xa0), at)
            mstore(add(out, 0xc0), 0xe0)
            mstore(add(out, 0xe0), n)
        }
    }

    /// @inheritdoc IVolSurfaceOracle
    function expiriesOf(bytes32 underlying) external view returns (uint64[] memory out) {
        uint256 s = _states[underlying];
        if (!SurfaceState.isListed(s)) revert VolSurfaceUnknownUnderlying(underlying);
        uint256 n = SurfaceState.count(s);
        out = _unpack(n == 0 ? 0 : _expiryLists[underlying][0], n > 8 ? _expiryLists[underlying][1] : 0, n);
    }

    /// @inheritdoc IVolSurfaceOracle
    function settlementPrice(bytes32 underlying, uint64 expiry)
        external
        view
        returns (uint256 price, uint64 observedAt)
    {
        uint256 s = _states[underlying];
        if (!SurfaceState.isListed(s)) revert VolSurfaceUnknownUnderlying(underlying);
        _revertIfPaused(underlying, s);
        uint256 st = _settlements[underlying][expiry];
        // 0 means never settled (a flag value, not a time comparison).
        // slither-disable-next-line incorrect-equality
        if (st == 0) revert VolSurfaceNotSettled(underlying, expiry);
        return (uint64(st) * SurfaceState.SPOT_UNIT, uint64(st >> 64));
    }

    /// @inheritdoc IVolSurfaceOracle
    function pauseWindow(bytes32 underlying) external view returns (uint64 pausedSince, uint64 resumedAt) {
        (uint64 gp, uint64 gr) = _times(_pauseTimes);
        (uint64 up, uint64 ur) = _times(_underlyingPauseTimes[underlying]);
        // 0 means "no pause in force" (a flag value, not a time comparison).
        // slither-disable-next-line incorrect-equality
        pausedSince = gp == 0 || (up != 0 && up < gp) ? up : gp;
        resumedAt = gr > ur ? gr : ur;
    }

    /// @inheritdoc IVolSurfaceOracle
    function getSmileWord(bytes32 underlying, uint64 expiry) external view returns (uint256) {
        return _smiles[underlying][expiry];
    }

    /// @inheritdoc IVolSurfaceOracle
    function getStateWord(bytes32 underlying) external view returns (uint256) {
        return _states[underlying];
    }

    /// @inheritdoc IVolSurfaceOracle
    function underlyings() external view returns (bytes32[] memory) {
        return _underlyingList;
    }

    /// @inheritdoc IVolSurfaceOracle
    function getSurfaceBounds(bytes32 underlying) external view returns (SurfaceBounds memory) {
        if (!SurfaceState.isListed(_states[underlying])) revert VolSurfaceUnknownUnderlying(underlying);
        return SurfaceState.decodeBounds(_bounds[underlying]);
    }

    /// @inheritdoc IVolSurfaceOracle
    function riskOracle() external view returns (address) {
        return address(_riskOracle);
    }

    /// @inheritdoc IVolSurfaceOracle
    function maxReportAge() external view returns (uint32) {
        return uint32(_config);
    }

    /// @inheritdoc IVolSurfaceOracle
    function paused() external view returns (bool ownPause, bool riskOraclePause) {
        uint256 cfg = _config;
        return (cfg & OWN_PAUSE != 0, cfg & SYNCED_PAUSE != 0);
    }

    /// @dev The smile word if usable: listed and neither paused (both pauses are mirrored into it).
    function _usableSmile(bytes32 u, uint64 expiry) private view returns (uint256 w) {
        w = _smiles[u][expiry];
        // 0 means not listed (a flag value).
        // slither-disable-next-line incorrect-equality
        if (w & SurfaceSmile.ANY_PAUSE != 0 || w == 0) _revertUnusableSmile(u, expiry, w);
    }

    function _revertUnusableSmile(bytes32 u, uint64 expiry, uint256 w) private view {
        if (w & SurfaceSmile.ORACLE_PAUSED != 0) revert VolSurfacePaused();
        if (w & SurfaceSmile.UNDERLYING_PAUSED != 0) revert VolSurfaceUnderlyingPaused(u);
        if (!SurfaceState.isListed(_states[u])) revert VolSurfaceUnknownUnderlying(u);
        revert VolSurfaceUnknownExpiry(u, expiry);
    }

    function _fresh(bytes32 u, uint64 expiry, uint256 maxAge) private view returns (uint256 w) {
        w = _usableSmile(u, expiry);
        uint256 observedAt = uint256(expiry) - SurfaceSmile.tau(w);
        if (block.timestamp > observedAt && block.timestamp - observedAt > maxAge) {
            revert VolSurfaceStale(u, uint64(observedAt), maxAge);
        }
    }

    function _toSmile(uint256 w, uint64 expiry) private pure returns (Smile memory) {
        int256 nano = int256(SurfaceSmile.NANO);
        return Smile({
            a: SurfaceSmile.a(w) * nano,
            b: SurfaceSmile.b(w) * SurfaceSmile.NANO,
            rho: SurfaceSmile.rho(w) * nano,
            m: SurfaceSmile.m(w) * nano,
            sigma: SurfaceSmile.sigma(w) * SurfaceSmile.NANO,
            forward: SurfaceSmile.forward(w) * SurfaceSmile.FORWARD_UNIT,
            expiry: expiry,
            observedAt: uint64(expiry - SurfaceSmile.tau(w))
        });
    }

    /// @dev The state word if spot and shocks may be used: listed, published, not paused.
    function _usableState(bytes32 u) private view returns (uint256 s) {
        s = _states[u];
        if (!SurfaceState.isListed(s)) revert VolSurfaceUnknownUnderlying(u);
        _revertIfPaused(u, s);
        // Round 0 means never published (a flag value).
        // slither-disable-next-line incorrect-equality
        if (SurfaceState.round(s) == 0) revert VolSurfaceNoData(u, 0);
    }

    function _revertIfPaused(bytes32 u, uint256 s) private pure {
        if (s & SurfaceState.ORACLE_PAUSED != 0) revert VolSurfacePaused();
        if (s & SurfaceState.UNDERLYING_PAUSED != 0) revert VolSurfaceUnderlyingPaused(u);
    }

    // ------------------------------------------------------------------------------------------
    // Governance (roles held in the RiskOracle)
    // ------------------------------------------------------------------------------------------

    modifier onlyAdmin() {
        if (!_hasRole(ADMIN_ROLE, msg.sender)) revert VolSurfaceUnauthorized(msg.sender, ADMIN_ROLE);
        _;
    }

    /// @dev The guardian's powers are a subset of the admin's.
    modifier onlyGuardian() {
        if (!_hasRole(GUARDIAN_ROLE, msg.sender) && !_hasRole(ADMIN_ROLE, msg.sender)) {
            revert VolSurfaceUnauthorized(msg.sender, GUARDIAN_ROLE);
        }
        _;
    }

    function _hasRole(bytes32 role, address account) private view returns (bool) {
        return IAccessControl(address(_riskOracle)).hasRole(role, account);
    }

    /// @inheritdoc IVolSurfaceOracle
    function setSurfaceBounds(bytes32 underlying, SurfaceBounds calldata bounds) external onlyAdmin {
        _setBounds(underlying, bounds);
    }

    /// @inheritdoc IVolSurfaceOracle
    function tightenSurfaceBounds(bytes32 underlying, SurfaceBounds calldata bounds) external onlyGuardian {
        if (!SurfaceState.isListed(_states[underlying])) revert VolSurfaceUnknownUnderlying(underlying);
        if (!SurfaceState.validBounds(bounds)) revert VolSurfaceInvalidBounds(underlying);
        uint256 next = SurfaceState.encodeBounds(bounds);
        uint8 looser = SurfaceState.firstLooser(_bounds[underlying], next);
        if (looser != type(uint8).max) revert VolSurfaceNotTighter(underlying, looser);
        _bounds[underlying] = next;
        emit SurfaceBoundsUpdated(underlying, bounds, true);
    }

    /// @inheritdoc IVolSurfaceOracle
    function setMaxReportAge(uint32 maxAge) external onlyAdmin {
        _setMaxReportAge(maxAge);
    }

    /// @inheritdoc IVolSurfaceOracle
    function delistExpiry(bytes32 underlying, uint64 expiry) external onlyAdmin {
        uint256 s = _states[underlying];
        uint256 n = SurfaceState.count(s);
        uint256[2] storage list = _expiryLists[underlying];
        uint256 a = list[0];
        uint256 b = list[1];
        uint64[] memory kept = new uint64[](n);
        uint256 count = 0;
        for (uint256 i; i < n; ++i) {
            uint64 e = _entry(a, b, i);
            if (e != expiry) kept[count++] = e;
        }
        if (count == n) revert VolSurfaceUnknownExpiry(underlying, expiry);
        _writeList(list, kept, count, n);
        _states[underlying] = SurfaceState.withCount(s, count);
        delete _smiles[underlying][expiry];
        emit ExpiryDelisted(underlying, expiry);
    }

    /// @inheritdoc IVolSurfaceOracle
    function unpause() external onlyAdmin {
        uint256 cfg = _config;
        if (cfg & OWN_PAUSE == 0) return;
        _setGlobal(cfg & ~OWN_PAUSE);
        emit SurfacePauseUpdated(false, false);
    }

    /// @inheritdoc IVolSurfaceOracle
    function unpauseUnderlying(bytes32 underlying) external onlyAdmin {
        _setUnderlyingPaused(underlying, false);
    }

    /// @inheritdoc IVolSurfaceOracle
    function pause() external onlyGuardian {
        uint256 cfg = _config;
        if (cfg & OWN_PAUSE != 0) return;
        _setGlobal(cfg | OWN_PAUSE);
        emit SurfacePauseUpdated(true, false);
    }

    /// @inheritdoc IVolSurfaceOracle
    function pauseUnderlying(bytes32 underlying) external onlyGuardian {
        _setUnderlyingPaused(underlying, true);
    }

    /// @inheritdoc IVolSurfaceOracle
    function syncPause() external {
        _refreshSigners(_config, IConfigSnapshotSource(address(_riskOracle)).configSnapshot());
        uint256 cfg = _config;
        bool roPaused = _riskOracle.paused();
        if (roPaused == (cfg & SYNCED_PAUSE != 0)) return;
        _setGlobal(roPaused ? cfg | SYNCED_PAUSE : cfg & ~SYNCED_PAUSE);
        emit SurfacePauseUpdated(roPaused, true);
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    function _setMaxReportAge(uint32 maxAge) private {
        if (maxAge == 0 || maxAge > SurfaceState.MAX_LAG) revert VolSurfaceInvalidMaxAge(maxAge);
        _config = (_config & ~uint256(type(uint32).max)) | maxAge;
        emit SurfaceMaxReportAgeUpdated(maxAge);
    }

    function _setBounds(bytes32 u, SurfaceBounds memory bounds) private {
        if (!SurfaceState.validBounds(bounds)) revert VolSurfaceInvalidBounds(u);
        uint256 s = _states[u];
        if (!SurfaceState.isListed(s)) {
            if (_underlyingList.length >= MAX_UNDERLYINGS) revert VolSurfaceTooManyUnderlyings(MAX_UNDERLYINGS);
            _underlyingList.push(u);
            s |= SurfaceState.LISTED;
            if (_config & ANY_GLOBAL_PAUSE != 0) s |= SurfaceState.ORACLE_PAUSED;
            _states[u] = s;
        }
        _bounds[u] = SurfaceState.encodeBounds(bounds);
        emit SurfaceBoundsUpdated(u, bounds, false);
    }

    /// @dev Store the new global flags; when the effective global pause flips, mirror it into every
    ///      listed underlying's state word and smile words (<= 16 x 17 slots) and record the times.
    function _setGlobal(uint256 cfg) private {
        bool was = _config & ANY_GLOBAL_PAUSE != 0;
        bool now_ = cfg & ANY_GLOBAL_PAUSE != 0;
        _config = cfg;
        if (was == now_) return;
        uint256 n = _underlyingList.length;
        for (uint256 i; i < n; ++i) {
            bytes32 u = _underlyingList[i];
            uint256 s = _states[u];
            _states[u] = now_ ? s | SurfaceState.ORACLE_PAUSED : s & ~SurfaceState.ORACLE_PAUSED;
            _mirrorSmiles(u, s, SurfaceSmile.ORACLE_PAUSED, now_);
        }
        _pauseTimes = now_ ? _paused(_pauseTimes) : _resumed(_pauseTimes);
    }

    function _setUnderlyingPaused(bytes32 u, bool isPaused) private {
        uint256 s = _states[u];
        if (!SurfaceState.isListed(s)) revert VolSurfaceUnknownUnderlying(u);
        _states[u] = isPaused ? s | SurfaceState.UNDERLYING_PAUSED : s & ~SurfaceState.UNDERLYING_PAUSED;
        _mirrorSmiles(u, s, SurfaceSmile.UNDERLYING_PAUSED, isPaused);
        uint256 t = _underlyingPauseTimes[u];
        _underlyingPauseTimes[u] = isPaused ? _paused(t) : _resumed(t);
        emit UnderlyingPauseUpdated(u, isPaused);
    }

    function _mirrorSmiles(bytes32 u, uint256 s, uint256 bit, bool set) private {
        uint256 n = SurfaceState.count(s);
        // A count (not a time): a strict equality is exact here.
        // slither-disable-next-line incorrect-equality
        if (n == 0) return;
        uint256 a = _expiryLists[u][0];
        uint256 b = n > 8 ? _expiryLists[u][1] : 0;
        mapping(uint64 expiry => uint256 word) storage slots = _smiles[u];
        for (uint256 i; i < n; ++i) {
            uint64 e = _entry(a, b, i);
            uint256 w = slots[e];
            slots[e] = set ? w | bit : w & ~bit;
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
}

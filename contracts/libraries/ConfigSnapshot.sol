// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title ConfigSnapshot
/// @notice The oracle's governed configuration (signer set, model allow-list, bounds profiles) kept in
///         an immutable data-only contract ("SSTORE2"): its runtime code is one 0x00 (STOP) byte followed
///         by the payload, so nobody can call into it, and the oracle reads it back with a single
///         EXTCODECOPY. Governance writes a fresh snapshot with CREATE on every change.
/// @dev Why: a report needs the signers it names (31 x 20 B would be 3 slots), the model allow-list
///      (1+ slot) and one bounds profile per market (2 slots). From storage that is 4-6 cold SLOADs
///      (2,100 each, ~8,400-12,600 gas) for a one-market report; from a snapshot it is one cold
///      account access (2,600) plus a copy at 3 gas per word (~2,650 measured on anvil with the
///      snapshot of two profiles, five signers, one model). The write side pays instead: CREATE
///      (32,000 + 200 per byte) on each governance change, which happens rarely.
///      Code layout (offsets are byte offsets into the runtime code; the copy keeps them):
///        [0]       0x00 STOP
///        [1]       n  signer count (1..31)
///        [2]       m  model count (0..16)
///        [3]       p  profile table length = highest profile id + 1 (0..32)
///        [4..7]    profile existence bitmap, uint32 big-endian (bit i = profile i was set)
///        [8..]     n signers, 20 bytes each
///        then      m model hashes, 32 bytes each
///        then      p profiles, 64 bytes each: word A = ceilings << 128 | floors,
///                  word B = minInterval << 136 | relativeMask << 128 | maxChanges
///                  (8 x uint16 per 128-bit half, field i at bits [16 i, 16 i + 16) as in the params word)
///      All assembly of the oracle that touches memory layout or CREATE lives in this library.
library ConfigSnapshot {
    uint256 internal constant HEADER_BYTES = 8;
    uint256 internal constant MAX_SIGNERS = 31;
    uint256 internal constant MAX_MODELS = 16;
    uint256 internal constant MAX_PROFILES = 32;

    /// @notice The snapshot could not be deployed (CREATE returned zero).
    error ConfigSnapshotCreateFailed();

    /// @notice Decoded configuration; `profileWords[2 i]` / `[2 i + 1]` are profile i's words A / B.
    struct Config {
        address[] signers;
        bytes32[] models;
        uint32 profileMask;
        uint256[] profileWords;
    }

    // ------------------------------------------------------------------------------------------
    // Writing (governance path)
    // ------------------------------------------------------------------------------------------

    /// @notice The runtime code for `c`: the STOP byte followed by the compact payload.
    function encode(Config memory c) internal pure returns (bytes memory code) {
        uint256 n = c.signers.length;
        uint256 m = c.models.length;
        uint256 words = c.profileWords.length; // two per profile
        uint256 size = HEADER_BYTES + 20 * n + 32 * m + 32 * words;
        // 32 bytes of slack: every mstore below writes a whole word, later ones overwrite the tail.
        code = new bytes(size + 32);
        uint256 header = (n << 240) | (m << 232) | ((words >> 1) << 224) | (uint256(c.profileMask) << 192);
        uint256 off = HEADER_BYTES;
        assembly ("memory-safe") {
            mstore(add(code, 0x20), header)
            mstore(code, size)
        }
        for (uint256 i; i < n; ++i) {
            _store(code, off, uint256(uint160(c.signers[i])) << 96);
            off += 20;
        }
        for (uint256 i; i < m; ++i) {
            _store(code, off, uint256(c.models[i]));
            off += 32;
        }
        for (uint256 i; i < words; ++i) {
            _store(code, off, c.profileWords[i]);
            off += 32;
        }
    }

    /// @notice Deploy `code` (from `encode`) as a data-only contract and return its address.
    function write(bytes memory code) internal returns (address pointer) {
        // Init code (10 bytes) returns the following `len` bytes as the runtime code:
        //   61 len  PUSH2 len | 80 DUP1 | 60 0a PUSH1 10 | 3d RETURNDATASIZE (0) | 39 CODECOPY(0, 10, len)
        //   3d RETURNDATASIZE (0) | f3 RETURN(0, len)
        bytes memory init = abi.encodePacked(hex"61", uint16(code.length), hex"80600a3d393df3", code);
        assembly ("memory-safe") {
            pointer := create(0, add(init, 0x20), mload(init))
        }
        if (pointer == address(0)) revert ConfigSnapshotCreateFailed();
    }

    // ------------------------------------------------------------------------------------------
    // Reading (report path: one EXTCODECOPY, then mloads at computed offsets)
    // ------------------------------------------------------------------------------------------

    /// @notice Copy the whole runtime code (`size` bytes, STOP byte included) of `pointer` into memory.
    function load(address pointer, uint256 size) internal view returns (bytes memory code) {
        assembly ("memory-safe") {
            code := mload(0x40)
            mstore(code, size)
            extcodecopy(pointer, add(code, 0x20), 0, size)
            mstore(0x40, add(add(code, 0x20), and(add(size, 31), not(31))))
        }
    }

    /// @notice Signer count n.
    function signerCount(bytes memory code) internal pure returns (uint256) {
        return uint8(code[1]);
    }

    /// @notice Signer `i` (caller guarantees i < n).
    function signerAt(bytes memory code, uint256 i) internal pure returns (address signer) {
        uint256 w = _word(code, HEADER_BYTES + 20 * i);
        signer = address(uint160(w >> 96));
    }

    /// @notice Whether `modelHash` is on the allow-list (linear scan of at most 16 words).
    function hasModel(bytes memory code, bytes32 modelHash) internal pure returns (bool) {
        (uint256 first, uint256 m) = _modelsRange(code);
        for (uint256 j; j < m; ++j) {
            if (bytes32(_word(code, first + 32 * j)) == modelHash) return true;
        }
        return false;
    }

    /// @notice Profile `id`'s two words (caller guarantees the profile exists).
    function profileWords(bytes memory code, uint256 id) internal pure returns (uint256 a, uint256 b) {
        (uint256 first, uint256 m) = _modelsRange(code);
        uint256 off = first + 32 * m + 64 * id;
        a = _word(code, off);
        b = _word(code, off + 32);
    }

    /// @notice Memory address of signer 0 in `code` (for `signerIn`).
    function signerTable(bytes memory code) internal pure returns (uint256 table) {
        assembly ("memory-safe") {
            table := add(code, add(0x20, HEADER_BYTES))
        }
    }

    /// @notice Signer `i` from a `signerTable` address (caller guarantees i < n).
    function signerIn(uint256 table, uint256 i) internal pure returns (address signer) {
        assembly ("memory-safe") {
            signer := shr(96, mload(add(table, mul(i, 20))))
        }
    }

    /// @notice Memory address of profile 0's word A in `code` (for `profileAt` in the per-market loop).
    function profileTable(bytes memory code) internal pure returns (uint256 table) {
        (uint256 first, uint256 m) = _modelsRange(code);
        assembly ("memory-safe") {
            table := add(add(code, 0x20), add(first, shl(5, m)))
        }
    }

    /// @notice Profile `id`'s words from a `profileTable` address (caller guarantees the profile exists).
    function profileAt(uint256 table, uint256 id) internal pure returns (uint256 a, uint256 b) {
        assembly ("memory-safe") {
            let at := add(table, shl(6, id))
            a := mload(at)
            b := mload(add(at, 0x20))
        }
    }

    /// @notice The profile existence bitmap (bit i = profile i exists).
    function profileMask(bytes memory code) internal pure returns (uint32) {
        return uint32(_word(code, 0) >> 192);
    }

    /// @notice Decode the whole snapshot (governance path and view getters).
    function decode(bytes memory code) internal pure returns (Config memory c) {
        uint256 n = uint8(code[1]);
        uint256 m = uint8(code[2]);
        uint256 p = uint8(code[3]);
        c.profileMask = profileMask(code);
        c.signers = new address[](n);
        c.models = new bytes32[](m);
        c.profileWords = new uint256[](2 * p);
        for (uint256 i; i < n; ++i) {
            c.signers[i] = signerAt(code, i);
        }
        uint256 off = HEADER_BYTES + 20 * n;
        for (uint256 j; j < m; ++j) {
            c.models[j] = bytes32(_word(code, off + 32 * j));
        }
        off += 32 * m;
        for (uint256 k; k < 2 * p; ++k) {
            c.profileWords[k] = _word(code, off + 32 * k);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Private helpers
    // ------------------------------------------------------------------------------------------

    function _modelsRange(bytes memory code) private pure returns (uint256 first, uint256 m) {
        uint256 header = _word(code, 0);
        first = HEADER_BYTES + 20 * ((header >> 240) & 0xff);
        m = (header >> 232) & 0xff;
    }

    /// @dev The 32 bytes at byte offset `off` of `code` (may read past the end into zeroed slack
    ///      only for the last signer, whose low 12 bytes are then discarded by the caller).
    function _word(bytes memory code, uint256 off) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := mload(add(add(code, 0x20), off))
        }
    }

    function _store(bytes memory code, uint256 off, uint256 w) private pure {
        assembly ("memory-safe") {
            mstore(add(add(code, 0x20), off), w)
        }
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IRiskOracle} from "../interfaces/IRiskOracle.sol";

/// @title ReportCalldata
/// @notice Reads a RiskReport and its signatures straight from calldata, and its EIP-712 hashStruct.
/// @dev Why assembly: the oracle's one-market, three-signature report must cost <= 55,000 gas in total,
///      of which ~50,300 is fixed (21,000 base, ~6,700 calldata, 3 x 3,100 ecrecover, the config,
///      snapshot and market accesses and the two events). Solidity's ABI accessors for the nested
///      calldata struct cost ~1,300 gas for the header and ~400 per signature beyond ecrecover
///      (measured on anvil); these readers cost a tenth of that. Every value is returned as a raw
///      word and the caller validates what it uses (see RiskOracle._checkHeader), so nothing dirty
///      is trusted: a dirty word also changes the hash and so fails every signature.
library ReportCalldata {
    bytes32 internal constant TYPEHASH = keccak256(
        "RiskReport(uint32 epoch,uint64 round,uint64 observedAt,uint64 deadline,bytes32 modelHash,bytes32 inputsHash,bytes32[] marketIds,uint128[] params)"
    );

    /// @notice The four scalar header fields as raw words.
    function header(IRiskOracle.RiskReport calldata report)
        internal
        pure
        returns (uint256 epoch, uint256 round, uint256 observedAt, uint256 deadline)
    {
        assembly ("memory-safe") {
            epoch := calldataload(report)
            round := calldataload(add(report, 0x20))
            observedAt := calldataload(add(report, 0x40))
            deadline := calldataload(add(report, 0x60))
        }
    }

    /// @notice `marketIds` and `params` as calldata slices; `ok` is false if either runs past calldata.
    function arrays(IRiskOracle.RiskReport calldata report)
        internal
        pure
        returns (bytes32[] calldata ids, uint128[] calldata params, bool ok)
    {
        uint256 idsEnd;
        uint256 paramsEnd;
        assembly ("memory-safe") {
            let at := add(report, calldataload(add(report, 0xc0)))
            ids.length := calldataload(at)
            ids.offset := add(at, 0x20)
            at := add(report, calldataload(add(report, 0xe0)))
            params.length := calldataload(at)
            params.offset := add(at, 0x20)
            idsEnd := add(ids.offset, shl(5, ids.length))
            paramsEnd := add(params.offset, shl(5, params.length))
        }
        // Lengths below 2^32 keep the sums above free of overflow.
        ok = ids.length < 1 << 32 && params.length < 1 << 32 && idsEnd <= msg.data.length
            && paramsEnd <= msg.data.length;
    }

    /// @notice Signature `i` as raw words (the ABI decoder already checked the array lies in calldata).
    function signatureAt(IRiskOracle.Signature[] calldata sigs, uint256 i)
        internal
        pure
        returns (uint256 signer, bytes32 r, bytes32 vs)
    {
        assembly ("memory-safe") {
            let at := add(sigs.offset, mul(i, 0x60))
            signer := calldataload(at)
            r := calldataload(add(at, 0x20))
            vs := calldataload(add(at, 0x40))
        }
    }

    /// @notice EIP-712 hashStruct(RiskReport): keccak256(TYPEHASH . six static words . keccak256(marketIds
    ///         words) . keccak256(params words)). The six static fields are ABI-encoded in calldata
    ///         exactly as EIP-712 encodes them, so one CALLDATACOPY builds most of the preimage.
    function structHash(IRiskOracle.RiskReport calldata report, bytes32[] calldata ids, uint128[] calldata params)
        internal
        pure
        returns (bytes32 h)
    {
        bytes32 typeHash = TYPEHASH;
        assembly ("memory-safe") {
            // Scratch space above the free memory pointer (not allocated: nothing else runs meanwhile).
            let m := mload(0x40)
            let size := shl(5, ids.length)
            calldatacopy(m, ids.offset, size)
            let idsHash := keccak256(m, size)
            size := shl(5, params.length)
            calldatacopy(m, params.offset, size)
            let paramsHash := keccak256(m, size)
            mstore(m, typeHash)
            calldatacopy(add(m, 0x20), report, 0xc0)
            mstore(add(m, 0xe0), idsHash)
            mstore(add(m, 0x100), paramsHash)
            h := keccak256(m, 0x120)
        }
    }
}

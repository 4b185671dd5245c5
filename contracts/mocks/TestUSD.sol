// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title TestUSD
/// @notice Test collateral token (6 decimals, like USDC) for forge tests and the local anvil
///         deployment. The owner mints at will: never deploy it where it could be mistaken for money.
contract TestUSD is ERC20, Ownable {
    /// @param owner_ Account allowed to mint.
    constructor(address owner_) ERC20("Test USD", "tUSD") Ownable(owner_) {}

    /// @notice Mint `amount` (6-decimal units) to `to`. Owner only.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }
}

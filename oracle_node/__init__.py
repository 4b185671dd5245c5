"""MLRA Risk Oracle node: market data in, manipulation-guarded ML risk parameters, signed reports out."""

__version__ = "0.1.0"

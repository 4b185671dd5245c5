"""The node's one exception tree. Catch only these at the cycle boundary.

Every error carries typed fields and builds its message from them, so logs and CLI output name the
file, line, field and value that went wrong.
"""

from __future__ import annotations


class OracleNodeError(Exception):
    """Base of every error the node raises on purpose."""


class ConfigError(OracleNodeError):
    """Invalid configuration, keystore or model manifest."""

    def __init__(self, problems: list[str] | str, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(self.problems))


class DataError(OracleNodeError):
    """A data file or record is malformed (names file, line, field and value)."""

    def __init__(self, path: str, line: int | None, field: str | None, value: object, why: str) -> None:
        self.path, self.line, self.field, self.value, self.why = path, line, field, value, why
        loc = path + (f":{line}" if line is not None else "")
        fld = f" field {field!r}" if field else ""
        super().__init__(f"{loc}:{fld} value {value!r}: {why}")


class SourceError(OracleNodeError):
    """A market-data source failed (timeout, HTTP error, malformed answer, rate limit)."""

    def __init__(self, source: str, reason: str, detail: str = "") -> None:
        self.source, self.reason, self.detail = source, reason, detail
        super().__init__(f"source {source}: {reason}" + (f" ({detail})" if detail else ""))


class GuardRejection(OracleNodeError):
    """Too few trustworthy sources to form a price: the market is in degraded mode."""

    def __init__(self, market: str, reason: str) -> None:
        self.market, self.reason = market, reason
        super().__init__(f"market {market}: {reason}")


class ModelError(OracleNodeError):
    """A model file is missing, corrupt, has the wrong hash, or cannot produce a forecast."""


class BoundsViolation(OracleNodeError):
    """A computed parameter cannot be published within the on-chain bounds."""

    def __init__(self, market: str, field: str, value: object, why: str) -> None:
        self.market, self.field, self.value, self.why = market, field, value, why
        super().__init__(f"market {market}: field {field} = {value!r}: {why}")


class SubmissionError(OracleNodeError):
    """A transaction could not be simulated, sent or confirmed, or the chain rejected it."""

    def __init__(self, reason: str, error_name: str | None = None, detail: str = "") -> None:
        self.reason, self.error_name, self.detail = reason, error_name, detail
        name = f" [{error_name}]" if error_name else ""
        super().__init__(f"{reason}{name}" + (f": {detail}" if detail else ""))

"""The node's one exception tree. Catch only these at the cycle boundary.

Every error carries typed fields and builds its message from them, so logs and CLI output name the
file, line, field and value that went wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_SHOWN_VALUE = 120  # characters of a value quoted in a message (a 200 kB CSV cell is cut)


def shown(value: object) -> str:
    """repr(value), cut to MAX_SHOWN_VALUE characters with the full length said."""
    text = repr(value)
    if len(text) <= MAX_SHOWN_VALUE:
        return text
    return f"{text[: MAX_SHOWN_VALUE - 20]}... ({len(text)} characters)"


class OracleNodeError(Exception):
    """Base of every error the node raises on purpose."""


class ConfigError(OracleNodeError):
    """Invalid configuration, keystore or model manifest.

    `origins`, when given, says per problem where its value came from (`node.yaml:12`, `environment
    variable ORACLE_CHAIN__RPC_URL`); otherwise every problem is from `source`.
    """

    def __init__(
        self,
        problems: list[str] | str,
        source: str | None = None,
        origins: Sequence[str | None] | None = None,
    ) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        self.origins = list(origins) if origins is not None else [None] * len(self.problems)
        if origins is None:
            where = f"{source}: " if source else ""
            super().__init__(where + "; ".join(self.problems))
        else:
            super().__init__("; ".join(self.lines()))

    def lines(self) -> list[str]:
        """One line per problem, each prefixed with its origin (or the source)."""
        out = []
        for origin, problem in zip(self.origins, self.problems, strict=True):
            where = origin or self.source
            out.append(f"{where}: {problem}" if where else problem)
        return out


class DataError(OracleNodeError):
    """A data file or record is malformed (names file, line, field and value; value None: not shown)."""

    def __init__(self, path: str, line: int | None, field: str | None, value: object, why: str) -> None:
        self.path, self.line, self.field, self.value, self.why = path, line, field, value, why
        loc = path + (f":{line}" if line is not None else "")
        what = (f" field {field!r}" if field else "") + (
            f" value {shown(value)}" if value is not None else ""
        )
        super().__init__(f"{loc}:{what}: {why}" if what else f"{loc}: {why}")


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

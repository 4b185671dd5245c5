"""The one interface every market-data source shares, and the helpers they use to fail cleanly.

Two kinds of source produce `Tick`s:

* **Live sources** are *async*: the service runs one asyncio event loop and awaits
  `await source.poll(now)` for every source of a round concurrently (`poll_all`). A live source either
  returns the ticks it observed or raises `SourceError(source, reason, detail)`; it never raises
  anything else on purpose and never blocks the loop. `reason` is short and machine-usable:

  ========================  ==================================================================
  reason                    meaning
  ========================  ==================================================================
  ``timeout``               no complete answer within the configured timeout
  ``unreachable``           connection refused / reset / DNS failure
  ``http_<code>``           HTTP 4xx/5xx other than 429 (e.g. ``http_503``, ``http_404``)
  ``rate_limited``          HTTP 429 (or the venue's rate-limit code); `detail` carries
                            ``retry_after=<s>`` and the source refuses to call again before then
  ``malformed``             body is not JSON, or the JSON lacks a field or has a bad value
  ``non_finite``            a number in the answer is NaN/inf or not positive where it must be
  ``api_error``             the venue answered with an error object (code and message in detail)
  ========================  ==================================================================

* **Replay sources** are plain iterables of `Tick` in non-decreasing `ts` order (`ReplaySource`).

`poll_all` gathers any number of live sources and returns every tick and every `SourceError`:
one failing venue never stops the caller.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from oracle_node.errors import SourceError
from oracle_node.logs import get_logger
from oracle_node.sources.tick import Tick

log = get_logger(__name__)


@runtime_checkable
class LiveSource(Protocol):
    """A connector polled by the service's event loop."""

    name: str
    markets: tuple[str, ...]

    async def poll(self, now: float) -> list[Tick]:
        """Ticks observed now (unix seconds). Raises only `SourceError`."""
        ...

    async def close(self) -> None:
        """Release sockets and sessions."""
        ...


@runtime_checkable
class ReplaySource(Protocol):
    """Recorded history: iterate to get ticks in time order."""

    name: str
    markets: tuple[str, ...]

    def __iter__(self) -> Iterator[Tick]: ...


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A quirk found and handled while reading recorded data (what was done is in `action`)."""

    path: str
    line: int | None
    kind: str
    detail: str
    action: str


@dataclass
class PollOutcome:
    """Everything one round of polling produced: the ticks, and the failures (never raised)."""

    ticks: list[Tick] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)

    @property
    def failed_sources(self) -> set[str]:
        return {e.source for e in self.errors}


async def poll_all(sources: Sequence[LiveSource], now: float) -> PollOutcome:
    """Poll every source concurrently; a `SourceError` from one is recorded, never propagated."""
    results = await asyncio.gather(*(s.poll(now) for s in sources), return_exceptions=True)
    outcome = PollOutcome()
    for source, result in zip(sources, results, strict=True):
        if isinstance(result, SourceError):
            log.warning("source_failed", source=source.name, reason=result.reason, detail=result.detail)
            outcome.errors.append(result)
        elif isinstance(result, BaseException):
            raise result  # a programming error, not a venue failure: let the cycle boundary see it
        else:
            outcome.ticks.extend(result)
    return outcome


# ---- parsing helpers for live answers: every problem becomes SourceError ---------------------------


def field_of(source: str, obj: object, key: str | int, where: str = "") -> Any:
    """obj[key], or SourceError('malformed') naming the missing field."""
    try:
        value = obj[key]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        raise SourceError(
            source, "malformed", f"missing field {key!r}{' in ' + where if where else ''}"
        ) from None
    if value is None:
        raise SourceError(source, "malformed", f"field {key!r}{' in ' + where if where else ''} is null")
    return value


def number(source: str, value: object, name: str, *, positive: bool = False) -> float:
    """A finite float (from a number or numeric string) or SourceError naming the field and value."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SourceError(source, "malformed", f"field {name} = {value!r} is not a number")
    try:
        out = float(value)
    except ValueError:
        raise SourceError(source, "malformed", f"field {name} = {value!r} is not a number") from None
    if not math.isfinite(out):
        raise SourceError(source, "non_finite", f"field {name} = {value!r} is not finite")
    if positive and out <= 0:
        raise SourceError(source, "non_finite", f"field {name} = {value!r} must be > 0")
    return out


def optional_number(source: str, value: object, name: str, *, positive: bool = False) -> float | None:
    """Like `number`, but None and "" (the venue did not say) stay None."""
    if value is None or value == "":
        return None
    return number(source, value, name, positive=positive)


def as_mapping(source: str, value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SourceError(source, "malformed", f"{where} is {type(value).__name__}, expected an object")
    return value


def as_list(source: str, value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise SourceError(source, "malformed", f"{where} is {type(value).__name__}, expected a list")
    return value


# ---- recorded data: the file helpers are in sources/files.py ------------------------------------


def sorted_by_ts(ticks: Iterable[Tick]) -> list[Tick]:
    """Stable sort by ts (equal timestamps keep their input order)."""
    return sorted(ticks, key=lambda t: t.ts)

"""Recorded data files as an operator hands them over: read safely, every problem a `DataError`.

* `open_text`: UTF-8 text (a BOM is accepted), `*.gz` gunzipped; bytes that are not UTF-8 name their
  line, a truncated or corrupt gzip and I/O errors name the file, none is a traceback;
* `csv_rows`: CSV rows with their line numbers; an oversized cell (Python's csv field limit) or a NUL
  byte is a `DataError` naming the line;
* `check_time`: a recorded time must lie in [2009-01-03, now + 1 day] (older is a unit or date typo,
  later is not recorded yet);
* `MIN_PRICE`..`MAX_PRICE`, `MAX_AMOUNT`: magnitudes beyond which a number is a typo or a unit error
  and the arithmetic downstream would overflow.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import math
import time
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from oracle_node.errors import DataError

R = TypeVar("R")

EARLIEST_TS = 1230940800.0  # 2009-01-03 00:00 UTC, bitcoin's first block: no market data is older
FUTURE_SLACK_S = 86400.0  # a recorded time may be at most one day after now (clock skew, time zones)
# Sane magnitudes for recorded numbers: beyond these a value is a typo or a unit error, and the
# arithmetic downstream (log returns, 24 h volume sums, margin powers) would overflow.
MAX_PRICE = 1e15
MIN_PRICE = 1e-15
MAX_AMOUNT = 1e18  # volumes and depths, in quote units


class TextFile:
    """A recorded data file as UTF-8 text lines: a BOM is accepted, `*.gz` is gunzipped, and every read
    failure (bytes that are not UTF-8, a truncated or corrupt gzip, an I/O error) is a `DataError`
    naming the file (and, for bad bytes, the line), never a traceback."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(path)
        if self.path.is_dir():
            raise DataError(self.name, None, None, None, "is a directory, expected a data file")
        try:  # closed by close(): the wrapper owns it
            raw = gzip.open(self.path, "rb") if self.path.suffix == ".gz" else self.path.open("rb")  # noqa: SIM115
        except OSError as exc:
            raise DataError(self.name, None, None, None, exc.strerror or str(exc)) from None
        self._fh = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")

    def __enter__(self) -> TextFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError, zlib.error):  # a failed read already reported it
            self._fh.close()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            return next(self._fh)
        except StopIteration:
            raise
        except (UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
            raise self._error(exc) from None

    def readline(self, size: int = -1) -> str:
        try:
            return self._fh.readline(size)
        except (UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
            raise self._error(exc) from None

    def read(self, size: int = -1) -> str:
        try:
            return self._fh.read(size)
        except (UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
            raise self._error(exc) from None

    def _error(self, exc: BaseException) -> DataError:
        if isinstance(exc, UnicodeDecodeError):
            return _not_utf8(self.path)
        if isinstance(exc, gzip.BadGzipFile):
            return DataError(self.name, None, None, None, "not a gzip file (but the name ends in .gz)")
        if isinstance(exc, EOFError | zlib.error):
            return DataError(self.name, None, None, None, f"corrupt or truncated gzip file ({exc})")
        assert isinstance(exc, OSError)
        return DataError(self.name, None, None, None, f"cannot read ({exc.strerror or exc})")


def _not_utf8(path: Path) -> DataError:
    """Find the first line that is not UTF-8 (only on the error path: a second, byte-wise read)."""
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as raw:
            for line, data in enumerate(raw, start=1):
                try:
                    data.decode("utf-8-sig" if line == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    bad = data[exc.start : exc.start + 4]
                    why = f"not UTF-8 text (bytes {bad!r} at column {exc.start + 1}); save the file as UTF-8"
                    return DataError(str(path), line, None, None, why)
    except (OSError, EOFError, zlib.error):
        pass
    return DataError(str(path), None, None, None, "not UTF-8 text; save the file as UTF-8")


def open_text(path: str | Path) -> TextFile:
    """Open a data file as UTF-8 text, transparently gunzipping `*.gz` (the bundled copies)."""
    return TextFile(path)


def csv_rows(fh: Iterable[str], path: str, start: int = 1) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of a CSV; a malformed row (an oversized cell, a NUL byte) is a DataError.
    `start` is the file line of the first line `fh` yields (after a banner or header read apart)."""
    return csv_records(csv.reader(fh), path, start)


def csv_records(reader: Iterator[R], path: str, start: int = 1) -> Iterator[tuple[int, R]]:
    """(line number, record) of a csv.reader or csv.DictReader, its csv.Error as a DataError."""
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = start - 1 + reader.line_num  # type: ignore[attr-defined]
            raise DataError(path, line, None, None, f"not a valid CSV row ({exc})") from None
        yield start - 1 + reader.line_num, record  # type: ignore[attr-defined]


def csv_header(reader: csv.DictReader[str], path: str) -> list[str] | None:
    """A DictReader's field names (it reads the first line), its csv.Error as a DataError."""
    try:
        names = reader.fieldnames
    except csv.Error as exc:
        raise DataError(path, 1, "header", None, f"not a valid CSV row ({exc})") from None
    return list(names) if names is not None else None


def complete(record: dict[str | None, Any], path: str, line: int, columns: int) -> dict[str, str]:
    """A DictReader row, or DataError when it has fewer or more cells than the header."""
    if None in record or None in record.values():
        cells = sum(v is not None for k, v in record.items() if k is not None) + len(record.get(None) or [])
        raise DataError(path, line, None, None, f"{cells} columns, header has {columns}")
    return record  # type: ignore[return-value]


def check_time(
    path: str, line: int | None, field: str, raw: object, value: float, now: float | None = None
) -> float:
    """`value` (unix seconds) if it lies in [2009-01-03, now + 1 day], else DataError naming it."""
    if not math.isfinite(value) or value < EARLIEST_TS:
        why = f"{_iso(value)} is before 2009-01-03: not a market time (seconds vs. ms, or a date typo?)"
        raise DataError(path, line, field, raw, why)
    if value > (time.time() if now is None else now) + FUTURE_SLACK_S:
        raise DataError(path, line, field, raw, f"{_iso(value)} is in the future (more than 1 day after now)")
    return value


def _iso(value: float) -> str:
    try:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "the time"

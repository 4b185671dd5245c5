"""Tick, price and series files as an operator hands them over: one DataError naming file, line,
field and value for every everyday problem; nothing silently accepted, nothing a traceback."""

from __future__ import annotations

import gzip
import types
from pathlib import Path

import numpy as np
import pytest

from oracle_node.errors import DataError
from oracle_node.sources.files import open_text
from oracle_node.sources.ohlcv import read_daily_prices
from oracle_node.sources.series import read_funding_8h, read_funding_daily
from oracle_node.sources.tickcsv import COLUMNS, iter_rounds, iter_ticks, read_ticks, scan_ticks

HEADER = ",".join(COLUMNS)
T0 = 1596340800  # 2020-08-02T04:00:00Z
NOW = 1_800_000_000.0  # 2027-01-15: a fixed "now" for the future check


def _ticks(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _row(ts: object = T0, price: object = 100.0, bid: object = "", ask: object = "", src: str = "a") -> str:
    return f"{ts},BTC-USD,{src},{price},{bid},{ask},,,,"


# ---- reading the bytes -------------------------------------------------------------------------


def test_read_ticks__not_utf8__line_and_bytes_named(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(
        f"{HEADER}\n{_row()}\n".encode() + "1596340800,BTC-USD,caf\u00e9,1,,,,,,\n".encode("latin-1")
    )
    with pytest.raises(DataError) as err:
        read_ticks(path, now=NOW)
    assert (err.value.line, err.value.field) == (3, None)
    assert "not UTF-8 text (bytes b'\\xe9," in err.value.why


def test_read_ticks__utf8_bom_before_header__accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{HEADER}\n{_row()}\n".encode())
    assert [t.price for t in read_ticks(path, now=NOW).ticks] == [100.0]


def test_open_text__truncated_gzip__data_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    path.write_bytes(
        gzip.compress(("\n".join([HEADER] + [_row(T0 + i) for i in range(5000)])).encode())[:2000]
    )
    with pytest.raises(DataError) as err:
        read_ticks(path, now=NOW)
    assert str(err.value).startswith(f"{path}: corrupt or truncated gzip file")


def test_open_text__not_gzip_despite_name__data_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    path.write_text(HEADER + "\n")
    with pytest.raises(DataError, match=r"not a gzip file"), open_text(path) as fh:
        fh.read()


def test_open_text__directory__data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory"):
        open_text(tmp_path)


# ---- rows ----------------------------------------------------------------------------------------


def test_read_ticks__cell_beyond_csv_field_limit__row_error_strict_and_skipped_lenient(
    tmp_path: Path,
) -> None:
    path = _ticks(tmp_path, _row(), _row(T0 + 60, price='"' + "9" * 200_000 + '"'), _row(T0 + 120))
    with pytest.raises(DataError) as err:
        read_ticks(path, now=NOW)
    assert err.value.line == 3 and "field larger than field limit" in err.value.why
    assert len(str(err.value)) < 400  # the 200 kB cell is not echoed whole
    f = read_ticks(path, lenient=True, now=NOW)
    assert [t.ts for t in f.ticks] == [T0, T0 + 120] and [e.line for e in f.skipped] == [3]


@pytest.mark.parametrize(
    ("column", "raw", "why"),
    [
        ("price", "1e400", "not finite"),
        ("price", "9" * 400, "not finite"),
        ("price", "1e300", "must be <= 1e+15"),
        ("price", "1e-300", "must be >= 1e-15"),
        ("bid", "1e20", "must be <= 1e+15"),
        ("volume", "1e308", "must be <= 1e+18"),
        ("funding_rate", "5", "must be <= 1 (a fraction per 8 h, not percent)"),
    ],
)
def test_read_ticks__absurd_magnitude__row_refused_naming_field_and_value(
    tmp_path: Path, column: str, raw: str, why: str
) -> None:
    cells = dict.fromkeys(COLUMNS, "")
    cells |= {"ts": str(T0), "market": "BTC-USD", "source": "a", "price": "100", column: raw}
    path = _ticks(tmp_path, ",".join(cells[c] for c in COLUMNS))
    with pytest.raises(DataError) as err:
        read_ticks(path, now=NOW)
    assert (err.value.line, err.value.field, err.value.value) == (2, column, raw)
    assert why in err.value.why


def test_read_ticks__crossed_book__quote_rejected_with_reason(tmp_path: Path) -> None:
    path = _ticks(tmp_path, _row(bid=101, ask=100), _row(T0 + 60, bid=100, ask=100))
    f = read_ticks(path, lenient=True, now=NOW)
    (err,) = f.skipped
    assert (err.line, err.field, err.value) == (2, "bid", "101 > ask 100")
    assert "crossed book" in err.why
    assert [(t.bid, t.ask) for t in f.ticks] == [(100.0, 100.0)]  # a locked book is kept


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("86400", "1970-01-02T00:00:00Z is before 2009-01-03"),
        ("2008-12-31T23:59:59Z", "is before 2009-01-03"),
        ("3000-01-01T00:00:00Z", "3000-01-01T00:00:00Z is in the future"),
        (str(int(NOW + 2 * 86400)), "is in the future"),
    ],
)
def test_read_ticks__time_outside_2009_to_tomorrow__error_names_line_and_value(
    tmp_path: Path, raw: str, why: str
) -> None:
    path = _ticks(tmp_path, _row(), _row(ts=raw))
    with pytest.raises(DataError) as err:
        read_ticks(path, now=NOW)
    assert (err.value.line, err.value.field, err.value.value) == (3, "ts", raw)
    assert why in err.value.why


def test_read_ticks__time_just_inside_the_bounds__accepted(tmp_path: Path) -> None:
    path = _ticks(tmp_path, _row(ts=1230940800), _row(ts=int(NOW + 86000)))
    assert len(read_ticks(path, now=NOW).ticks) == 2


# ---- streaming -----------------------------------------------------------------------------------


def test_iter_ticks__a_generator_not_a_list(tmp_path: Path) -> None:
    path = _ticks(tmp_path, *(_row(T0 + i, src=s) for i in range(50) for s in "ab"))
    stream = iter_ticks(path, now=NOW)
    assert isinstance(stream, types.GeneratorType)
    assert next(stream).ts == T0
    rounds = iter_rounds(path, now=NOW)
    assert isinstance(rounds, types.GeneratorType)
    assert [len(ticks) for _, ticks in rounds] == [2] * 50


def test_iter_rounds__duplicates_dropped_groups_in_time_order(tmp_path: Path) -> None:
    path = _ticks(tmp_path, _row(T0), _row(T0), _row(T0, src="b"), _row(T0 + 1))
    assert [(ts, [t.source for t in ticks]) for ts, ticks in iter_rounds(path, now=NOW)] == [
        (T0, ["a", "b"]),
        (T0 + 1, ["a"]),
    ]


def test_iter_rounds__row_back_in_time__data_error(tmp_path: Path) -> None:
    path = _ticks(tmp_path, _row(T0 + 1), _row(T0))
    with pytest.raises(DataError, match="not in time order"):
        list(iter_rounds(path, now=NOW))


def test_scan_ticks__counts_markets_rounds_order_and_skips(tmp_path: Path) -> None:
    sorted_path = _ticks(tmp_path, _row(T0), _row(T0, src="b"), _row(T0 + 1), _row(T0 + 2, price="x"))
    scan = scan_ticks(sorted_path, now=NOW)
    assert (scan.markets, scan.ticks, scan.rounds, scan.first_ts, scan.in_order, scan.skipped) == (
        ("BTC-USD",),
        3,
        2,
        T0,
        True,
        1,
    )
    unsorted = scan_ticks(_ticks(tmp_path, _row(T0 + 1), _row(T0), name="u.csv"), now=NOW)
    assert (unsorted.in_order, unsorted.first_ts) == (False, T0)


# ---- daily prices and series ------------------------------------------------------------------


def test_read_daily_prices__row_missing_a_cell__data_error_not_type_error(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("date,price,volume\n2020-01-01,100,5\n2020-01-02\n")
    with pytest.raises(DataError) as err:
        read_daily_prices(path)
    assert err.value.line == 3 and "header has 3" in err.value.why


def test_read_funding_daily__bom_and_short_row__header_accepted_row_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"\xef\xbb\xbfdate,funding_mean,funding_abs\n2020-01-01,0.0001,0.0001\n2020-01-02,0.1\n")
    with pytest.raises(DataError) as err:
        read_funding_daily(path)
    assert err.value.line == 3


def test_read_funding_8h__integer_with_400_digits__data_error_not_overflow(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(f"[[1667462400000, {'9' * 400}]]")
    with pytest.raises(DataError) as err:
        read_funding_8h(path)
    assert err.value.field == "[0][1]" and "too large" in err.value.why
    assert np.isfinite(float(1667462400000))  # the ms stamp itself is fine


def test_open_text__permission_denied__data_error_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _ticks(tmp_path, _row())

    def denied(self: Path, *_args: object, **_kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(DataError) as err:
        read_ticks(path, now=NOW)
    assert str(err.value) == f"{path}: Permission denied"

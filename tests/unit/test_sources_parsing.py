"""Pure parsers of the live connectors: depth band, Deribit rows, Aave logs, Retry-After, number checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oracle_node.errors import SourceError
from oracle_node.sources.base import field_of, number
from oracle_node.sources.deribit import parse_chain, parse_instrument, unwrap
from oracle_node.sources.exchanges import depth_within_band
from oracle_node.sources.http import DEFAULT_RETRY_AFTER, parse_retry_after
from oracle_node.sources.liquidations import LIQUIDATION_TOPIC, decode_liquidation_log

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"


def test_depth_within_band__levels_on_both_sides__only_inside_1pct_summed() -> None:
    bids = [[99.5, 2.0], [99.0, 1.0], [98.9, 50.0]]
    asks = [[100.5, 1.0], [101.0, 3.0], [101.1, 50.0]]
    assert depth_within_band(bids, asks, mid=100.0) == (99.5 * 2 + 99.0, 100.5 + 101.0 * 3)


def test_depth_within_band__contracts__scaled_by_contract_size() -> None:
    bid, ask = depth_within_band([[100.0, 10.0]], [[100.2, 5.0]], mid=100.1, contract_size=0.01)
    assert (bid, ask) == pytest.approx((10.0, 5.01))


def test_depth_within_band__empty_book__zero() -> None:
    assert depth_within_band([], [], mid=100.0) == (0.0, 0.0)


def test_liquidation_topic__event_signature__known_keccak() -> None:
    assert LIQUIDATION_TOPIC == "0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286"


def test_decode_liquidation_log__recorded_log__fields() -> None:
    raw = json.loads((RECORDED / "ethereum" / "aave_v2_liquidations_20210519.json").read_text())
    event = decode_liquidation_log("aave", raw["logs"][1])
    assert event.collateral_asset == "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599"  # WBTC
    assert event.debt_asset == "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"  # USDC
    assert (event.debt_to_cover, event.liquidated_collateral, event.receive_atoken) == (
        8329593153,
        22203527,
        False,
    )
    assert (event.block_number, event.log_index) == (12_463_179, 107)


def test_decode_liquidation_log__short_data__malformed() -> None:
    raw = json.loads((RECORDED / "ethereum" / "aave_v2_liquidations_20210519.json").read_text())
    log = {**raw["logs"][0], "data": raw["logs"][0]["data"][:70]}
    with pytest.raises(SourceError) as err:
        decode_liquidation_log("aave", log)
    assert err.value.reason == "malformed" and "LiquidationCall data" in err.value.detail


def test_decode_liquidation_log__other_event__malformed() -> None:
    raw = json.loads((RECORDED / "ethereum" / "aave_v2_liquidations_20210519.json").read_text())
    log = {**raw["logs"][0], "topics": ["0x" + "11" * 32, *raw["logs"][0]["topics"][1:]]}
    with pytest.raises(SourceError, match="not a LiquidationCall log"):
        decode_liquidation_log("aave", log)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BTC-27FEB26-75000-C", ("BTC", 75000.0, datetime(2026, 2, 27, 8, tzinfo=UTC).timestamp(), "call")),
        ("BTC-3JAN25-100000-P", ("BTC", 100000.0, datetime(2025, 1, 3, 8, tzinfo=UTC).timestamp(), "put")),
        (
            "XRP_USDC-30JAN26-1d8-C",
            ("XRP_USDC", 1.8, datetime(2026, 1, 30, 8, tzinfo=UTC).timestamp(), "call"),
        ),
    ],
)
def test_parse_instrument__deribit_names__strike_expiry_type(name: str, expected: tuple[object, ...]) -> None:
    assert parse_instrument(name) == expected


@pytest.mark.parametrize("name", ["BTC-PERPETUAL", "BTC-27FEB26", "BTC-27FOO26-1000-C"])
def test_parse_instrument__not_an_option__value_error(name: str) -> None:
    with pytest.raises(ValueError, match="not an option"):
        parse_instrument(name)


def test_parse_chain__one_bad_row__skipped_and_reported() -> None:
    body = json.loads((RECORDED / "deribit" / "get_book_summary_by_currency_BTC_option.json").read_text())
    rows = unwrap("deribit", body, "summary")
    rows[3]["mark_iv"] = None
    rows[5]["mark_price"] = "abc"
    chain = parse_chain("deribit", "BTC", rows, 90919.99, now=1.0)
    assert len(chain.quotes) == 22
    assert chain.skipped == (
        "result[3]: malformed: field 'mark_iv' in BTC-30JAN26-85000-P is null",
        "result[5]: malformed: field BTC-30JAN26-90000-P mark_price = 'abc' is not a number",
    )


def test_unwrap__deribit_rate_limit_error__rate_limited() -> None:
    body = json.loads((RECORDED / "deribit" / "too_many_requests.json").read_text())
    with pytest.raises(SourceError) as err:
        unwrap("deribit", body, "get_index_price")
    assert (err.value.reason, err.value.detail) == (
        "rate_limited",
        "get_index_price: code 10028: too_many_requests",
    )


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("30", 30.0), ("0.5", 0.5), (None, DEFAULT_RETRY_AFTER), ("soon", DEFAULT_RETRY_AFTER), ("-4", 0.0)],
)
def test_parse_retry_after__delta_seconds__seconds(header: str | None, seconds: float) -> None:
    assert parse_retry_after(header) == seconds


def test_parse_retry_after__http_date__seconds_from_now() -> None:
    now = datetime(2024, 3, 4, 8, 0, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("Mon, 04 Mar 2024 08:00:45 GMT", now=now) == 45.0


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("nan", "non_finite"),
        (float("inf"), "non_finite"),
        ("x", "malformed"),
        (None, "malformed"),
        (True, "malformed"),
    ],
)
def test_number__bad_values__source_error(value: object, reason: str) -> None:
    with pytest.raises(SourceError) as err:
        number("v", value, "last")
    assert err.value.reason == reason and "last" in err.value.detail


def test_number__non_positive_when_positive_required__non_finite_reason() -> None:
    with pytest.raises(SourceError, match="must be > 0"):
        number("v", "0", "price", positive=True)
    assert number("v", "67250.01", "price", positive=True) == 67250.01


def test_field_of__missing_key__malformed_names_field() -> None:
    with pytest.raises(SourceError) as err:
        field_of("v", {"a": 1}, "result", "reply")
    assert (err.value.reason, err.value.detail) == ("malformed", "missing field 'result' in reply")

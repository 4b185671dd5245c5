"""Real ETH/USDT bars (the bundled Binance hourly export) in Binance's kline formats, for the warm-up tests.

* `kline_csv`: the bars as a Binance public-data kline CSV (data.binance.vision layout).
* `daily_bars`: hourly bars grouped into UTC-day bars (what Binance's `1d` klines hold).
* `RecordedBinance`: a requests transport adapter that answers a real ccxt `binance` client like the
  venue's REST API, without a socket: `/api/v3/exchangeInfo` from the recorded response in
  tests/fixtures/recorded/binance, `/api/v3/klines` from the bars (symbol ETHUSDT, `interval`,
  `startTime` and `limit` honoured, at most 1000 rows, only bars already open at `now`, the last one
  possibly still running, as the venue does). Every request is recorded; a `fault` answers all
  klines requests with that HTTP status.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter

from oracle_node.sources.bundled import resolve
from oracle_node.sources.ccxt_history import CcxtHistorySpec, make_exchange
from oracle_node.sources.ohlcv import OhlcvBar, read_cdd_ohlcv
from tests.fixtures.recorded.loopback import RECORDED

DAY = 86_400.0
HOUR = 3_600.0


@lru_cache(maxsize=1)
def eth_hourly() -> tuple[OhlcvBar, ...]:
    return read_cdd_ohlcv(resolve("bundled:binance_ethusdt_spot_1h")).bars


def hourly_between(start: float, end: float) -> list[OhlcvBar]:
    return [b for b in eth_hourly() if start <= b.ts < end]


def daily_bars(hourly: Sequence[OhlcvBar]) -> list[OhlcvBar]:
    """One bar per UTC day (open of the first hour, close of the last, extremes and sums)."""
    out = []
    for day, group in groupby(hourly, key=lambda b: int(b.ts // DAY)):
        bars = list(group)
        out.append(
            OhlcvBar(
                day * DAY,
                bars[0].open,
                max(b.high for b in bars),
                min(b.low for b in bars),
                bars[-1].close,
                sum(b.volume_base or 0.0 for b in bars),
                sum(b.volume_quote or 0.0 for b in bars),
                sum(b.trades or 0 for b in bars),
            )
        )
    return out


def kline_row(b: OhlcvBar, bar_s: float, unit: float = 1e3) -> list[Any]:
    """A kline as Binance lists it: times as integers, amounts as strings."""
    return [
        int(b.ts * unit),
        repr(b.open),
        repr(b.high),
        repr(b.low),
        repr(b.close),
        repr(b.volume_base or 0.0),
        int((b.ts + bar_s) * unit) - 1,
        repr(b.volume_quote or 0.0),
        b.trades or 0,
        "0",
        "0",
        "0",
    ]


def kline_csv(
    path: Path, bars: Sequence[OhlcvBar], bar_s: float, *, unit: float = 1e3, header: bool = False
) -> Path:
    lines = ["open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
             "taker_buy_quote_volume,ignore"] if header else []  # fmt: skip
    lines += [",".join(str(v) for v in kline_row(b, bar_s, unit)) for b in bars]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class RecordedBinance(BaseAdapter):
    bars: dict[str, Sequence[OhlcvBar]]  # interval ("1h", "1d") -> bars
    now: float
    requests: list[str] = field(default_factory=list)
    fault: int | None = None

    def __post_init__(self) -> None:
        super().__init__()

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        self.requests.append(f"{url.path}?{url.query}" if url.query else url.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/api/v3/exchangeInfo":
            return _response(request, 200, (RECORDED / "binance" / "exchangeInfo.json").read_text())
        if url.path == "/api/v3/klines" and self.fault is not None:
            return _response(request, self.fault, '{"code": -1000, "msg": "recorded fault"}')
        if url.path == "/api/v3/klines" and query.get("symbol") == "ETHUSDT":
            bar_s = HOUR if query["interval"] == "1h" else DAY
            start = int(query.get("startTime", 0)) / 1000
            rows = [kline_row(b, bar_s) for b in self.bars[query["interval"]] if start <= b.ts <= self.now]
            return _response(request, 200, json.dumps(rows[: min(int(query.get("limit", 500)), 1000)]))
        return _response(request, 400, '{"code": -1121, "msg": "Invalid symbol."}')

    def close(self) -> None:
        pass


def _response(request: requests.PreparedRequest, status: int, body: str) -> requests.Response:
    r = requests.Response()
    r.status_code, r.reason, r.url, r.request = (
        status,
        "OK" if status == 200 else "Error",
        request.url,
        request,
    )
    r._content = body.encode()
    r.headers["Content-Type"] = "application/json"
    return r


def recorded_binance(adapter: RecordedBinance) -> Any:
    """A real ccxt binance client whose HTTPS requests the adapter answers."""
    exchange = make_exchange(CcxtHistorySpec("binance", "ETH/USDT", "1d"))
    exchange.enableRateLimit = False
    exchange.session.mount("https://", adapter)
    return exchange

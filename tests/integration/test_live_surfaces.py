"""Live surfaces: the recorded Deribit book summary, served on loopback, fetched by the node's live
surface provider (service.surfaces.LiveChains), converted (options.live) and fitted into the smiles a
surface report carries."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime

import pytest

from oracle_node.network.errors import NothingDue
from oracle_node.options import onchain
from oracle_node.service.surfaces import LiveChains, ShockSizer, surface_model_hash
from oracle_node.sources.deribit import DeribitOptionsSource
from tests.fixtures.recorded.loopback import Loopback

pytestmark = pytest.mark.integration

NOW = int(datetime(2026, 1, 20, 9, 30, tzinfo=UTC).timestamp())  # the recording's creation time + minutes


def deribit_server() -> Loopback:
    s = Loopback()
    s.add("/api/v2/public/get_index_price", "deribit/get_index_price_btc_usd.json", index_name="btc_usd")
    s.add("/api/v2/public/get_book_summary_by_currency", "deribit/get_book_summary_by_currency_BTC_option.json",
          currency="BTC", kind="option")  # fmt: skip
    return s


def test_live_chains__recorded_deribit__fitted_surface_and_shocks_in_report_units() -> None:
    async def scenario() -> object:
        server = deribit_server()
        await server.start()
        try:
            provider = LiveChains(
                [DeribitOptionsSource("BTC", "BTC-USD", base_url=server.base_url)], 2, ShockSizer()
            )
            with pytest.raises(NothingDue):
                await provider(7, NOW)  # every 2nd round only
            return await provider(8, NOW)
        finally:
            await server.stop()
            assert server.unmatched == [], server.unmatched

    obs = asyncio.run(scenario())
    (surface,) = obs.surfaces  # type: ignore[attr-defined]
    assert surface.underlying == "BTC" and surface.spot == pytest.approx(90_919.99)
    assert obs.model_hash == surface_model_hash() and len(obs.inputs_hash) == 32  # type: ignore[attr-defined]
    shocks = obs.shocks["BTC"]  # type: ignore[attr-defined]
    assert 500 <= shocks.price_move <= 5000 and shocks.vol_up >= 1000
    report = onchain.build_report(obs.surfaces, obs.shocks, epoch=1, round=8, observed_at=NOW,  # type: ignore[attr-defined]
                                  deadline=NOW + 60, model_hash=obs.model_hash, inputs_hash=obs.inputs_hash)  # type: ignore[attr-defined]  # fmt: skip
    words = report.surfaces()["BTC"]
    assert words and all(w.check() == 0 for w in words)
    for sl, w in zip(surface.slices, words, strict=True):
        # Deribit's marks near the money are 37-39 % (mark_iv is in percent in the API): so is the fit
        vol = w.implied_vol(sl.forward)
        assert math.isfinite(vol) and 0.36 < vol < 0.41, (sl.expiry, vol)

"""The dashboard in a real browser: a single operator replays the 2020-03-11/12 hours onto anvil (risk
reports, plus a recorded Deribit chain as surfaces) with `dashboard.enabled`; headless chromium loads
the page, waits for a new round to appear, and every value checked is compared with the chain itself
(the oracle's events, read here independently of the dashboard): each market's IM / MM / LT bp for the
round the page shows, each shown round's signers, leader and gas, the model hash. Writing is refused.

Needs Debian's chromium and chromium-driver (`make browser`); selenium-manager is never used.
DASHBOARD_SCREENSHOT=path also saves the page (docs/dashboard.png is made that way).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.deploy import deploy_stack, load_deploy_config
from oracle_node.chain.rpc import make_web3
from oracle_node.config import NodeConfig
from oracle_node.service.network_run import serve_network
from oracle_node.service.wiring import build_network
from oracle_node.sources.bundled import BUNDLED_DIR
from oracle_node.types import MarketState, market_id_bytes32

REPO = Path(__file__).resolve().parents[2]
TICKS = REPO / "examples" / "ticks_2020-03-12.csv"
CHAIN = BUNDLED_DIR / "options" / "deribit_options_snapshot_20260120T092708Z.csv.gz"
CRASH_START = 1583971200.0  # 2020-03-12 00:00 UTC
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ROW0 = '#rounds td[data-row="0"][data-col="round"]'
CHECKED = ("initial_margin", "maintenance_margin", "liquidation_threshold")


def _browser() -> Any:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: run `make browser` (installs chromium and chromium-driver)"
        )
    from selenium import webdriver  # noqa: PLC0415 - dev dependency, only this test needs it
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="module")
def node_cfg(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> tuple[NodeConfig, Any]:
    w3 = make_web3(anvil.url)
    base = load_deploy_config()
    profiles = tuple(p.model_copy(update={"min_interval": 1}) for p in base.profiles)
    cfg = base.model_copy(
        update={"signers": (1,), "threshold": 1, "max_report_age": 3600, "profiles": profiles}
    )
    deployment = deploy_stack(w3, Account.from_key(ANVIL_KEYS[0]), cfg)
    tmp = tmp_path_factory.mktemp("dash")
    lines = TICKS.read_text().splitlines()
    keep = [x for x in lines[1:] if CRASH_START - 2 * 86400 <= float(x.split(",")[0]) < CRASH_START + 86400]
    (tmp / "ticks.csv").write_text("\n".join([lines[0], *keep]) + "\n")
    (tmp / "key.json").write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "s3cret")))
    (tmp / "pw").write_text("s3cret\n")
    node = NodeConfig(
        node_name="dashboard-test",
        chain={"rpc_url": anvil.url, "chain_id": 31337, "oracle_address": deployment.oracle},
        signer={"keystore": tmp / "key.json", "password_file": tmp / "pw"},
        markets=[
            {"id": "BTC-USD", "history": "bundled:binance_btcusdt_spot_1h"},
            {"id": "ETH-USD", "history": "bundled:binance_ethusdt_spot_1h"},
        ],
        service={"store_path": tmp / "node.sqlite", "replay_ticks": tmp / "ticks.csv", "replay_speed": 3600.0,
                 "tick_interval_s": 1.0, "cycle_timeout_s": 0.9},
        surfaces={"oracle_address": deployment.surface_oracle, "chains": [CHAIN], "rounds_per_chain": 3},
        dashboard={"enabled": True, "port": 0, "refresh_s": 0.5},
    )  # fmt: skip
    return node, RiskOracle(w3, deployment.oracle)


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def _rows(driver: Any) -> int:
    return len(driver.find_elements("css selector", '#rounds td[data-col="round"]'))


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def _market_words(oracle: RiskOracle, market: str) -> dict[int, MarketState]:
    """Every state the chain stored for the market, by round (its RiskParamsUpdated events)."""
    event = oracle.contract.events.RiskParamsUpdated
    logs = event.get_logs(from_block=0, argument_filters={"marketId": market_id_bytes32(market)})
    states = [MarketState.decode(int(e["args"]["marketWord"])) for e in logs]
    return {s.round: s for s in states}


def _accepted(oracle: RiskOracle) -> dict[int, tuple[int, str, int]]:
    """round -> (signer count, submitter, gas used), from RiskReportAccepted and the receipts."""
    out = {}
    for e in oracle.contract.events.RiskReportAccepted.get_logs(from_block=0):
        tx = oracle.w3.eth.get_transaction(e["transactionHash"])
        receipt = oracle.w3.eth.get_transaction_receipt(e["transactionHash"])
        out[int(e["args"]["round"])] = (
            bin(int(e["args"]["signerBitmap"])).count("1"),
            tx["from"],
            receipt["gasUsed"],
        )
    return out


def _browse(url: str, shot: Path) -> dict[str, Any]:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    driver = _browser()
    try:
        driver.get(url)
        # the page redraws every poll: an element found just before a redraw is gone when read
        redrawn = (NoSuchElementException, StaleElementReferenceException)
        wait = WebDriverWait(driver, 60, poll_frequency=0.2, ignored_exceptions=redrawn)
        first = wait.until(lambda d: _int_or_none(_text(d, ROW0)))
        newer = wait.until(
            lambda d: (r := _int_or_none(_text(d, ROW0))) and r > first and _rows(d) >= 3 and r
        )
        wait.until(lambda d: "round" in _text(d, "#smiles .body") and _text(d, "#model-hash"))
        seen = {"first": first, "newer": newer, "markets": {}, "rows": []}
        # freeze the page (no more polls, no more redraws) so the values read below are one state
        driver.execute_script("window.render = () => {}; for (let i = 0; i < 1000; i++) clearInterval(i);")
        for market in ("BTC-USD", "ETH-USD"):
            cell = f'#markets [data-market="{market}"]'
            values = {f: int(_text(driver, f'{cell}[data-field="{f}"][data-col="onchain"]')) for f in CHECKED}
            seen["markets"][market] = (int(_text(driver, f'{cell}[data-col="round"]')), values)
        for i in range(3):
            row = f'#rounds td[data-row="{i}"]'
            leader = driver.find_element("css selector", f'{row}[data-col="leader"]').get_attribute("title")
            signers = int(_text(driver, f'{row}[data-col="signers"]').split(":")[0])
            gas = int(_text(driver, f'{row}[data-col="gas"]').replace(",", ""))
            seen["rows"].append((int(_text(driver, f'{row}[data-col="round"]')), signers, leader, gas))
        seen["model"] = _text(driver, "#model-hash")
        seen["allowed"] = "allow-listed on-chain" in _text(driver, "#model .body")
        seen["atm_vols"] = len(driver.find_elements("css selector", '#smiles td[data-col="atm_vol"]'))
        driver.save_screenshot(str(shot))
        return seen
    finally:
        driver.quit()


def _post(url: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_dashboard__browser_during_a_replay__shows_new_rounds_and_the_chains_values(
    node_cfg: tuple[NodeConfig, RiskOracle], tmp_path: Path
) -> None:
    cfg, oracle = node_cfg
    _browser().quit()  # fail now (make browser) rather than after the node started
    run, _, _ = build_network(cfg, {})
    assert run.dashboard is not None
    shot = tmp_path / "dashboard.png"

    async def scenario() -> tuple[dict[str, Any], int]:
        node = asyncio.create_task(serve_network(run))
        while run.dashboard.port == 0 and not node.done():  # type: ignore[union-attr]
            await asyncio.sleep(0.1)
        url = run.dashboard.url  # type: ignore[union-attr]
        seen = await asyncio.to_thread(_browse, url, shot)
        refused = await asyncio.to_thread(_post, url + "state.json")
        assert not node.done(), "the replay ended before the browser was done"
        signal.raise_signal(signal.SIGTERM)  # serve_network's own stop path (the dashboard stops with it)
        assert await asyncio.wait_for(node, 60) == 0
        return seen, refused

    seen, refused = asyncio.run(scenario())
    run.store.close()
    assert refused == 405
    assert seen["newer"] > seen["first"] > 0
    for market, (round_, values) in seen["markets"].items():
        stored = _market_words(oracle, market)[round_]
        assert stored.params is not None
        assert values == {f: getattr(stored.params, f) for f in CHECKED}, market
    accepted = _accepted(oracle)
    me = Account.from_key(ANVIL_KEYS[1]).address
    for round_, signers, leader, gas in seen["rows"]:
        assert accepted[round_] == (signers, leader, gas)
        assert signers == 1 and leader == me
    assert [r[0] for r in seen["rows"]] == sorted((r[0] for r in seen["rows"]), reverse=True)
    assert seen["model"] == "0x" + run.observer.model_hash.hex() and seen["allowed"]
    assert oracle.is_model_allowed(run.observer.model_hash)
    assert seen["atm_vols"] >= 8  # BTC and ETH expiries of the published chain
    if target := os.environ.get("DASHBOARD_SCREENSHOT"):
        shutil.copyfile(shot, target)

"""The shipped deploy config allow-lists what the node's reports carry."""

from __future__ import annotations

import pytest

from oracle_node.chain.deploy import load_deploy_config
from oracle_node.service.surfaces import surface_model_hash

pytestmark = pytest.mark.unit


def test_local_yaml__surface_model_allow_listed_and_surfaces_bounded() -> None:
    config = load_deploy_config()
    assert "0x" + surface_model_hash().hex() in [m for m in config.models if isinstance(m, str)]
    assert config.surface is not None and set(config.surface.underlyings) == {"BTC", "ETH"}
    for bounds in config.surface.underlyings.values():
        assert bounds.atm_vol_floor < bounds.atm_vol_ceiling and bounds.spot_max_change < 0xFFFF

"""make demo replays the March 2020 crash with a model that never saw it."""

from __future__ import annotations

from pathlib import Path

from oracle_node.demo.session import DEMO_MODEL, DemoOptions, DemoSession
from oracle_node.demo.views import utc
from oracle_node.models.manifest import ARTIFACTS_DIR, load_manifest
from oracle_node.service.wiring import load_model


def test_demo_model__trained_before_the_replay__same_recipe_as_the_served_model() -> None:
    demo, served = load_manifest(DEMO_MODEL), load_manifest(ARTIFACTS_DIR)  # hash-verified loads
    cut = utc(demo.data["training"]["test_start"])
    assert cut < utc(DemoOptions().start)  # every training target day closed before the replay
    assert demo.data["model"] == served.data["model"] and demo.data["features"] == served.data["features"]
    assert demo.hash != served.hash


def test_demo_session__nodes_serve_the_demo_model(tmp_path: Path) -> None:
    session = DemoSession(DemoOptions(), "http://127.0.0.1:1", tmp_path)  # no chain is touched
    assert load_model(session.node_config()).model_hash == load_manifest(DEMO_MODEL).hash

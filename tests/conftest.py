"""Shared fixtures: real data location, anvil on a free port, compiled artifacts.

A test's kind is its directory: tests/unit -> `unit`, tests/integration -> `integration`,
tests/scenarios -> `scenario`, so `pytest -m unit` runs exactly the unit tests
(tests/unit/test_suite_layout.py checks the partition).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# `make test` (and so CI) runs the property tests derandomised: the same examples on every run, so a
# landing never hangs on a draw nobody has seen; `make fuzz` explores with fresh random draws.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("fuzz", max_examples=2_000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TESTS_DIR = Path(__file__).resolve().parent
KIND_BY_DIR = {"unit": "unit", "integration": "integration", "scenarios": "scenario"}


def kind_of(path: Path) -> str | None:
    """The kind marker of a test file: the name of its top directory under tests/, or None elsewhere."""
    try:
        top = Path(path).resolve().relative_to(TESTS_DIR).parts[0]
    except (ValueError, IndexError):
        return None
    return KIND_BY_DIR.get(top)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        kind = kind_of(item.path)
        if kind is not None:
            item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real market data not found at {SHARED_DATA} (CI puts ../shared beside the clone)")
    return SHARED_DATA

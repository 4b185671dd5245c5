"""Integration tests run against a real anvil started on a free loopback port and stopped after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oracle_node.chain.anvil import Anvil


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    with Anvil() as node:
        yield node

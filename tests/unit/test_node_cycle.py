from __future__ import annotations

from oracle_node.service.breaker import Breaker


def test_breaker__n_consecutive_failures__opens_and_blocks_until_cooldown() -> None:
    b = Breaker(limit=3, cooldown_s=60)
    assert [b.record(False, t) for t in (0, 1, 2)] == [False, False, True]
    assert (b.allows(30), b.allows(62)) == (False, True)


def test_breaker__success_in_between__resets_the_count() -> None:
    b = Breaker(limit=2, cooldown_s=60)
    b.record(False, 0)
    b.record(True, 1)
    assert b.record(False, 2) is False and b.opened_at is None


def test_breaker__failed_half_open_try__stays_open_for_another_cooldown() -> None:
    b = Breaker(limit=1, cooldown_s=10)
    b.record(False, 0)
    assert b.allows(10)
    b.record(False, 10)
    assert not b.allows(15) and b.allows(20)
    b.record(True, 20)
    assert b.opened_at is None and b.failures == 0

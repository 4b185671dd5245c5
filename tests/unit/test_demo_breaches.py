"""The demo summary's VaR breach count: overlapping hourly windows, episodes and daily windows."""

from __future__ import annotations

from oracle_node.demo.report import DAY, HOUR, breach_summary


def test_breach_summary__one_bad_day__many_overlapping_windows_one_episode_one_daily() -> None:
    t0 = 1_583_841_600.0
    realised = [(t0 + h * HOUR, 1.0) for h in range(49)]  # 49 hourly windows: daily ones at 0, 24, 48
    breaches = [(t0 + h * HOUR, 30.0) for h in range(20, 30)]  # ten consecutive hours around hour 24
    line = breach_summary(realised, breaches)
    assert line == (
        "10 of 49 overlapping hourly 24 h windows, 1 episode(s); non-overlapping daily windows: 1 of 3"
    )


def test_breach_summary__two_separate_runs__two_episodes_none_daily() -> None:
    t0 = 0.0
    realised = [(t0 + h * HOUR, 1.0) for h in range(30)]
    breaches = [(3 * HOUR, 9.0), (4 * HOUR, 9.0), (10 * HOUR, 9.0)]
    assert breach_summary(realised, breaches).startswith(
        "3 of 30 overlapping hourly 24 h windows, 2 episode(s)"
    )
    assert breach_summary(realised, breaches).endswith("daily windows: 0 of 2")
    assert DAY == 24 * HOUR


def test_breach_summary__no_known_outcome__says_so() -> None:
    assert breach_summary([], []) == "no window with a known 24 h outcome"

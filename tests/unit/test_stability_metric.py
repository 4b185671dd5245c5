"""The stability metric (research.stability) on synthetic hourly series."""

from __future__ import annotations

import pytest

from oracle_node.research.stability import HOUR, Round, stability_metrics

pytestmark = pytest.mark.unit


def _rounds(prices: list[float], ims: list[int], confidence: list[int] | None = None) -> list[Round]:
    conf = confidence or [7000] * len(prices)
    return [
        Round(i * HOUR, p, 7000, im, c, "m", "")
        for i, (p, im, c) in enumerate(zip(prices, ims, conf, strict=True))
    ]


def test_stability__flipping_im_on_calm_prices__every_pair_is_a_flip() -> None:
    prices = [8000.0 * (1.0 + 0.002 * (i % 2)) for i in range(25)]  # 0.2 % moves
    ims = [2400 if i % 2 == 0 else 3200 for i in range(25)]  # 33 % / 25 % jumps
    m = stability_metrics(_rounds(prices, ims))
    assert (m["pairs"], m["calm_pairs"], m["flips"]) == (24, 24, 24)
    assert m["flip_share"] == 1.0
    assert m["max_calm_im_jump"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["flip_share"] > 0.05  # what the demo-window regression test requires of the node: it fails here


def test_stability__smooth_im__no_flip() -> None:
    prices = [8000.0 * (1.0 + 0.002 * (i % 2)) for i in range(25)]
    ims = [2400 + 20 * i for i in range(25)]  # < 1 % a round
    m = stability_metrics(_rounds(prices, ims))
    assert (m["flips"], m["flip_share"]) == (0, 0.0)
    assert m["max_calm_im_jump"] < 0.01
    assert m["crash"] is None


def test_stability__im_jump_on_a_real_move__not_a_flip() -> None:
    prices = [8000.0, 8010.0, 8500.0, 8490.0]  # +6.1 % between rounds 1 and 2
    m = stability_metrics(_rounds(prices, [2400, 2400, 3200, 3200]))
    assert (m["pairs"], m["calm_pairs"], m["flips"]) == (3, 2, 0)


def test_stability__boundaries__strictly_more_than_10_percent_on_less_than_1_percent() -> None:
    at_limit = stability_metrics(_rounds([100.0, 100.5], [1000, 1100]))  # +10.0 % exactly
    above = stability_metrics(_rounds([100.0, 100.5], [1000, 1101]))
    move = stability_metrics(_rounds([100.0, 101.0], [1000, 1500]))  # a 1 % move is not calm
    assert (at_limit["flips"], above["flips"], move["flips"]) == (0, 1, 0)


def test_stability__gap_between_rounds__pair_not_counted() -> None:
    rounds = _rounds([100.0, 100.1, 100.2], [1000, 1500, 1000])
    rounds[2] = Round(5 * HOUR, 100.2, 7000, 1000, 7000, "m", "")  # 4 h gap
    assert stability_metrics(rounds)["pairs"] == 1


def test_stability__crash__lag_counts_hours_from_the_drop_to_the_im_rise() -> None:
    prices = [100.0, 100.0, 80.0, 79.0, 78.0]  # -20 % in round 2
    same = stability_metrics(_rounds(prices, [1000, 1000, 1500, 1500, 1500]))["crash"]
    late = stability_metrics(_rounds(prices, [1000, 1000, 1050, 1080, 1200]))["crash"]
    never = stability_metrics(_rounds(prices, [1000, 1000, 1000, 1000, 1000]))["crash"]
    assert same["lag_hours"] == 0 and same["drop_hour"] == "1970-01-01T02"  # type: ignore[index]
    assert late["lag_hours"] == 2 and late["im_at_rise_bp"] == 1200  # type: ignore[index]
    assert never["lag_hours"] is None and never["im_rise_hour"] is None  # type: ignore[index]


def test_stability__confidence_flips__counted_on_calm_pairs() -> None:
    prices = [100.0, 100.1, 100.0, 100.1]
    m = stability_metrics(_rounds(prices, [1000] * 4, [7000, 4200, 7000, 6500]))
    assert (m["confidence_flips"], m["confidence_flip_share"]) == (2, round(2 / 3, 4))


def test_cli_stability__missing_or_malformed_prices__one_line_exit_2(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture
) -> None:
    from oracle_node.cli import main  # noqa: PLC0415

    bad = tmp_path / "bad.csv"  # type: ignore[operator]
    bad.write_text("date,price\n2020-01-01,abc\n")
    for prices, needle in ((tmp_path / "missing.csv", "does not exist"), (bad, "'abc'")):  # type: ignore[operator]
        args = ["stability", "--prices", str(prices), "--from", "2020-03-10", "--to", "2020-03-11"]
        assert main([*args, "--out", str(tmp_path / "out")]) == 2  # type: ignore[operator]
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_cli_stability__bad_from_date__one_line_naming_the_flag(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture
) -> None:
    from oracle_node.cli import main  # noqa: PLC0415

    prices = tmp_path / "p.csv"  # type: ignore[operator]
    prices.write_text("date,price\n2020-03-09,7900\n2020-03-10,7950\n")
    args = ["stability", "--prices", str(prices), "--from", "2020-13-45", "--to", "2020-03-11"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2  # type: ignore[operator]
    err = capsys.readouterr().err.strip()
    assert "--from = '2020-13-45'" in err and len(err.splitlines()) == 1 and "Traceback" not in err

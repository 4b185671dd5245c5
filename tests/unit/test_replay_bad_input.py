"""`replay` on awkward files: never overwrites its input, never leaves a truncated output, streams a
file in time order round by round (a file out of order is sorted in memory, with a warning)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from oracle_node.config import NodeConfig
from oracle_node.errors import DataError
from oracle_node.service import replay as replay_module
from oracle_node.service.replay import run_replay
from oracle_node.sources.tick import Tick
from oracle_node.sources.tickcsv import COLUMNS

T0 = 1596340800


@dataclass
class _Outcome:
    market: str
    ts: float
    would_publish: bool = False

    @property
    def guard(self) -> Any:
        return SimpleNamespace(degraded=False)

    def to_json_dict(self) -> dict[str, Any]:
        return {"ts": self.ts, "market": self.market}


class _Pipeline:
    """Records what run_replay feeds it; fails on round `fail_at` (1-based) if given."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.rounds: list[tuple[float, list[Tick]]] = []

    def step(self, ts: float, ticks: list[Tick]) -> Iterator[_Outcome]:
        self.rounds.append((ts, ticks))
        if self.fail_at is not None and len(self.rounds) == self.fail_at:
            raise DataError("model", None, None, None, "boom in round 3")
        return iter([_Outcome(m, ts) for m in sorted({t.market for t in ticks})])

    def settle(self, outcome: _Outcome, *, published: bool) -> None:
        return None


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> _Pipeline:
    fake = _Pipeline()
    monkeypatch.setattr(replay_module, "build_pipeline", lambda cfg, markets, start: fake)
    return fake


def _ticks(path: Path, stamps: list[int]) -> Path:
    rows = [",".join(COLUMNS)] + [
        f"{ts},BTC-USD,{s},{100 + i},,,,,," for i, ts in enumerate(stamps) for s in "ab"
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_run_replay__out_is_the_tick_file__refused_and_file_untouched(
    tmp_path: Path, pipeline: _Pipeline
) -> None:
    ticks = _ticks(tmp_path / "t.csv", [T0, T0 + 60])
    before = ticks.read_bytes()
    with pytest.raises(DataError) as err:
        run_replay(NodeConfig(), ticks, tmp_path / "." / "t.csv")
    assert f"is the input --ticks {ticks}; refusing to overwrite it" in str(err.value)
    assert ticks.read_bytes() == before and pipeline.rounds == []


def test_run_replay__out_is_a_directory__data_error_before_any_work(
    tmp_path: Path, pipeline: _Pipeline
) -> None:
    ticks = _ticks(tmp_path / "t.csv", [T0])
    with pytest.raises(DataError, match="is a directory; give a file path"):
        run_replay(NodeConfig(), ticks, tmp_path)
    assert pipeline.rounds == []


def test_run_replay__error_in_round_3__previous_output_intact_no_temp_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_module, "build_pipeline", lambda cfg, markets, start: _Pipeline(fail_at=3))
    ticks = _ticks(tmp_path / "t.csv", [T0 + 60 * i for i in range(5)])
    out = tmp_path / "o.jsonl"
    out.write_text("yesterday's replay\n")
    with pytest.raises(DataError, match="boom in round 3"):
        run_replay(NodeConfig(), ticks, out)
    assert out.read_text() == "yesterday's replay\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.jsonl", "t.csv"]


def test_run_replay__file_in_time_order__streamed_without_loading_the_whole_file(
    tmp_path: Path, pipeline: _Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def whole_file(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a file in time order must not be read into memory")

    monkeypatch.setattr(replay_module.TickReplay, "from_file", whole_file)
    ticks = _ticks(tmp_path / "t.csv", [T0 + 60 * i for i in range(300)])
    out = tmp_path / "o.jsonl"
    summary = run_replay(NodeConfig(), ticks, out)
    assert (summary.rounds, summary.lines, summary.markets) == (300, 300, ("BTC-USD",))
    assert [ts for ts, _ in pipeline.rounds] == [T0 + 60 * i for i in range(300)]
    assert all(len(group) == 2 for _, group in pipeline.rounds)
    assert [json.loads(x)["ts"] for x in out.read_text().splitlines()][:2] == [T0, T0 + 60]


def test_run_replay__file_out_of_order__sorted_in_memory_same_rounds(
    tmp_path: Path, pipeline: _Pipeline
) -> None:
    ticks = _ticks(tmp_path / "t.csv", [T0 + 120, T0, T0 + 60])
    summary = run_replay(NodeConfig(), ticks, tmp_path / "o.jsonl")
    assert summary.rounds == 3
    assert [ts for ts, _ in pipeline.rounds] == [T0, T0 + 60, T0 + 120]


def test_run_replay__every_row_bad__error_names_the_first_bad_row(
    tmp_path: Path, pipeline: _Pipeline
) -> None:
    ticks = tmp_path / "t.csv"
    ticks.write_text(",".join(COLUMNS) + f"\n{T0},BTC-USD,a,1e400,,,,,,\n{T0},BTC-USD,b,-1,,,,,,\n")
    with pytest.raises(DataError) as err:
        run_replay(NodeConfig(), ticks, tmp_path / "o.jsonl")
    assert str(err.value) == (
        f"{ticks}: no valid tick rows; 2 rows skipped, the first: {ticks}:2: field 'price' value '1e400': not finite"
    )
    assert not (tmp_path / "o.jsonl").exists() and pipeline.rounds == []

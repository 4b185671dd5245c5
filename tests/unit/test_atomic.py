"""Outputs are replaced whole or not at all, and never written over an input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oracle_node.atomic import atomic_write, refuse_overwrite, write_text
from oracle_node.errors import DataError


class Boom(RuntimeError):
    pass


def test_atomic_write__error_half_way__previous_file_intact_and_no_temp_left(tmp_path: Path) -> None:
    out = tmp_path / "replay.jsonl"
    out.write_text("previous run\n")
    with pytest.raises(Boom), atomic_write(out) as fh:
        fh.write("half of the new run\n")
        raise Boom
    assert out.read_text() == "previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["replay.jsonl"]


def test_atomic_write__success__content_replaced_and_permissions_kept(tmp_path: Path) -> None:
    out = tmp_path / "metrics.json"
    out.write_text("old")
    os.chmod(out, 0o640)
    write_text(out, "new")
    assert out.read_text() == "new" and (out.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_atomic_write__missing_parent__created(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "o.csv"
    write_text(out, "x")
    assert out.read_text() == "x"


def test_atomic_write__target_is_a_directory__data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory"), atomic_write(tmp_path) as fh:
        fh.write("never")


def test_refuse_overwrite__same_file_spelled_differently__refused_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = tmp_path / "t.csv"
    ticks.write_text("ts\n")
    (tmp_path / "link.csv").symlink_to(ticks)
    monkeypatch.chdir(tmp_path)
    for spelled in ("./t.csv", "link.csv"):
        with pytest.raises(DataError) as err:
            refuse_overwrite([Path(spelled)], {"--ticks": ticks})
        assert str(err.value) == (
            f"{Path(spelled)}: field '--out': is the input --ticks {ticks}; refusing to overwrite it"
        )


def test_refuse_overwrite__different_files__passes(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("ts\n")
    refuse_overwrite([tmp_path / "o.jsonl"], {"--ticks": tmp_path / "t.csv", "--funding": None})

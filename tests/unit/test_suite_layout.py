"""Tests say what they are: the directory gives the marker, so `pytest -m unit` runs exactly tests/unit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import KIND_BY_DIR, REPO_ROOT

# Loaded with `-p` by the pytest run below: records every collected test's kind markers, selected or not.
PROBE = """
import json, os

KINDS = ("unit", "integration", "scenario")
_deselected = []


def pytest_deselected(items):
    _deselected.extend(items)


def pytest_collection_finish(session):
    def kinds(item):
        return sorted({m.name for m in item.iter_markers() if m.name in KINDS})

    data = {
        "selected": {i.nodeid: kinds(i) for i in session.items},
        "deselected": {i.nodeid: kinds(i) for i in _deselected},
    }
    with open(os.environ["MARKER_PROBE_OUT"], "w", encoding="utf-8") as f:
        json.dump(data, f)
"""


def _expected_kind(nodeid: str) -> str | None:
    parts = nodeid.split("/")
    return KIND_BY_DIR.get(parts[1]) if len(parts) > 2 and parts[0] == "tests" else None


@pytest.mark.slow
def test_marker_unit__collect_only__exactly_the_tests_under_tests_unit(tmp_path: Path) -> None:
    (tmp_path / "marker_probe.py").write_text(PROBE, encoding="utf-8")
    record = tmp_path / "collected.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
        "MARKER_PROBE_OUT": str(record),
    }
    args = ["--collect-only", "-q", "-m", "unit", "-p", "marker_probe", "-p", "no:cacheprovider", "tests"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    listed = {line for line in proc.stdout.splitlines() if "::" in line}
    outside = sorted(n for n in listed if not n.startswith("tests/unit/"))
    assert listed and not outside, f"-m unit selected tests outside tests/unit: {outside[:10]}"

    collected = json.loads(record.read_text(encoding="utf-8"))
    assert set(collected["selected"]) == listed
    everything = {**collected["selected"], **collected["deselected"]}
    assert listed == {n for n in everything if n.startswith("tests/unit/")}, "-m unit missed unit tests"
    for kind_dir in KIND_BY_DIR:
        assert any(n.startswith(f"tests/{kind_dir}/") for n in everything), f"nothing collected in {kind_dir}"
    wrong = {n: kinds for n, kinds in everything.items() if kinds != [_expected_kind(n)]}
    assert not wrong, (
        "every test needs exactly the kind marker of its directory "
        f"(tests/unit, tests/integration, tests/scenarios): {dict(list(wrong.items())[:10])}"
    )


def test_expected_kind__nodeids__directory_decides() -> None:
    assert _expected_kind("tests/unit/test_x.py::test_a") == "unit"
    assert _expected_kind("tests/integration/test_cli.py::test_b[1]") == "integration"
    assert _expected_kind("tests/scenarios/test_demo.py::test_c") == "scenario"
    assert _expected_kind("tests/test_stray.py::test_d") is None


def test_unit_tests__open_a_socket__blocked_by_the_autouse_fixture() -> None:
    with pytest.raises(RuntimeError, match="unit tests must not open sockets"):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(RuntimeError, match="unit tests must not open sockets"):
            s.connect(("127.0.0.1", 9))
        with pytest.raises(RuntimeError, match="unit tests must not open sockets"):
            s.connect_ex(("127.0.0.1", 9))

"""`oracle-node` fed what a new operator feeds it (issue 10, item 8): exit 2, one line naming the file,
line, field or variable and the value, no traceback, no secret, no side effect."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TICKS = REPO / "examples" / "ticks_2020-03-12.csv"
EXAMPLE = REPO / "examples" / "node.yaml"
SECRET_URL = "https://operator:hunter2@eth.example.io/v3/abcdef0123456789abcdef?key=QUERYSECRET"
SECRETS = ("hunter2", "abcdef0123456789abcdef", "QUERYSECRET")


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("ORACLE_")}
    return subprocess.run(
        [sys.executable, "-m", "oracle_node.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**clean, **(env or {})},
        cwd=cwd,
        check=False,
    )


def one_error_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, no traceback, no secret, exactly one `oracle-node ...` line holding every needle."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out
    for secret in SECRETS:
        assert secret not in out, out
    lines = [line for line in proc.stderr.splitlines() if line.startswith("oracle-node ")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("yaml_text", "env", "where"),
    [
        (f"node_name: a\nchain:\n  rpc-url: {SECRET_URL}\n", {}, "node.yaml:3: chain.rpc-url = "),
        ("node_name: a\n", {"ORACLE_CHAIN__RPCURL": SECRET_URL}, "environment variable ORACLE_CHAIN__RPCURL"),
        (
            f"markets:\n  - id: BTC-USD\n    sources:\n      - {{name: x, venue: okx, api_url: '{SECRET_URL}'}}\n",
            {},
            "node.yaml:4: markets.0.sources.0 = ",
        ),
    ],
)
def test_cli__secret_in_a_bad_config_value__named_but_never_printed(
    tmp_path: Path, yaml_text: str, env: dict[str, str], where: str
) -> None:
    (tmp_path / "node.yaml").write_text(yaml_text)
    proc = cli("check", "--config", "node.yaml", cwd=tmp_path, env=env)
    one_error_line(proc, "config error: ", where, "https://eth.example.io/***")


def test_cli__empty_config__config_error_and_no_store_created(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    proc = cli("once", "--config", "empty.yaml", cwd=tmp_path)
    one_error_line(proc, "empty.yaml: the file is empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.yaml"]


def test_cli__config_without_markets__config_error_and_no_store_created(tmp_path: Path) -> None:
    (tmp_path / "node.yaml").write_text("node_name: lonely\nmarkets: []\n")
    proc = cli("once", "--config", "node.yaml", cwd=tmp_path)
    one_error_line(proc, "node.yaml: no markets")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node.yaml"]


def test_cli__malformed_json_in_env__variable_named(tmp_path: Path) -> None:
    proc = cli("check", "--config", str(EXAMPLE), cwd=tmp_path, env={"ORACLE_MARKETS": '[{"id": "BTC-USD",'})
    one_error_line(proc, "environment variable ORACLE_MARKETS: markets: not valid JSON")


def test_cli__unquoted_address_and_duplicate_key__told_how_to_fix(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("chain:\n  oracle_address: 0x5FbDB2315678afecb367f032d93F642f64180aa3\n")
    one_error_line(
        cli("check", "--config", "a.yaml", cwd=tmp_path),
        "a.yaml:2: chain.oracle_address = 0x5fbdb2315678afecb367f032d93f642f64180aa3: must be a quoted",
    )
    (tmp_path / "d.yaml").write_text("node_name: a\nnode_name: b\n")
    one_error_line(cli("check", "--config", "d.yaml", cwd=tmp_path), "d.yaml:2: duplicate key 'node_name'")


def _bad_tick_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(TICKS.read_bytes().replace(b"venue_a", "v\u00e9nue".encode("latin-1"), 1))
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress(TICKS.read_bytes())[:3000])
    huge = tmp_path / "huge.csv"
    huge.write_text(
        TICKS.read_text().splitlines()[0] + '\n1583802000,BTC-USD,a,"' + "9" * 200_000 + '",,,,,,\n'
    )
    return {
        "non-utf8": (latin, "latin1.csv:3: not UTF-8 text"),
        "truncated-gz": (truncated, "cut.csv.gz: corrupt or truncated gzip file"),
        "oversized-cell": (huge, "huge.csv: no valid tick rows"),
    }


@pytest.mark.parametrize("case", ["non-utf8", "truncated-gz", "oversized-cell"])
def test_cli__unreadable_tick_file__one_line_and_old_output_kept(tmp_path: Path, case: str) -> None:
    path, needle = _bad_tick_files(tmp_path)[case]
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    proc = cli("replay", "--ticks", str(path), "--config", str(EXAMPLE), "--out", str(out), cwd=tmp_path)
    one_error_line(proc, needle)
    assert out.read_text() == "previous\n"


def test_cli__out_is_the_tick_file__refused_naming_both_input_intact(tmp_path: Path) -> None:
    ticks = tmp_path / "t.csv"
    ticks.write_bytes(TICKS.read_bytes())
    proc = cli("replay", "--ticks", "t.csv", "--config", str(EXAMPLE), "--out", "./t.csv", cwd=tmp_path)
    one_error_line(proc, "t.csv: field '--out': is the input --ticks t.csv; refusing to overwrite it")
    assert ticks.read_bytes() == TICKS.read_bytes()


def test_cli__out_is_a_directory__one_line(tmp_path: Path) -> None:
    proc = cli(
        "replay", "--ticks", str(TICKS), "--config", str(EXAMPLE), "--out", str(tmp_path), cwd=tmp_path
    )
    one_error_line(proc, "is a directory; give a file path")


def test_cli__backtest_prices_with_a_months_gap__dates_named(tmp_path: Path) -> None:
    lines = ["date,close"] + [f"2020-01-{d:02d},{100 + d}" for d in range(1, 31)]
    lines += [f"2020-05-{d:02d},{200 + d}" for d in range(1, 31)]
    (tmp_path / "p.csv").write_text("\n".join(lines) + "\n")
    proc = cli("backtest", "--prices", "p.csv", "--asset", "BTC", "--out", "bt", "--no-ml", cwd=tmp_path)
    one_error_line(proc, "p.csv: field 'date' value '2020-01-30..2020-05-01': no price for 91 days")
    assert not (tmp_path / "bt").exists()

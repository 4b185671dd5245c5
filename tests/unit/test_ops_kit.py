"""The operations kit (ops/) checked against the node itself.

Alert rules and dashboard panels may only use metrics the node's registry exports (sample names, so
`_total`, `_bucket`, `_count` and `_sum` count); every alert carries a severity, a summary and a
runbook that exists in ops/README.md; `promtool check rules` and the alert unit tests run when promtool
is installed. The systemd unit's ExecStart must parse with the CLI's own argument parser, and its
environment (with the EnvironmentFile example) must build a valid node config that uses the
credentials and the writable store directory.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from oracle_node.cli import _parser
from oracle_node.config import load_config
from oracle_node.service.metrics import NodeMetrics
from oracle_node.service.wiring import balance_probe
from tests.conftest import REPO_ROOT

OPS = REPO_ROOT / "ops"
RULES = OPS / "prometheus" / "mlra-oracle-alerts.yml"
RULE_TESTS = OPS / "prometheus" / "mlra-oracle-alerts.test.yml"
DASHBOARD = OPS / "grafana" / "mlra-oracle-node.json"
UNIT = OPS / "systemd" / "mlra-oracle-node.service"
ENV_EXAMPLE = OPS / "systemd" / "mlra-oracle-node.env.example"
RUNBOOKS = OPS / "README.md"
PROMETHEUS_BUILTINS = {"up"}  # series Prometheus itself writes for every target
METRIC = re.compile(r"\bmlra_oracle_[A-Za-z0-9_]+")
SELECTOR = re.compile(r"\b([A-Za-z_:][A-Za-z0-9_:]*)\s*\{")  # a name right before a label matcher
ALERTS = {
    "MlraOracleNodeDown", "MlraOracleNodeSilent", "MlraOracleBreakerOpen", "MlraOracleNoQuorum",
    "MlraOracleReportReverted", "MlraOracleDriftFlag", "MlraOracleBalanceLow", "MlraOracleBalanceCritical",
}  # fmt: skip


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """Every series name a node exports: its samples (one market is enough: labels do not change
    names), and for a labelled family with no child yet (e.g. source_rejections, whose reasons come from
    the guard) the names its type gives it."""
    registry = NodeMetrics(["BTC-USD"]).registry
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = set()
    for family in registry.collect():
        names |= {sample.name for sample in family.samples}
        names |= {family.name + suffix for suffix in suffixes[family.type]}
    return names


def _metric_names(expr: str) -> set[str]:
    named = {m for m in SELECTOR.findall(expr) if not m.startswith("mlra_oracle_")}
    return set(METRIC.findall(expr)) | named


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _slugs(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+\s+(.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_metric_names__sample_names__include_the_suffixes(exported: set[str]) -> None:
    assert {"mlra_oracle_rounds_led_total", "mlra_oracle_cycle_seconds_bucket", "mlra_oracle_gas_used_sum",
            "mlra_oracle_gas_used_count", "mlra_oracle_signer_balance_eth"} <= exported  # fmt: skip
    assert "mlra_oracle_rounds_led" not in exported  # a counter's bare name is no series
    assert _metric_names('up{job="x"} == 0 or rate(mlra_oracle_cycles_total[5m])') == {
        "up",
        "mlra_oracle_cycles_total",
    }


def test_alert_rules__every_expr__uses_only_exported_metrics(exported: set[str]) -> None:
    rules = _rules()
    assert {r["alert"] for r in rules} == ALERTS
    for rule in rules:
        unknown = _metric_names(rule["expr"]) - exported - PROMETHEUS_BUILTINS
        assert not unknown, f"{rule['alert']}: no such metric {sorted(unknown)}"
        assert METRIC.search(rule["expr"]) or "up{" in rule["expr"], rule["alert"]


def test_alert_rules__each_rule__severity_summary_and_an_existing_runbook() -> None:
    anchors = _slugs(RUNBOOKS.read_text(encoding="utf-8"))
    for rule in _rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert (REPO_ROOT / path).resolve() == RUNBOOKS.resolve(), rule["alert"]
        assert anchor in anchors, f"{rule['alert']}: runbook anchor #{anchor} not in ops/README.md"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian: prometheus)")
def test_alert_rules__promtool__check_and_unit_tests_pass() -> None:
    check = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in check.stdout + check.stderr
    tests = subprocess.run(
        ["promtool", "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_alert_rule_tests__cover__every_alert() -> None:
    doc = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    tested = {case["alertname"] for t in doc["tests"] for case in t["alert_rule_test"] if case["exp_alerts"]}
    assert tested == ALERTS - {"MlraOracleBalanceCritical"}  # critical: tested quiet at 0.05 ETH
    for test in doc["tests"]:
        for series in test["input_series"]:
            name = series["series"].split("{", 1)[0]
            assert name in PROMETHEUS_BUILTINS or name.startswith("mlra_oracle_"), name


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_dashboard__model__importable_with_a_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    assert {"instance", "market"} <= set(variables)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard["panels"]:
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
    for panel in _panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]


def test_dashboard__every_expr__uses_only_exported_metrics_and_covers_each_topic(exported: set[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    used: set[str] = set()
    for panel in _panels(dashboard):
        for target in panel["targets"]:
            names = _metric_names(target["expr"])
            assert names and not names - exported, f"{panel['title']}: {sorted(names - exported)}"
            used |= names
    for variable in dashboard["templating"]["list"]:
        assert not _metric_names(variable.get("definition", "")) - exported, variable["name"]
    assert {
        "mlra_oracle_rounds_led_total", "mlra_oracle_last_round", "mlra_oracle_cycle_seconds_bucket",
        "mlra_oracle_gas_used_bucket", "mlra_oracle_breaker_open", "mlra_oracle_cosign_refused_total",
        "mlra_oracle_drift_flag", "mlra_oracle_signer_balance_eth", "mlra_oracle_observed_param_bps",
    } <= used  # fmt: skip
    titles = " ".join(p["title"].lower() for p in _panels(dashboard))
    for topic in (
        "round",
        "latency",
        "gas",
        "missed",
        "breaker",
        "co-sign",
        "drift",
        "balance",
        "parameters",
    ):
        assert topic in titles, topic


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd's INI dialect: sections, repeatable keys, # comments."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_systemd_unit__service__non_root_restart_and_hardening() -> None:
    service = _unit(UNIT)["Service"]
    one = {k: v[-1] for k, v in service.items()}
    assert one["User"] not in ("root", "0") and one["Group"] not in ("root", "0")
    assert one["Restart"] == "on-failure" and one["RestartPreventExitStatus"] == "2"
    assert one["EnvironmentFile"].startswith("/etc/")
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "CapabilityBoundingSet": ""}.items():  # fmt: skip
        assert one[key] == value, key
    state_dir = f"/var/lib/{one['StateDirectory']}"
    assert state_dir in one["ReadWritePaths"].split()
    env = dict(e.split("=", 1) for e in service["Environment"])
    assert Path(env["ORACLE_SERVICE__STORE_PATH"]).parent == Path(state_dir)
    credentials = {c.split(":", 1)[0] for c in service["LoadCredential"]}
    assert {
        Path(env["ORACLE_SIGNER__KEYSTORE"]).name,
        Path(env["ORACLE_SIGNER__PASSWORD_FILE"]).name,
    } <= credentials
    assert "PASSWORD=" not in UNIT.read_text(encoding="utf-8").upper().replace("PASSWORD_FILE=", "")


def test_systemd_unit__exec_start__parses_with_the_cli_as_run_with_a_config() -> None:
    service = _unit(UNIT)["Service"]
    (exec_start,) = service["ExecStart"]
    argv = shlex.split(exec_start)
    assert Path(argv[0]).name == "oracle-node"
    args = _parser().parse_args(argv[1:])
    assert args.command == "run"
    assert args.config == Path("/etc/mlra-oracle/node.yaml")


def test_systemd_unit__environment__builds_a_node_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unit's Environment= lines plus the EnvironmentFile example, %d as the credentials directory."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    service = _unit(UNIT)["Service"]
    for line in service["LoadCredential"]:
        (credentials / line.split(":", 1)[0]).write_text("{}", encoding="utf-8")
    env = dict(e.split("=", 1) for e in service["Environment"])
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    env = {k: v.replace("%d", str(credentials)) for k, v in env.items()}
    assert all(k.startswith("ORACLE_") for k in env)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    cfg = load_config(REPO_ROOT / "examples" / "node.yaml", env)
    assert cfg.signer.keystore == credentials / "keystore.json"
    assert cfg.signer.password_file == credentials / "keystore.pass"
    assert cfg.service.store_path == Path("/var/lib/mlra-oracle/node.sqlite")
    assert cfg.chain.rpc_url.get_secret_value() == env["ORACLE_CHAIN__RPC_URL"]


class _Eth:
    def __init__(self, balances: list[int | Exception]) -> None:
        self.balances = balances

    def get_balance(self, address: str) -> int:
        value = self.balances.pop(0)
        if isinstance(value, Exception):
            raise value
        return value


def test_balance_probe__reads_at_start_and_on_refresh__a_failed_read_keeps_the_last_value() -> None:
    metrics = NodeMetrics(["BTC-USD"])
    gauge = metrics.registry.get_sample_value
    w3 = SimpleNamespace(eth=_Eth([3 * 10**18, 25 * 10**15, OSError("connection refused")]))
    refresh = balance_probe(w3, "0x" + "11" * 20, metrics)  # type: ignore[arg-type]
    assert gauge("mlra_oracle_signer_balance_eth") == 3.0
    refresh()
    assert gauge("mlra_oracle_signer_balance_eth") == 0.025
    refresh()
    assert gauge("mlra_oracle_signer_balance_eth") == 0.025

"""What `oracle-node explain` prints: a stored attribution record as text, top drivers first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eth_utils import keccak

from oracle_node.explain.record import FIELDS, parse, top_drivers
from oracle_node.reports.inputs import attribution_hashes

BRANCH_TEXT = {
    "ml": "the ML model",
    "baseline_floor": "the baseline floor ((1 - tolerance) x baseline)",
    "fallback_baseline": "the baseline (ML fallback)",
    "other": "neither ML nor the floor alone",
}
OUTPUT_TEXT = {
    "q_lo": "1 % quantile of the next-day log return (long side: VaR99, ES99)",
    "q_hi": "99 % quantile of the next-day log return (short side)",
    "sigma_1d": "1-day volatility (the margin grid's scan range)",
}


def explain_lines(
    round_: int, record: str, record_hash: str, document: str | None, inputs_hash: str | None, top: int
) -> list[str]:
    doc = parse(record)
    return [*_header(round_, doc), *_binding(doc, record, record_hash, document, inputs_hash), *_fields(doc),
            *_drivers(doc, top)]  # fmt: skip


def _header(round_: int, doc: dict[str, Any]) -> list[str]:
    when = datetime.fromtimestamp(doc["ts"], UTC).strftime("%Y-%m-%d %H:%M UTC")
    branch = doc["branch"]
    what = "mixed: see the fields" if branch == "mixed" else f"{BRANCH_TEXT.get(branch, branch)}, every field"
    return [
        f"{doc['market']} round {round_}: data {when}, model {doc['model']} ({doc['model_hash'][:12]}…), "
        f"baseline {doc['baseline']}, tolerance {float(doc['tolerance']):g}",
        f"published values set by {what}",
    ]


def _binding(
    doc: dict[str, Any], record: str, stored_hash: str, document: str | None, inputs_hash: str | None
) -> list[str]:
    digest = "0x" + keccak(record.encode()).hex()
    bound = document is not None and attribution_hashes(document).get(doc["market"]) == digest
    state = "verified" if bound and digest == stored_hash else "NOT bound (record or document altered?)"
    return [
        f"record {digest} in this node's inputs document (observation inputsHash {inputs_hash or '-'}): {state}"
    ]


def _fields(doc: dict[str, Any]) -> list[str]:
    lines = [f"  {'field':12s} {'published':>11s} {'baseline':>11s} {'floor':>11s}  branch"]
    for name in FIELDS:
        f = doc["fields"][name]
        lines.append(
            f"  {name:12s} {float(f['published']):11.5f} {float(f['baseline']):11.5f} {float(f['floor']):11.5f}"
            f"  {f['branch']}"
        )
    return lines


def _drivers(doc: dict[str, Any], top: int) -> list[str]:
    ml = doc.get("ml")
    if ml is None:
        return ["ML model not used this round (fallback to the baseline): no feature attribution"]
    if not ml.get("outputs"):
        return [f"no feature attribution: {ml.get('error')}"]
    lines = [f"top {top} drivers ({ml['method']}, {ml['library']}):"]
    for out, text in OUTPUT_TEXT.items():
        o = ml["outputs"][out]
        lines.append(f" {out}: {text}: expected {float(o['expected']):.4g} -> {float(o['value']):.4g}")
        lines.append(f"  {'feature':12s} {'value':>10s} {'contribution':>13s} {'share':>7s}")
        for d in top_drivers(doc, out, top):
            lines.append(f"  {d.feature:12s} {d.value:10.4f} {d.contribution:+13.5g} {100 * d.share:6.1f}%")
    return lines

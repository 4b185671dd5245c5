"""Crash safety: a node process killed mid-write (SIGKILL) or between steps leaves a store that
reopens cleanly, never hands out a used round again and never skips one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from oracle_node.store import EquivocationError, NodeStore, ReportStatus

ME = "0x90f79bf6eb2c4f870365e785982e1f101e93b906"
BATCH = 50

# One node's cycle, forever: decisions (one batch), a built report, a durable signature, a submission.
_WRITER = textwrap.dedent(
    """
    import sys
    from oracle_node.store import NodeStore, SignedTx, TickDecision

    store = NodeStore.open(sys.argv[1])
    me = sys.argv[2]
    while True:
        r = store.next_round()
        digest = r.to_bytes(32, "big")
        store.record_tick_decisions(TickDecision(float(r), "BTC-USD", "s" + str(i), i % 7 != 0) for i in range({batch}))
        store.save_report(r, digest, {{"round": r}})
        store.sign_once(r, digest, me, lambda d: d + d + b"\\x1b")
        store.record_submission(r, digest, SignedTx("0x" + digest.hex(), r, 1, 1, 21000, b"raw" + digest))
        store.set_submission_status("0x" + digest.hex(), "included", block=r)
    """
).format(batch=BATCH)

_INTENT_THEN_DIE = textwrap.dedent(
    """
    import os, sys
    from oracle_node.store import NodeStore

    store = NodeStore.open(sys.argv[1])
    store.save_report(1, b"\\x01" * 32, {"round": 1})
    store.record_signature_intent(1, b"\\x01" * 32, sys.argv[2])
    os._exit(1)  # crash after the intent, before the signature is made
    """
)


def _wait_for_rounds(path: Path, rounds: int, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "writer exited"
        try:
            conn = sqlite3.connect(path, timeout=5)
            done = conn.execute("SELECT committed_round FROM round_state").fetchone()[0]
            conn.close()
        except sqlite3.OperationalError:
            done = 0
        if done >= rounds:
            return
        time.sleep(0.02)
    pytest.fail(f"writer did not reach round {rounds} within {timeout_s}s")


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_rounds", [3, 17])
def test_sigkill_mid_write__reopens_consistent_no_reuse_no_skip(
    tmp_path: Path, kill_after_rounds: int
) -> None:
    path = tmp_path / "node.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), ME], stderr=subprocess.PIPE)
    try:
        _wait_for_rounds(path, kill_after_rounds, proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    with NodeStore.open(path) as store:
        assert store.db.query("PRAGMA integrity_check")[0][0] == "ok"
        decisions = store.db.query("SELECT count(*) FROM tick_decisions")[0][0]
        assert decisions % BATCH == 0  # a batch is all or nothing
        signed = store.db.query("SELECT round, signature FROM signatures ORDER BY round")
        rounds = [row["round"] for row in signed]
        assert rounds == list(range(1, len(rounds) + 1))  # no round skipped
        assert all(row["signature"] is not None for row in signed[:-1])  # only the last may be an intent
        last = rounds[-1]
        assert store.next_round() == last + 1  # the last used round is never handed out again
        digest = last.to_bytes(32, "big")
        assert store.sign_once(last, digest, ME, lambda d: d + d + b"\x1b") == digest + digest + b"\x1b"
        with pytest.raises(EquivocationError):
            store.sign_once(last, b"\xff" * 32, ME, lambda d: d + d + b"\x1b")
        for sub in store.pending_submissions():  # the crash can leave only the last round in flight
            assert sub.round == last and sub.raw_tx == b"raw" + digest


def test_crash_between_intent_and_signature__restart_signs_same_digest_only(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    done = subprocess.run(
        [sys.executable, "-c", _INTENT_THEN_DIE, str(path), ME], check=False, capture_output=True, timeout=60
    )
    assert done.returncode == 1, done.stderr.decode()

    with NodeStore.open(path) as store:
        assert store.next_round() == 2
        assert store.record_signature_intent(1, b"\x01" * 32, ME) is None  # nothing left the process
        with pytest.raises(EquivocationError):
            store.sign_once(1, b"\x02" * 32, ME, lambda d: d + d + b"\x1b")
        signature = store.sign_once(1, b"\x01" * 32, ME, lambda d: d + d + b"\x1b")
        assert signature == b"\x01" * 64 + b"\x1b"
        assert store.report(b"\x01" * 32).status == ReportStatus.SIGNED  # type: ignore[union-attr]

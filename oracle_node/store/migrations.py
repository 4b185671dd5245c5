"""Schema of the node store, as an ordered list of migrations (version, description, SQL).

Append only: a released migration is never edited. Each migration runs in one transaction together
with its row in `schema_migrations`, so a crash leaves the schema at the previous version or the next.
Large integers (fees in wei, the uint128 params word) fit SQLite's int64 except the params word,
which is stored as 0x-hex text.
"""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    version: int
    description: str
    sql: str


REPORT_STATUSES = ("built", "signed", "submitted", "included", "failed", "superseded")
SUBMISSION_STATUSES = ("pending", "included", "reverted", "replaced", "dropped", "failed")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


_V1 = f"""
CREATE TABLE tick_decisions (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    market TEXT NOT NULL,
    source TEXT NOT NULL,
    accepted INTEGER NOT NULL CHECK (accepted IN (0, 1)),
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tick_decisions_market_ts ON tick_decisions (market, ts);

CREATE TABLE observations (
    market TEXT NOT NULL,
    round INTEGER NOT NULL CHECK (round >= 0),
    observed_at INTEGER NOT NULL,
    params TEXT NOT NULL,
    model_hash TEXT NOT NULL,
    inputs_hash TEXT NOT NULL,
    confidence REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    flags TEXT NOT NULL DEFAULT '[]',
    recorded_at REAL NOT NULL,
    PRIMARY KEY (market, round)
);

CREATE TABLE reports (
    digest TEXT PRIMARY KEY,
    round INTEGER NOT NULL CHECK (round >= 0),
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({_in(REPORT_STATUSES)})),
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX reports_round ON reports (round);
CREATE INDEX reports_status ON reports (status);

CREATE TABLE signatures (
    purpose TEXT NOT NULL,
    round INTEGER NOT NULL CHECK (round >= 0),
    signer TEXT NOT NULL,
    digest TEXT NOT NULL,
    signature BLOB,
    created_at REAL NOT NULL,
    PRIMARY KEY (purpose, round, signer)
);
CREATE INDEX signatures_digest ON signatures (digest);

CREATE TABLE submissions (
    tx_hash TEXT PRIMARY KEY,
    round INTEGER NOT NULL,
    digest TEXT NOT NULL,
    nonce INTEGER NOT NULL CHECK (nonce >= 0),
    max_fee_per_gas INTEGER NOT NULL,
    max_priority_fee_per_gas INTEGER NOT NULL,
    gas_limit INTEGER NOT NULL,
    raw_tx BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({_in(SUBMISSION_STATUSES)})),
    block INTEGER,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX submissions_status ON submissions (status);
CREATE INDEX submissions_digest ON submissions (digest);

CREATE TABLE round_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    committed_round INTEGER NOT NULL CHECK (committed_round >= 0)
);
INSERT INTO round_state (id, committed_round) VALUES (1, 0);
"""

# Issue 12: what a signed observation's inputsHash commits to, written in the transaction that records
# the signature intent (so a signed observation always has them): the canonical inputs document
# (keccak256 = the observation's inputsHash) and each market's attribution record (its keccak256 is the
# document's "attribution" field). Keyed by round: one observation per round per node.
_V2 = """
CREATE TABLE bound_inputs (
    round INTEGER PRIMARY KEY CHECK (round >= 0),
    digest TEXT NOT NULL,
    document TEXT NOT NULL,
    inputs_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE attributions (
    round INTEGER NOT NULL CHECK (round >= 0),
    market TEXT NOT NULL,
    digest TEXT NOT NULL,
    record TEXT NOT NULL,
    record_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (round, market)
);
CREATE INDEX attributions_market ON attributions (market, round);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tick decisions, observations, reports, signatures, submissions, round state", _V1),
    Migration(2, "inputs documents and attribution records bound to signed observations", _V2),
)

"""`ape test tests/ape`: deploy the RiskOracle with ape's fixtures and read back what governance set."""

from __future__ import annotations

ZERO_HASH = b"\x00" * 32
MODEL = bytes.fromhex("11" * 32)


def test_risk_oracle__deployed_through_ape__signers_threshold_and_model_read_back(accounts, project):
    admin, guardian, *signers = accounts[:5]
    addresses = [s.address for s in signers]
    oracle = project.RiskOracle.deploy(
        admin, guardian, addresses, 2, [MODEL], 3600, [], [], [], [], sender=admin
    )
    got_signers, threshold, epoch = oracle.getSigners()
    assert list(got_signers) == addresses
    assert threshold == 2
    assert epoch == 1
    assert oracle.isModelAllowed(MODEL)
    assert not oracle.isModelAllowed(ZERO_HASH)
    assert oracle.maxReportAge() == 3600
    assert not oracle.paused()

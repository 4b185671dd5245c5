"""Offline work for the ML vol shocks: candidate models, walk-forward against the fixed and empirical
baselines, validation-only model choice, the report, and the served artifact (see docs/vol-shocks.md)."""

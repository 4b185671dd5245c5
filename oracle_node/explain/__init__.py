"""Explanations bound to reports (issue 12): TreeSHAP attributions of the served model per market and
round (attribute.py), their canonical record (record.py), the tree and cover artifacts they need
(trees.py, covers.py, treeshap.py). Design and formats: docs/attribution.md."""

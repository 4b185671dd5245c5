"""Risk models: EWMA and GJR-GARCH baselines, ML models served through onnxruntime."""

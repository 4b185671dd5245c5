"""Training: datasets, model fits, conformal calibration, ONNX export and manifests."""

"""Deployment-side replay: a registered model's ONNX export run by onnxruntime over recorded drives, as a vehicle or
batch consumer would run it. No training code is loaded: inputs go through the data library (ingest, clean, windows),
the model through onnxruntime, and the output is a Parquet table of predictions with throughput, latency, input
drift against the model's training data and, optionally, a shadow model's disagreement beside it."""

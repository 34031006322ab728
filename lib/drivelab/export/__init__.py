"""Exporting a trained model for use outside drivelab: ONNX and a `torch.export` program that take raw window arrays
in the target-centric frame and return positions in metres (normalisation inside the graph), each checked for
parity with the PyTorch model and timed, plus a model card.

Modules: `interface` (the input/output contract and the wrapper), `formats` (writing and running ONNX and .pt2),
`checks` (parity, latency), `card` (the model card), `bundle` (all of it for a model or a run directory).
"""

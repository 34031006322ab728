"""Canonical tracks -> windows -> batches: a data version is built here, and read back for training.

`spec` declares the window settings, `extract` cuts one recording's windows, `build` writes a whole data version
(`split` by recording, `normalisation` fitted on training windows, `store` in memory-mapped shards), `datamodule`
serves them as batches (`batch`) to Lightning, with training-time `augment`ations.
"""

"""Data path: raw recordings -> canonical tracks -> windows -> batches."""

"""Evaluation a researcher can act on: metrics per slice of the test windows, plots, and tables comparing runs."""

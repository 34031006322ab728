"""Simulated highway traffic (highway-env IDM/MOBIL) and its highD-format writer."""

"""Simulated highway traffic (highway-env IDM/MOBIL), its highD-format writer, and episodes written as recordings."""

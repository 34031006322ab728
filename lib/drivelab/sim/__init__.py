"""Simulated highway traffic (highway-env IDM/MOBIL or Eclipse SUMO), its highD-format writer, and episodes written as
recordings."""

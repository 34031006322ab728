"""Configuration: typed schemas, validation and safe instantiation (no torch imports here)."""

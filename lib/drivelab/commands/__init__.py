"""One module per command; each `main(cfg, run_dir)` only wires parts of the library together."""

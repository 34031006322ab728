"""`drivelab compare`: is an idea better than the baselines, on the same data, beyond seed noise, and where?

- `cache.py`: the run cache: a key from the resolved config, the data version and the code version; finding a
  finished run with the same key.
- `plan.py`: the runs a comparison needs (idea and baselines x seeds), each from the cache or to be trained.
- `scores.py`: every run's per-window errors on the same test windows, with the slices each window belongs to.
- `stats.py`: mean and sd over seeds; paired bootstrap confidence intervals of idea - baseline.
- `report.py`: the table (compare.md), compare.json, the error-vs-horizon plot.
"""

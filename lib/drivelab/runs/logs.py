"""What a run's loggers wrote, read back: Lightning's CSV logs as one row per epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Union

import pandas as pd


def epoch_table(run_dir: Union[str, Path]) -> pd.DataFrame:
    """One row per epoch: the last value logged in that epoch for each train/val metric and learning rate.

    Lightning's CSV logger writes sparse rows (one per logging call) and a new version folder when a run resumes;
    later versions win for epochs they repeat. Test metrics and health figures are left out.
    """
    files = sorted(Path(run_dir).glob("logs/csv/**/metrics.csv"), key=lambda p: (len(p.parts), str(p)))
    if not files:
        return pd.DataFrame(columns=["epoch"])
    logged = pd.concat([pd.read_csv(path).assign(_version=i) for i, path in enumerate(files)], ignore_index=True)
    # Test metrics belong to no epoch; health figures have their own record (health.json, health.png) and the
    # last of them is logged after the final epoch.
    logged = logged.drop(columns=[c for c in logged.columns if c.startswith(("test/", "test_slices/", "health/"))])
    # Learning rates are logged just before their epoch, on rows without one: they belong to the next epoch.
    logged["epoch"] = logged.groupby("_version")["epoch"].bfill()
    values = [c for c in logged.columns if c not in ("epoch", "step", "_version")]
    logged = logged.dropna(subset=["epoch"]).dropna(subset=values, how="all").astype({"epoch": int})
    # A resumed run repeats epochs: keep each epoch's rows from the newest version that logged it.
    newest = logged.groupby("epoch")["_version"].transform("max")
    logged = logged[logged["_version"] == newest].drop(columns="_version")
    per_epoch = logged.groupby("epoch", sort=True).last()  # last non-null value per column
    return per_epoch.dropna(axis=1, how="all").reset_index()

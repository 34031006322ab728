"""`drivelab windows`: canonical tracks -> target-centric windows with a split by recording (memory-mapped arrays)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from drivelab import lineage
from drivelab.atomic import replace_dir
from drivelab.data import store, tracks
from drivelab.data.split import split_recordings
from drivelab.data.windows import FEATURES, INTENTIONS, WindowSpec, concatenate, constant_velocity, make_windows
from drivelab.metrics import trajectory_errors


def main(cfg: DictConfig, run_dir: Path | None = None) -> dict:
    started = time.perf_counter()
    data_dir = Path(cfg.paths.data_dir)
    windows_cfg = OmegaConf.to_container(cfg.windows, resolve=True)
    split_cfg = windows_cfg.pop("split")
    spec = WindowSpec(**windows_cfg)

    tracks_dir = data_dir / "tracks"
    track_files = tracks.recording_files(tracks_dir)
    recording_ids = [path.stem for path in track_files]
    index_of = {recording_id: i for i, recording_id in enumerate(recording_ids)}
    assignment = split_recordings(recording_ids, split_cfg["val_fraction"], split_cfg["test_fraction"], split_cfg["seed"])
    windows_dir = data_dir / "windows"
    counts = {}
    with replace_dir(windows_dir) as staging:
        for split, ids in assignment.items():
            parts = []
            for recording_id in tqdm(ids, desc=f"windows/{split}", unit="recording"):
                part = make_windows(tracks.read(tracks_dir / f"{recording_id}.parquet"), spec)
                part["recording"] = np.full(len(part["history"]), index_of[recording_id], np.int32)
                parts.append(part)
            windows = concatenate(parts)
            store.write_split(staging / split, windows)
            counts[split] = windows
        info = {
            "format_version": 1,
            "spec": {**windows_cfg, "history_steps": spec.history_steps, "future_steps": spec.future_steps},
            "features": list(FEATURES),
            "units": {"x_m": "m", "y_m": "m", "vx_mps": "m/s", "vy_mps": "m/s", "future": "m"},
            "frame": "target-centric: origin at the target's present position, x forward, y left",
            "intention_classes": list(INTENTIONS),
            "recordings": recording_ids,
            "splits": {
                split: {"windows": int(len(counts[split]["history"])), "recordings": assignment[split]}
                for split in assignment
            },
            "tracks": {path.name: lineage.file_md5(path) for path in track_files},
            "normalisation": normalisation(counts["train"], spec),
            "summary": summary(counts, spec),
        }
        store.write_info(staging, info)
    print_summary(info, windows_dir, time.perf_counter() - started)
    return info


def normalisation(train: dict, spec: WindowSpec) -> dict:
    """Feature scales fitted on the training split only (models read them from here)."""
    history = train["history"].reshape(-1, len(FEATURES)).astype(np.float64)
    residual = train["future"] - constant_velocity(train["history"], spec.future_steps, spec.sample_hz)
    return {
        "history_mean": history.mean(axis=0).round(6).tolist(),
        "history_std": np.maximum(history.std(axis=0), 1e-3).round(6).tolist(),
        "residual_std": np.maximum(residual.reshape(-1, 2).std(axis=0), 1e-3).round(6).tolist(),
    }


def summary(splits: dict, spec: WindowSpec) -> dict:
    all_changes = np.concatenate([windows["lane_change"] for windows in splits.values()])
    test = splits["test"]
    cv = constant_velocity(test["history"], spec.future_steps, spec.sample_hz)
    errors = trajectory_errors(cv, test["future"], spec.sample_hz)
    return {
        "windows": int(len(all_changes)),
        "lane_change_fraction": round(float(all_changes.mean()) if len(all_changes) else 0.0, 4),
        "cv_test_rmse_5s": round(errors.get("rmse_5s", float("nan")), 4),
    }


def print_summary(info: dict, windows_dir: Path, seconds: float) -> None:
    splits = info["splits"]
    sizes = ", ".join(f"{name} {s['windows']} windows / {len(s['recordings'])} recordings" for name, s in splits.items())
    facts = info["summary"]
    print(f"prepared {facts['windows']} windows in {seconds:.1f} s -> {windows_dir}")
    print(f"  splits: {sizes}")
    print(f"  lane-change windows: {100 * facts['lane_change_fraction']:.1f}%"
          + ("  (under 3%: traffic too uniform to learn from)" if facts["lane_change_fraction"] < 0.03 else ""))
    print(f"  constant-velocity RMSE@5s on test: {facts['cv_test_rmse_5s']:.3f} m")

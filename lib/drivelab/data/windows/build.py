"""Build a data version: every canonical track file -> target-centric windows, split by recording or by time
(`drivelab.data.windows.split`), written in memory-mapped shards under one windows folder.

Recordings are windowed one by one (in worker processes when `workers` > 1, results kept in order; each task also
cuts its recording into splits and fits that recording's share of the normalisation, `drivelab.data.windows.parts`)
and streamed into shards, so the data set may be far larger than memory. `windows.json` (normalisation fitted on the
training split, counts, flow) is byte-identical for identical inputs; the stage's duration goes to a separate run
record, `<data_dir>/flow/windows.json`, that the health report reads.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Dict, Mapping, Union

import numpy as np
import torch
from tqdm import tqdm

from drivelab.console import counted
from drivelab.atomic import replace_dir
from drivelab.data.tracks import canonical
from drivelab.data.windows import store
from drivelab.data.windows.extract import (FEATURES, INTENTIONS, POOL_MIN_BYTES, constant_velocity, empty_windows,
                                           lanes_known)
from drivelab.data.windows.normalisation import NormalisationFit
from drivelab.data.windows.parts import TimeSplit, parts_by_recording
from drivelab.data.windows.spec import WindowSpec
from drivelab.data.windows.split import check_split, split_recordings
from drivelab.errors import DrivelabError
from drivelab.metrics import error_sums, summarize
from drivelab.pool import PoolSettings

FORMAT_VERSION = 2  # 2: sharded splits, target lanes per step


def build_data_version(data_dir: Path, spec: WindowSpec, split: Mapping, shard_mb: float,
                       workers: Union[int, PoolSettings]) -> dict:
    """The pipeline's windows stage: data_dir/tracks -> data_dir/windows, plus its run record; returns the info
    written to windows.json with the stage's duration beside it (`seconds`)."""
    if shard_mb <= 0:
        raise DrivelabError(f"windows.shard_mb={shard_mb} must be positive (MiB of windows per shard file set)")
    started = time.perf_counter()
    data_dir = Path(data_dir)
    info = build(data_dir / "tracks", data_dir / "windows", spec, split, int(shard_mb * 2**20), workers)
    seconds = time.perf_counter() - started
    canonical.write_stage_record(data_dir, "windows", seconds, **info["flow"])
    return {**info, "seconds": round(seconds, 3)}


def build(tracks_dir: Path, windows_dir: Path, spec: WindowSpec, split_cfg: Mapping, shard_bytes: int,
          workers: Union[int, PoolSettings] = 1, min_pool_bytes: int = POOL_MIN_BYTES) -> dict:
    """Window every recording under `tracks_dir` into `windows_dir` (replaced whole on success); returns its info."""
    track_files = canonical.recording_files(tracks_dir)
    recording_ids = [path.stem for path in track_files]
    index_of = {recording_id: i for i, recording_id in enumerate(recording_ids)}
    split_by = split_cfg.get("by", "recording")
    split_by = getattr(split_by, "name", str(split_by))  # the config schema gives an Enum
    check_split(split_by, split_cfg["val_fraction"], split_cfg["test_fraction"])
    if split_by == "recording":
        assignment = split_recordings(recording_ids, split_cfg["val_fraction"], split_cfg["test_fraction"],
                                      split_cfg["seed"])
        order = [(split, recording_id) for split in store.SPLITS for recording_id in assignment[split]]
    else:  # every recording feeds every split
        assignment = {split: [] for split in store.SPLITS}
        order = [(None, recording_id) for recording_id in recording_ids]
    fit, summary = NormalisationFit(spec), Summary(spec)
    flow = {"recordings": len(recording_ids), "track_rows": 0, "resampled_rows": 0, "tracks": 0,
            "tracks_with_windows": 0, "windows": 0}
    per_recording, split_record = {}, {"by": split_by, **{key: split_cfg[key] for key in ("val_fraction", "test_fraction")}}
    if split_by == "recording":
        split_record["seed"] = split_cfg["seed"]
    else:
        split_record.update(guard_s=spec.history_s + spec.future_s, windows_in_guard_gaps=0, time_blocks={})
    with replace_dir(windows_dir) as staging:
        writers = {split: store.ShardWriter(staging / split, shard_bytes, _template(spec)) for split in store.SPLITS}
        (staging / ".handover").mkdir()
        time_split = TimeSplit(split_cfg["val_fraction"], split_cfg["test_fraction"])
        results = parts_by_recording([tracks_dir / f"{rid}.parquet" for _, rid in order], spec,
                                     [index_of[rid] for _, rid in order], [split or time_split for split, _ in order],
                                     staging / ".handover", workers, min_pool_bytes)
        track_md5 = {}
        for recording in tqdm(results, total=len(order), desc="windows", unit="recording"):
            for part_split, part in recording.windows():
                writers[part_split].append(part)
                summary.update(part_split, part)
                if split_by == "time" and len(part["frame"]):
                    assignment[part_split].append(recording.recording_id)
            fit.merge(recording.train_fit)
            if recording.time_blocks:
                split_record["time_blocks"][recording.recording_id] = {
                    split: [round(low, 3), round(high, 3)] for split, (low, high) in recording.time_blocks.items()}
            if split_by == "time":
                split_record["windows_in_guard_gaps"] += recording.windows_in_guard_gaps
            track_md5[recording.recording_id] = recording.track_md5
            recording.release()
            per_recording[recording.recording_id] = recording.counts["windows"]
            for key in flow.keys() - {"recordings"}:
                flow[key] += recording.counts[key]
        for writer in writers.values():
            writer.close()
        (staging / ".handover").rmdir()  # emptied recording by recording
        empty = [split for split, writer in writers.items() if writer.windows == 0]
        if split_by == "time" and empty:
            raise DrivelabError(f"windows.split.by=time left no {empty[0]} windows: the recordings are too short for "
                                f"its share (windows.split) with guard gaps of {split_record['guard_s']:g} s")
        if fit.windows == 0:
            raise DrivelabError(f"no training windows from {tracks_dir}: tracks are shorter than "
                                f"windows.history_s + windows.future_s ({spec.history_s + spec.future_s} s)")
        info = {
            "format_version": FORMAT_VERSION,
            "spec": {**dataclasses.asdict(spec), "history_steps": spec.history_steps, "future_steps": spec.future_steps,
                     "intention_steps": spec.intention_steps, "windows_per_shard": writers["train"].windows_per_shard},
            "features": list(FEATURES),
            "units": {"x_m": "m", "y_m": "m", "vx_mps": "m/s", "vy_mps": "m/s", "future": "m"},
            "frame": "target-centric: origin at the target's present position, x forward, y left",
            "intention_classes": list(INTENTIONS),
            "recordings": recording_ids,
            "split": split_record,
            "splits": {
                split: {"windows": writers[split].windows, "recordings": assignment[split], "shards": writers[split].shards}
                for split in store.SPLITS
            },
            "tracks": {path.name: track_md5[path.stem] for path in track_files},
            "windows_per_recording": per_recording,
            "normalisation": fit.result(),
            "summary": summary.result(),
            "flow": flow,
        }
        store.write_info(staging, info)
    return info


def _template(spec: WindowSpec) -> Dict[str, np.ndarray]:
    template = empty_windows(spec)
    template["recording"] = np.zeros(0, np.int32)
    return template


class Summary:
    """Counts, lane-change share (of the windows whose lanes are known) and constant velocity's test RMSE@5s,
    accumulated recording by recording."""

    def __init__(self, spec: WindowSpec) -> None:
        self.spec = spec
        self.windows = 0
        self.known_lanes = 0
        self.lane_changes = 0
        self.test_sums: Dict[str, torch.Tensor] = {}

    def update(self, split: str, windows: Dict[str, np.ndarray]) -> None:
        self.windows += len(windows["lane_change"])
        known = lanes_known(windows["lane"])
        self.known_lanes += int(known.sum())
        self.lane_changes += int((windows["lane_change"] & known).sum())
        if split == "test" and len(windows["future"]):
            cv = constant_velocity(windows["history"], self.spec.future_steps, self.spec.sample_hz)
            sums = error_sums(torch.from_numpy(cv), torch.from_numpy(windows["future"]), self.spec.sample_hz)
            self.test_sums = {name: self.test_sums.get(name, 0) + value for name, value in sums.items()}

    def result(self) -> dict:
        errors = summarize(self.test_sums, self.spec.future_steps, self.spec.sample_hz) if self.test_sums else {}
        return {
            "windows": self.windows,
            "lane_change_fraction": round(self.lane_changes / self.known_lanes, 4) if self.known_lanes else None,
            "cv_test_rmse_5s": round(errors.get("rmse_5s", float("nan")), 4),
        }


def print_summary(info: dict, windows_dir: Path) -> None:
    """What `build_data_version` returned, for the terminal."""
    seconds = info.get("seconds", 0.0)
    splits = info["splits"]
    sizes = ", ".join(f"{name} {counted(s['windows'], 'window')} / {counted(len(s['recordings']), 'recording')}" for name, s in splits.items())
    facts = info["summary"]
    print(f"prepared {facts['windows']} windows in {seconds:.1f} s -> {windows_dir}")
    print(f"  splits: {sizes}")
    shards = ", ".join(f"{name} {s['shards']}" for name, s in splits.items())
    print(f"  shards: {shards} (at most {info['spec']['windows_per_shard']} windows each)")
    fraction = facts["lane_change_fraction"]
    if fraction is None:
        print("  lane-change windows: unknown (the source has no lanes)")
    else:
        print(f"  lane-change windows: {100 * fraction:.1f}%"
              + ("  (under 3%: traffic too uniform to learn from)" if fraction < 0.03 else ""))
    print(f"  constant-velocity RMSE@5s on test: {facts['cv_test_rmse_5s']:.3f} m")

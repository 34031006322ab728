"""One recording's share of a data version, made where its windows are made (a pool worker, a Dask worker or this
process): its windows cut into splits, the normalisation moments of its training part and its track file's hash.
The build only merges these in recording order, so the result is the same wherever the tasks ran, and the process
that writes the shards does little else.

A task in another process hands its windows over as `.npy` files in a folder the build names (inside the data
version being built, so on the storage every worker shares), not through the result pipe: the build then writes
them into its shards from the page cache. For 8 recordings of 1800 vehicles its own CPU time fell from 1.4 s (mostly
kernel time: pipe reads, page faults) to 0.4 s beside the workers' 5 s (`benchmarks/pipeline.py`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from drivelab.data.windows.extract import POOL_MIN_BYTES, recording_windows
from drivelab.data.windows.normalisation import NormalisationFit
from drivelab.data.windows.spec import WindowSpec
from drivelab.data.windows.split import split_by_time
from drivelab.errors import DrivelabError
from drivelab.lineage import file_md5
from drivelab.pool import PoolSettings, as_pool, run_tasks

Windows = Dict[str, np.ndarray]


@dataclass(frozen=True)
class TimeSplit:
    """`windows.split.by=time`: the shares of the val and test blocks of every recording."""

    val_fraction: float
    test_fraction: float


@dataclass
class RecordingParts:
    recording_id: str
    # split -> windows (one split for a recording split; train, val, test for a time split), or the folder of
    # `.npy` files they were handed over in
    parts: Dict[str, Union[Windows, Path]]
    counts: Dict[str, float]  # rows in and out of each step (`recording_windows`)
    track_md5: str
    train_fit: NormalisationFit  # moments of the training part alone, merged by the build
    time_blocks: Dict[str, Tuple[float, float]] = field(default_factory=dict)
    windows_in_guard_gaps: int = 0
    handover: Optional[Path] = None  # the folder of this recording's handed-over files

    def windows(self) -> Iterator[Tuple[str, Windows]]:
        """(split, windows) of every part; handed-over files are memory-mapped (copy-on-write: readers may write)."""
        for split, part in self.parts.items():
            if isinstance(part, Path):
                yield split, {file.stem: np.load(file, mmap_mode="c") for file in sorted(part.glob("*.npy"))}
            else:
                yield split, part

    def release(self) -> None:
        """Delete the handed-over files (once their windows are in the shards)."""
        if self.handover is not None:
            shutil.rmtree(self.handover)


def recording_parts(path: Path, spec: WindowSpec, index: int, split: Union[str, TimeSplit],
                    handover: Optional[Path] = None) -> RecordingParts:
    """The windows of one track file in `split` (a split name), or cut in time blocks (`TimeSplit`); with a
    `handover` folder, written there as files instead of returned."""
    windows, counts = recording_windows(path, spec, index)
    recording_id = Path(path).stem
    blocks: Dict[str, Tuple[float, float]] = {}
    in_gaps = 0
    if isinstance(split, TimeSplit):
        parts, blocks, in_gaps = _cut_in_time(windows, counts, spec, split, recording_id)
    else:
        parts = {split: windows}
    fit = NormalisationFit(spec)
    if "train" in parts:
        fit.update(parts["train"])
    folder = None
    if handover is not None:
        folder = Path(handover) / f"{index:06d}"
        parts = {name: _hand_over(arrays, folder / name) for name, arrays in parts.items()}
    return RecordingParts(recording_id, parts, counts, file_md5(path), fit, blocks, in_gaps, folder)


def parts_by_recording(paths: Sequence[Path], spec: WindowSpec, indices: Sequence[int],
                       splits: Sequence[Union[str, TimeSplit]], handover: Path, workers: Union[int, PoolSettings] = 1,
                       min_pool_bytes: int = POOL_MIN_BYTES) -> Iterator[RecordingParts]:
    """`recording_parts` of every path, in the given order wherever the tasks run (`drivelab.pool`); local worker
    processes only for at least `min_pool_bytes` of track files (they take seconds to start). Tasks in other
    processes hand their windows over in `handover`; the caller `release`s each result once it has used it."""
    settings = as_pool(workers)
    if not settings.on_cluster and sum(Path(path).stat().st_size for path in paths) < min_pool_bytes:
        settings = PoolSettings(workers=1)
    elsewhere = settings.on_cluster or (settings.workers > 1 and len(paths) > 1)  # as `run_tasks` decides
    jobs = [(Path(path), spec, int(index), split, handover if elsewhere else None)
            for path, index, split in zip(paths, indices, splits)]
    return run_tasks(recording_parts, jobs, settings)


def _hand_over(arrays: Windows, folder: Path) -> Path:
    # No `parents`: a task still running after its build failed (on a Dask cluster) must not re-create the removed
    # data version it was writing into.
    folder.parent.mkdir(exist_ok=True)
    folder.mkdir(exist_ok=True)
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
    return folder


def _cut_in_time(windows: Windows, counts: Dict[str, float], spec: WindowSpec, split: TimeSplit,
                 recording_id: str) -> Tuple[Dict[str, Windows], Dict[str, Tuple[float, float]], int]:
    """One recording's windows cut into time blocks: (windows per split, the blocks, windows left in guard gaps)."""
    frame_rate_hz = float(counts["frame_rate_hz"])
    on_grid = abs(frame_rate_hz / spec.sample_hz - round(frame_rate_hz / spec.sample_hz)) < 1e-9
    try:
        chosen, blocks = split_by_time(windows["frame"] / frame_rate_hz, spec.history_s, spec.future_s,
                                       split.val_fraction, split.test_fraction,
                                       frame_s=0.0 if on_grid else 1.0 / frame_rate_hz)
    except ValueError as exc:
        raise DrivelabError(f"recording {recording_id}: {exc}, as windows.split.by=time needs; use longer recordings, "
                            "shorter windows, or windows.split.by=recording") from None
    in_gaps = len(windows["frame"]) - sum(len(index) for index in chosen.values())
    parts = {name: {key: array[index] for key, array in windows.items()} for name, index in chosen.items()}
    return parts, blocks, in_gaps

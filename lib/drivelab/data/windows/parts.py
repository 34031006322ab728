"""One recording's share of a data version, made where its windows are made (a pool worker, a Dask worker or this
process): its windows cut into splits, the normalisation moments of its training part and its track file's hash.
The build only merges these in recording order, so the result is the same wherever the tasks ran, and the process
that writes the shards does little else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Sequence, Tuple, Union

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
    parts: Dict[str, Windows]  # split -> windows (one split for a recording split; train, val, test for a time split)
    counts: Dict[str, float]  # rows in and out of each step (`recording_windows`)
    track_md5: str
    train_fit: NormalisationFit  # moments of the training part alone, merged by the build
    time_blocks: Dict[str, Tuple[float, float]] = field(default_factory=dict)
    windows_in_guard_gaps: int = 0


def recording_parts(path: Path, spec: WindowSpec, index: int, split: Union[str, TimeSplit]) -> RecordingParts:
    """The windows of one track file in `split` (a split name), or cut in time blocks (`TimeSplit`)."""
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
    return RecordingParts(recording_id, parts, counts, file_md5(path), fit, blocks, in_gaps)


def parts_by_recording(paths: Sequence[Path], spec: WindowSpec, indices: Sequence[int],
                       splits: Sequence[Union[str, TimeSplit]], workers: Union[int, PoolSettings] = 1,
                       min_pool_bytes: int = POOL_MIN_BYTES) -> Iterator[RecordingParts]:
    """`recording_parts` of every path, in the given order wherever the tasks run (`drivelab.pool`); local worker
    processes only for at least `min_pool_bytes` of track files (they take seconds to start)."""
    settings = as_pool(workers)
    jobs = [(Path(path), spec, int(index), split) for path, index, split in zip(paths, indices, splits)]
    if not settings.on_cluster and sum(job[0].stat().st_size for job in jobs) < min_pool_bytes:
        settings = PoolSettings(workers=1)
    return run_tasks(recording_parts, jobs, settings)


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

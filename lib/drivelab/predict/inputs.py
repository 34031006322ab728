"""What predict replays: an existing windows version (a windows or data folder, or a DVC revision), or recordings of
any supported source format, which go through the same ingest, clean and windows code as training data (rejected
rows quarantined beside the output, as `drivelab prepare` does)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

import numpy as np

from drivelab.data.health.versions import open_version
from drivelab.data.windows import store
from drivelab.data.windows.spec import WindowSpec

Batch = Dict[str, Any]  # window arrays plus `recording_name` (one string per window)


@dataclass
class Input:
    kind: str  # "windows" or "recordings"
    ref: str
    spec: Dict[str, Any]  # the window settings the input was cut with
    total: Optional[int]  # windows, when known before reading them
    batches: Callable[[int], Iterator[Batch]]  # batch size -> batches
    details: Dict[str, Any]


def is_windows_version(path: Path) -> bool:
    return (path / store.INFO_FILE).is_file() or (path / "windows" / store.INFO_FILE).is_file()


def _chunks(arrays: Mapping[str, np.ndarray], names: np.ndarray, batch_size: int) -> Iterator[Batch]:
    count = len(names)
    for start in range(0, count, batch_size):
        batch = {key: np.asarray(value[start:start + batch_size]) for key, value in arrays.items()}
        batch["recording_name"] = names[start:start + batch_size]
        yield batch


@contextmanager
def windows_input(ref: str, repo: Path) -> Iterator[Input]:
    with open_version(ref, repo) as version:
        info = store.read_info(version.windows_dir)
        recordings = np.asarray(info["recordings"], dtype=object)
        splits = {split: store.open_split(version.windows_dir, split) for split in store.SPLITS}

        def batches(batch_size: int) -> Iterator[Batch]:
            for split in splits.values():
                for shard in split.iter_shards():
                    yield from _chunks(shard, recordings[np.asarray(shard["recording"])], batch_size)

        yield Input("windows", ref, info["spec"], sum(len(split) for split in splits.values()), batches,
                    {"data_version": version.md5, "windows_dir": str(version.windows_dir)})


@contextmanager
def recordings_input(path: Path, source: Any, clean_settings: Any, spec: WindowSpec, work_dir: Path) -> Iterator[Input]:
    """Ingest and clean the recordings into `work_dir` (tracks, quarantine, clean report), then window them."""
    from drivelab.data.tracks import canonical, clean, ingest
    from drivelab.data.windows.extract import windows_by_recording

    summary = ingest.ingest(work_dir, source.format, source.name, str(path), int(clean_settings.workers))
    report = clean.clean(work_dir, float(clean_settings.max_jump_m), int(clean_settings.workers))
    files: List[Path] = canonical.recording_files(work_dir / "tracks")

    def batches(batch_size: int) -> Iterator[Batch]:
        windows = windows_by_recording(files, spec, range(len(files)), int(clean_settings.workers))
        for path_, (arrays, _) in zip(files, windows):
            yield from _chunks(arrays, np.full(len(arrays["frame"]), path_.stem, dtype=object), batch_size)

    spec_info = {"sample_hz": spec.sample_hz, "history_s": spec.history_s, "future_s": spec.future_s,
                 "stride_s": spec.stride_s, "max_neighbours": spec.max_neighbours,
                 "neighbour_radius_m": spec.neighbour_radius_m, "history_steps": spec.history_steps,
                 "future_steps": spec.future_steps}
    yield Input("recordings", str(path), spec_info, None, batches,
                {"recordings": len(files), "rows_in": report["rows"]["in"], "rows_kept": report["rows"]["kept"],
                 "rows_quarantined": report["rows"]["quarantined"],
                 "lines_rejected_on_reading": summary["rejected"], "work_dir": str(work_dir),
                 "quarantine": str(work_dir / clean.QUARANTINE_FILE)})

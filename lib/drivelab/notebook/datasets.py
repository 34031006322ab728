"""A data version as a notebook sees it: its windows (memory-mapped), one table row per window, its health report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence, Union

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from drivelab import lineage
from drivelab.data.windows import store
from drivelab.data.windows.extract import INTENTIONS, constant_velocity, lanes_known
from drivelab.errors import MissingInputError

PathLike = Union[str, Path]


@dataclass
class DataVersion:
    """One prepared data folder: `windows/` (arrays + windows.json) and whatever else `prepare` wrote beside it."""

    data_dir: Path
    windows_dir: Path
    info: Dict[str, Any] = field(repr=False)
    _version: Optional[str] = field(default=None, repr=False)

    @property
    def sample_hz(self) -> int:
        return int(self.info["spec"]["sample_hz"])

    @property
    def version(self) -> str:
        """The DVC content hash of the windows (what run manifests record as `data_version`)."""
        if self._version is None:
            self._version = lineage.dvc_dir_md5(self.windows_dir)
        return self._version

    def windows(self, split: str = "test") -> store.WindowSplit:
        """A split's windows, memory-mapped (`split["future"]`, `split.gather(indices)`, `split.iter_shards()`)."""
        return store.open_split(self.windows_dir, split)

    def sample(self, split: str, indices: Sequence[int]) -> Dict[str, np.ndarray]:
        """The windows of `split` at `indices`, every array gathered into memory (what plots and models take)."""
        return self.windows(split).gather(np.asarray(indices, dtype=np.int64))

    def table(self, splits: Iterable[str] = store.SPLITS) -> pd.DataFrame:
        """One row per window of `splits`, with the scalar facts that distributions and slices are made of.

        Built shard by shard, so a split larger than memory still gives its table."""
        frames = []
        for split in splits:
            start = 0
            for shard in self.windows(split).iter_shards():
                frame = window_table(shard, self.info, split)
                frame["index"] += start
                start += len(frame)
                frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def health(self, max_windows: int = 1_000_000) -> Dict[str, Any]:
        """The data version's health report (`drivelab.data.health.report`): counts, feature distributions, missing
        values, train/test shift and the pipeline's row flow; at most `max_windows` windows are read (evenly sampled)."""
        from drivelab.data.health import report

        return report.report(self.windows_dir, self.data_dir, max_windows=max_windows, data_version=self.version)


def load_data(source: Union[DictConfig, PathLike]) -> DataVersion:
    """A data version from a composed config (its `data.windows_dir`, else `paths.data_dir`), a data folder or its
    `windows/` folder."""
    if isinstance(source, DictConfig):
        data = source.get("data")
        path = Path(data.windows_dir if data is not None and data.get("windows_dir") else source.paths.data_dir)
    else:
        path = Path(source)
    path = path.expanduser().resolve()
    if (path / store.INFO_FILE).is_file():
        data_dir, windows_dir = path.parent, path
    else:
        data_dir, windows_dir = path, path / "windows"
    if not (windows_dir / store.INFO_FILE).is_file():
        raise MissingInputError(f"no prepared windows in {windows_dir}; run `drivelab prepare` "
                                f"(or point data_dir at a folder holding windows/)")
    return DataVersion(data_dir, windows_dir, store.read_info(windows_dir))


def window_table(windows: Dict[str, np.ndarray], info: Dict[str, Any], split: str = "") -> pd.DataFrame:
    """Per-window scalars: where it comes from, how the target moves now and later, how crowded it is, the
    evaluation slices it belongs to (`drivelab.evaluation.slices`: braking, dense) and the constant-velocity error
    at the last future point (a difficulty measure independent of any model)."""
    import torch

    from drivelab.evaluation.slices import slice_masks

    spec = info["spec"]
    sample_hz, future_steps = int(spec["sample_hz"]), int(spec["future_steps"])
    history = np.asarray(windows["history"])
    future = np.asarray(windows["future"])
    present = history[:, -1]
    earlier = max(0, history.shape[1] - 1 - sample_hz)  # one second before the present (or the first point)
    history_span_s = max(history.shape[1] - 1 - earlier, 1) / sample_hz
    # Mean speed over the last future second, from positions (the windows store future positions only).
    last_span = max(min(sample_hz, future_steps - 1), 1)
    end_velocity = (future[:, -1] - future[:, -1 - last_span]) * sample_hz / last_span
    cv = constant_velocity(history, future_steps, sample_hz)
    recordings = np.asarray(info.get("recordings", []), dtype=object)
    # A writable copy of what the slices read (torch refuses read-only memory maps).
    arrays = {name: torch.from_numpy(np.array(windows[name]))
              for name in ("history", "future", "neighbours", "neighbour_mask", "lane_change", "lane") if name in windows}
    slices = slice_masks(arrays, sample_hz)
    table = pd.DataFrame({
        "split": split,
        "index": np.arange(len(history)),
        "recording": recordings[np.asarray(windows["recording"])] if "recording" in windows and len(recordings) else "",
        "track_id": np.asarray(windows["track_id"]),
        "frame": np.asarray(windows["frame"]),
        "lane_change": _lane_change(windows),
        "intention": pd.Categorical.from_codes(np.asarray(windows["intention"], np.int8), categories=list(INTENTIONS)),
        "braking": slices["braking"].numpy(),
        "dense": slices["dense"].numpy(),
        "speed_mps": present[:, 2],
        "lateral_speed_mps": present[:, 3],
        "acceleration_mps2": (present[:, 2] - history[:, earlier, 2]) / history_span_s,
        "neighbours": np.asarray(windows["neighbour_mask"])[:, :, -1].sum(axis=1),
        "future_dx_m": future[:, -1, 0],
        "future_dy_m": future[:, -1, 1],
        "future_acceleration_mps2": (end_velocity[:, 0] - present[:, 2]) / (future_steps / sample_hz),
        "cv_fde_m": np.linalg.norm(cv[:, -1] - future[:, -1], axis=-1),
    })
    return table


def health_tables(report: Dict[str, Any]) -> Dict[str, pd.DataFrame]:
    """A health report's sections as tables: a section of records (feature -> statistics, stage -> counts) becomes
    one row per record; a section of values one column; the report's single values are gathered in "summary"."""
    tables: Dict[str, pd.DataFrame] = {}
    summary: Dict[str, Any] = {}
    for section, content in report.items():
        if not isinstance(content, dict):
            summary[section] = content
        elif not content:
            continue  # nothing recorded (e.g. no pipeline flow for data prepared elsewhere)
        elif content and all(isinstance(value, dict) for value in content.values()):
            tables[section] = pd.DataFrame.from_dict(
                {name: flatten_record(value) for name, value in content.items()}, orient="index")
        else:
            tables[section] = pd.Series(flatten_record(content), name=section, dtype=object).to_frame()
    if summary:
        tables = {"summary": pd.Series(summary, name="value", dtype=object).to_frame(), **tables}
    return tables


def flatten_record(record: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """{"a": {"b": 1}} as {"a.b": 1}; lists stay whole."""
    flat: Dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(flatten_record(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _lane_change(windows: Dict[str, np.ndarray]) -> pd.Series:
    """Whether the target changes lane, as a nullable boolean: missing where its lanes are unknown."""
    changes = pd.Series(np.asarray(windows["lane_change"], dtype=bool), dtype="boolean")
    if "lane" in windows:
        changes[~lanes_known(np.asarray(windows["lane"]))] = pd.NA
    return changes.array

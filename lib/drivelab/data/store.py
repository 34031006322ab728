"""Window arrays on disk: one folder per split of `.npy` files (memory-mapped when read) plus `windows.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import numpy as np

from drivelab.atomic import write_json
from drivelab.errors import MissingInputError

SPLITS = ("train", "val", "test")
INFO_FILE = "windows.json"


def write_split(folder: Path, arrays: Dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(array))


def open_split(windows_dir: Path, split: str) -> Dict[str, np.ndarray]:
    """A split's arrays, memory-mapped: nothing is read until a batch gathers it."""
    folder = Path(windows_dir) / split
    files = sorted(folder.glob("*.npy"))
    if not files:
        raise MissingInputError(f"no windows for split {split!r} in {folder}; run `drivelab prepare` first")
    return {path.stem: np.load(path, mmap_mode="r") for path in files}


def write_info(windows_dir: Path, info: Dict[str, Any]) -> None:
    write_json(Path(windows_dir) / INFO_FILE, info)


def read_info(windows_dir: Path) -> Dict[str, Any]:
    path = Path(windows_dir) / INFO_FILE
    if not path.is_file():
        raise MissingInputError(f"{path} not found: {windows_dir} holds no prepared windows; run `drivelab prepare`")
    return json.loads(path.read_text())

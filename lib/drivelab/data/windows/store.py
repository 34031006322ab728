"""Window arrays on disk: per split, shards of `.npy` files (memory-mapped when read), plus `windows.json`.

Layout: `<windows_dir>/<split>/shard-00000/<array>.npy`, ... Every shard holds at most a configured number of bytes
of windows, so neither building nor reading a data set needs more memory than a few shards, however large it is.
A split written before sharding (`<split>/<array>.npy`) reads as a single shard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence

import numpy as np

from drivelab.atomic import write_json
from drivelab.errors import MissingInputError

SPLITS = ("train", "val", "test")
INFO_FILE = "windows.json"
SHARD_PREFIX = "shard-"

Arrays = Dict[str, np.ndarray]


def window_bytes(arrays: Arrays) -> int:
    """Bytes one window takes across all arrays."""
    return int(sum(array.dtype.itemsize * int(np.prod(array.shape[1:], dtype=np.int64)) for array in arrays.values()))


class ShardWriter:
    """Appends windows to a split folder and cuts them into shards of at most `shard_bytes` each.

    Windows are buffered only until a shard is full; shards are filled through file-backed memory maps, so the
    process never holds more than about one shard of windows in anonymous memory.
    """

    def __init__(self, folder: Path, shard_bytes: int, template: Arrays) -> None:
        self.folder = Path(folder)
        self.template = {name: array[:0] for name, array in template.items()}  # names, dtypes, shapes
        self.windows_per_shard = max(1, int(shard_bytes) // max(1, window_bytes(self.template)))
        self.pending: List[Arrays] = []
        self.pending_windows = 0
        self.shards = 0
        self.windows = 0

    def append(self, arrays: Arrays) -> None:
        if set(arrays) != set(self.template):
            raise ValueError(f"window arrays {sorted(arrays)} differ from the split's {sorted(self.template)}")
        count = len(next(iter(arrays.values())))
        if count == 0:
            return
        self.pending.append(arrays)
        self.pending_windows += count
        while self.pending_windows >= self.windows_per_shard:
            self._write_shard(self.windows_per_shard)

    def close(self) -> int:
        """Write what is left; a split without windows still gets one empty shard (its names and shapes)."""
        if self.pending_windows or self.shards == 0:
            self._write_shard(self.pending_windows)
        return self.windows

    def _write_shard(self, count: int) -> None:
        folder = self.folder / f"{SHARD_PREFIX}{self.shards:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        taken, rest, left = [], [], count
        for part in self.pending:
            size = len(next(iter(part.values())))
            if left >= size:
                taken.append(part)
                left -= size
            elif left > 0:
                taken.append({name: array[:left] for name, array in part.items()})
                rest.append({name: array[left:] for name, array in part.items()})
                left = 0
            else:
                rest.append(part)
        for name, empty in self.template.items():
            out = np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=empty.dtype,
                                            shape=(count, *empty.shape[1:]))
            start = 0
            for part in taken:
                out[start : start + len(part[name])] = part[name]
                start += len(part[name])
            del out  # unmapped; the kernel writes the pages back (an explicit msync per file costs seconds)
        self.pending, self.pending_windows = rest, self.pending_windows - count
        self.shards += 1
        self.windows += count


class WindowSplit:
    """One split's windows across its shards, memory-mapped: nothing is read until a batch gathers it."""

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        shard_dirs = sorted(path for path in folder.glob(f"{SHARD_PREFIX}*") if path.is_dir())
        if not shard_dirs and any(folder.glob("*.npy")):
            shard_dirs = [folder]  # the layout before sharding: one folder of arrays
        self.shards: List[Arrays] = []
        for shard_dir in shard_dirs:
            files = sorted(shard_dir.glob("*.npy"))
            if files:
                self.shards.append({path.stem: np.load(path, mmap_mode="r") for path in files})
        if not self.shards:
            raise MissingInputError(f"no windows in {folder}; run `drivelab prepare` (or `drivelab windows`) first")
        self.names = tuple(self.shards[0])
        lengths = [len(shard[self.names[0]]) for shard in self.shards]
        self.starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def __getitem__(self, name: str) -> np.ndarray:
        """A whole array: the memory map itself for a single shard; across shards it is read into memory."""
        if len(self.shards) == 1:
            return self.shards[0][name]
        return np.concatenate([shard[name] for shard in self.shards])

    def keys(self) -> Sequence[str]:
        return self.names

    def iter_shards(self) -> Iterator[Arrays]:
        """Shard by shard, in order: the way to visit a split larger than memory."""
        return iter(self.shards)

    def gather(self, indices: Sequence[int]) -> Arrays:
        """The windows at `indices` (in that order), one vectorised gather per shard and array."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"window index out of range 0..{len(self) - 1}")
        if len(self.shards) == 1:
            return {name: array[indices] for name, array in self.shards[0].items()}
        shard_of = np.searchsorted(self.starts, indices, side="right") - 1
        out = {name: np.empty((len(indices), *array.shape[1:]), array.dtype) for name, array in self.shards[0].items()}
        ascending = bool(np.all(indices[1:] >= indices[:-1]))
        for shard in np.unique(shard_of):
            if ascending:  # the usual case (loaders sort a batch): each shard's rows are one slice of the output
                first, last = np.searchsorted(shard_of, [shard, shard + 1])
                where: Any = slice(int(first), int(last))
            else:
                where = np.flatnonzero(shard_of == shard)
            local = indices[where] - self.starts[shard]
            for name, array in self.shards[shard].items():
                if ascending:  # gather straight into the output slice (indices were checked above)
                    np.take(array, local, axis=0, out=out[name][where], mode="clip")
                else:
                    out[name][where] = array[local]
        return out


def open_split(windows_dir: Path, split: str) -> WindowSplit:
    """A split's windows, memory-mapped (see `WindowSplit`)."""
    folder = Path(windows_dir) / split
    if not folder.is_dir():
        raise MissingInputError(f"no windows for split {split!r} in {folder}; run `drivelab prepare` first")
    return WindowSplit(folder)


def open_splits(windows_dir: Path, splits: Sequence[str]) -> WindowSplit:
    """Several splits read as one, in the order given (every window of a data set used only for testing)."""
    parts = [open_split(windows_dir, split) for split in splits]
    combined = parts[0]
    shards = [shard for part in parts for shard in part.shards if len(shard[part.names[0]])]
    combined.shards = shards or combined.shards[:1]
    lengths = [len(shard[combined.names[0]]) for shard in combined.shards]
    combined.starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return combined


def write_info(windows_dir: Path, info: Dict[str, Any]) -> None:
    write_json(Path(windows_dir) / INFO_FILE, info)


def read_info(windows_dir: Path) -> Dict[str, Any]:
    path = Path(windows_dir) / INFO_FILE
    if not path.is_file():
        raise MissingInputError(f"{path} not found: {windows_dir} holds no prepared windows; run `drivelab prepare`")
    return json.loads(path.read_text())

"""Window arrays on disk: per split, shards of `.npy` files (memory-mapped when read), plus `windows.json`.

Layout: `<windows_dir>/<split>/shard-00000/<array>.npy`, ... Every shard holds at most a configured number of bytes
of windows, so neither building nor reading a data set needs more memory than a few shards, however large it is.
A split written before sharding (`<split>/<array>.npy`) reads as a single shard.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, BinaryIO, Dict, Iterator, List, Optional, Sequence

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

    Each shard's arrays are files opened with a header for a full shard; appended windows are written straight to
    them (into the page cache, a fifth of the CPU time of copying into fresh memory maps), so the writer holds no
    windows in memory, whatever the data size. The last shard is cut to the windows it got (its `.npy` headers
    rewritten in place).
    """

    def __init__(self, folder: Path, shard_bytes: int, template: Arrays) -> None:
        self.folder = Path(folder)
        self.template = {name: array[:0] for name, array in template.items()}  # names, dtypes, shapes
        self.windows_per_shard = max(1, int(shard_bytes) // max(1, window_bytes(self.template)))
        self.current: Optional[Dict[str, BinaryIO]] = None  # the open shard's files
        self.filled = 0  # windows in the open shard
        self.shards = 0
        self.windows = 0

    def append(self, arrays: Arrays) -> None:
        if set(arrays) != set(self.template):
            raise ValueError(f"window arrays {sorted(arrays)} differ from the split's {sorted(self.template)}")
        for name, array in arrays.items():
            if array.shape[1:] != self.template[name].shape[1:]:
                raise ValueError(f"window array {name} has rows of shape {array.shape[1:]}, the split's are "
                                 f"{self.template[name].shape[1:]}")
        count = len(next(iter(arrays.values())))
        done = 0
        while done < count:
            if self.current is None:
                self._open_shard()
            take = min(count - done, self.windows_per_shard - self.filled)
            for name, file in self.current.items():
                rows = np.ascontiguousarray(arrays[name][done : done + take], dtype=self.template[name].dtype)
                file.write(memoryview(rows).cast("B"))
            self.filled += take
            done += take
            if self.filled == self.windows_per_shard:
                self._close_shard()

    def close(self) -> int:
        """Close the last shard; a split without windows still gets one empty shard (its names and shapes)."""
        if self.current is None and self.shards == 0:
            self._open_shard()
        if self.current is not None:
            self._close_shard()
        return self.windows

    def _shard_folder(self) -> Path:
        return self.folder / f"{SHARD_PREFIX}{self.shards:05d}"

    def _open_shard(self) -> None:
        folder = self._shard_folder()
        folder.mkdir(parents=True, exist_ok=True)
        self.current = {}
        for name, empty in self.template.items():
            file = self.current[name] = open(folder / f"{name}.npy", "wb")
            np.lib.format.write_array_header_1_0(file, {"descr": np.lib.format.dtype_to_descr(empty.dtype),
                                                        "fortran_order": False,
                                                        "shape": (self.windows_per_shard, *empty.shape[1:])})
        self.filled = 0

    def _close_shard(self) -> None:
        for file in self.current.values():
            file.close()
        self.current = None
        if self.filled < self.windows_per_shard:
            for name in self.template:
                _cut_npy(self._shard_folder() / f"{name}.npy", self.filled)
        self.shards += 1
        self.windows += self.filled
        self.filled = 0


def _cut_npy(path: Path, rows: int) -> None:
    """Keep the first `rows` rows of a C-ordered `.npy` file: the header rewritten in place (numpy pads it so the
    first axis can change length without moving the data), then the file truncated."""
    fmt = np.lib.format
    with open(path, "r+b") as file:
        version = fmt.read_magic(file)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran_order, dtype = read_header(file)
        data_offset = file.tell()
        header = {"descr": fmt.dtype_to_descr(dtype), "fortran_order": fortran_order, "shape": (rows, *shape[1:])}
        buffer = io.BytesIO()
        (fmt.write_array_header_1_0 if version == (1, 0) else fmt.write_array_header_2_0)(buffer, header)
        if buffer.tell() != data_offset:
            raise RuntimeError(f"{path}: the .npy header changed length when cut to {rows} rows")
        file.seek(0)
        file.write(buffer.getvalue())
        row_bytes = dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))
        file.truncate(data_offset + rows * row_bytes)


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

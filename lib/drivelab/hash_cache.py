"""File MD5s remembered by (path, size, mtime, inode), as DVC's own state database does: a data version of many
gigabytes is hashed once, and every later train, eval or sweep trial on it only reads the files' metadata.

The cache is one JSON file (`$DRIVELAB_CACHE_DIR`, else `$XDG_CACHE_HOME/drivelab`, else `~/.cache/drivelab`),
replaced atomically; a cache that cannot be read or written costs a rehash, never a wrong answer: any change of
size, modification time or inode makes a file count as new.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Dict, List

from drivelab.atomic import write_json

CACHE_FILE = "file_md5.json"
MAX_ENTRIES = 200_000  # a cache that outgrows this starts afresh rather than growing without bound


def cache_path() -> Path:
    root = os.environ.get("DRIVELAB_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "drivelab"
    return Path(root) / CACHE_FILE


class HashCache:
    """MD5s of files by their stat; `save()` writes back what was added."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else cache_path()
        try:
            self.entries: Dict[str, List] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}
        self.changed = False

    def md5(self, file: Path, compute: Callable[[Path], str]) -> str:
        stat = os.stat(file)
        key, signature = str(Path(file).resolve()), [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        known = self.entries.get(key)
        if known and known[:3] == signature:
            return known[3]
        digest = compute(file)
        self.entries[key] = [*signature, digest]
        self.changed = True
        return digest

    def save(self) -> None:
        if not self.changed:
            return
        if len(self.entries) > MAX_ENTRIES:
            self.entries = {}
        try:
            write_json(self.path, self.entries)
        except OSError:
            pass  # a read-only home: the next run hashes again
        self.changed = False

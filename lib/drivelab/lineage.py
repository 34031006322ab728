"""What a run was made from: code (git commit and diff), data (DVC content hash), config, packages, command."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Optional

from drivelab.hash_cache import HashCache


URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@")
PIPELINE_MAINTAINED = (":(exclude)dvc.lock", ":(exclude)params.yaml")


def mask_secrets(text: str) -> str:
    """`text` with the password of every URL in it (scheme://user:password@host) replaced by ***."""
    return URL_PASSWORD.sub(lambda match: f"{match.group('head')}***@", text)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dvc_dir_md5(folder: Path) -> str:
    """The content hash DVC 3 gives a directory output (`<md5>.dir` in dvc.lock), computed without DVC."""
    folder = Path(folder)
    cache = HashCache()  # unchanged files are not read again (by size, mtime and inode)
    entries = [
        {"md5": cache.md5(path, file_md5), "relpath": path.relative_to(folder).as_posix()}
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]
    cache.save()
    entries.sort(key=lambda entry: entry["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def git_state(repo: Path) -> Dict[str, Any]:
    """Commit, dirty flag and diff of the repository holding `repo` (None values outside a git checkout)."""

    def git(*args: str) -> Optional[str]:
        try:
            done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    # Files the DVC pipeline itself rewrites (the lock, params composed from conf/) say nothing about the code.
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".", *PIPELINE_MAINTAINED)
    diff = git("diff", "HEAD", "--", ".", *PIPELINE_MAINTAINED) if status else ""
    return {
        "git_commit": commit.strip() if commit else None,
        "git_dirty": bool(status) if status is not None else None,
        "git_diff": diff or "",
    }


def package_versions() -> Dict[str, str]:
    versions = {dist.metadata["Name"]: dist.version for dist in metadata.distributions() if dist.metadata["Name"]}
    return dict(sorted(versions.items(), key=lambda item: item[0].lower()))


def environment() -> Dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "packages": package_versions(),
    }

"""Finding a data version: a windows folder, a data folder holding `windows/`, or a DVC revision (any git revision
whose dvc.lock records the windows, or `workspace` for the working tree's dvc.lock), read straight from the DVC
cache without checking anything out."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from drivelab.data.windows import store
from drivelab.errors import DrivelabError

WINDOWS_OUT = "data/windows"  # the pipeline's windows output in dvc.lock
WORKSPACE = "workspace"  # DVC's name for the working tree (as in `dvc metrics diff`): its dvc.lock, not a commit's


@dataclass(frozen=True)
class DataVersion:
    ref: str  # what the user named
    windows_dir: Path  # where its windows can be read now
    md5: Optional[str]  # DVC's content hash of the windows folder, when known without reading it all


@contextmanager
def open_version(ref: str, repo: Path = Path("."), windows_out: str = WINDOWS_OUT) -> Iterator[DataVersion]:
    """The windows of `ref`; a revision's files are linked from the DVC cache into a temporary folder."""
    path = Path(ref)
    if path.exists():
        for candidate in (path, path / "windows"):
            if (candidate / store.INFO_FILE).is_file():
                yield DataVersion(ref, candidate, None)
                return
        raise DrivelabError(f"{ref}: no {store.INFO_FILE} here or in {ref}/windows; give a windows folder, a data "
                            f"folder or a DVC revision")
    with open_revision(ref, repo, windows_out) as version:
        yield version


@contextmanager
def open_revision(revision: str, repo: Path = Path("."), windows_out: str = WINDOWS_OUT) -> Iterator[DataVersion]:
    """The windows `windows_out` that `revision`'s dvc.lock records (`workspace`: the working tree's dvc.lock), read
    from the DVC cache, never from the working tree's data folder."""
    md5 = _locked_md5(revision, Path(repo), windows_out)
    folder = Path(tempfile.mkdtemp(prefix="drivelab-version-"))
    try:
        _link_from_cache(revision, md5, Path(repo), folder)
        yield DataVersion(revision, folder, md5)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def open_cached(md5: str, repo: Path = Path(".")) -> Iterator[DataVersion]:
    """The windows whose DVC hash is `md5` (a run's `data_version`), read from the repository's DVC cache."""
    folder = Path(tempfile.mkdtemp(prefix="drivelab-version-"))
    try:
        _link_from_cache(md5, md5, Path(repo), folder)
        yield DataVersion(md5, folder, md5)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def _locked_md5(ref: str, repo: Path, windows_out: str) -> str:
    if ref == WORKSPACE:
        lock_file = repo / "dvc.lock"
        if not lock_file.is_file():
            raise DrivelabError(f"{repo.resolve()} has no dvc.lock in its working tree: run the pipeline first "
                                "(`make demo` or `dvc repro`), or name a git revision whose dvc.lock records the "
                                "windows")
        text = lock_file.read_text()
    else:
        if _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
            raise DrivelabError(f"{ref!r} is neither a folder nor a git revision of {repo.resolve()}")
        lock = _git(repo, "show", f"{ref}:dvc.lock")
        if lock.returncode != 0:
            raise DrivelabError(f"revision {ref} has no dvc.lock (the pipeline had not run when it was committed): "
                                "compare two data folders instead (`drivelab data diff data/windows "
                                "data/other/windows`), or commit dvc.lock after `make demo` and compare later revisions")
        text = lock.stdout
    import yaml

    stages = (yaml.safe_load(text) or {}).get("stages", {})
    for stage in stages.values():
        for out in stage.get("outs", []):
            if out.get("path") == windows_out and str(out.get("md5", "")).endswith(".dir"):
                return out["md5"]
    raise DrivelabError(f"revision {ref}: dvc.lock records no {windows_out} output (a folder output of the pipeline)")


def _link_from_cache(ref: str, md5: str, repo: Path, folder: Path) -> None:
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        cache = dvc_repo.cache.local
        manifest = Path(cache.oid_to_path(md5))
        hint = (f"revision {ref}'s windows ({md5}) are not in the DVC cache {cache.path}: fetch them "
                f"(`dvc fetch --all-commits`, or `dvc pull` on a checkout of {ref})")
        if not manifest.is_file():
            raise DrivelabError(hint)
        entries = json.loads(manifest.read_text())
        for entry in entries:
            source = Path(cache.oid_to_path(entry["md5"]))
            if not source.is_file():
                raise DrivelabError(hint)
            target = folder / entry["relpath"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source)

"""Fetching a registered model: its files at the version's commit, from the DVC cache or the DVC remote, so it works
in a fresh clone (git clone brings the tags; DVC brings the files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Dict, Optional

from drivelab.atomic import replace_dir
from drivelab.errors import DrivelabError
from drivelab.registry.state import Version, resolve

CARD = "card.json"


def default_folder(repo: Path, reference: str) -> Path:
    return Path(repo) / "models" / "registry" / reference.replace("/", "-")


def get(repo: Path, reference: str, out: Optional[Path] = None) -> tuple[Version, Path]:
    """Download the files of the version `reference` names into `out` (replaced whole when an earlier fetch wrote
    it); returns the version and the folder."""
    version = resolve(repo, reference)
    target = Path(out) if out else default_folder(repo, reference)
    if target.exists() and any(target.iterdir()) and not (target / CARD).is_file():
        raise DrivelabError(f"{target} exists and holds files no model fetch wrote; choose another out=DIR")
    from dvc.repo import Repo

    with replace_dir(target) as staging:
        try:
            with Repo(str(repo)) as dvc_repo:
                dvc_repo.artifacts.download(version.name, version=version.version, out=str(staging / "files"),
                                            force=True)
        except Exception as error:  # DVC's errors are long; the first line names what was missing
            detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise DrivelabError(f"could not fetch {version.reference} (commit {version.commit[:10]}): {detail}; "
                                "is its data pushed to the DVC remote (`dvc push`) and the remote reachable?") from None
        for item in (staging / "files").iterdir():
            item.rename(staging / item.name)
        shutil.rmtree(staging / "files")
    return version, target


def read_card(folder: Path) -> Dict[str, Any]:
    path = Path(folder) / CARD
    if not path.is_file():
        raise DrivelabError(f"{folder} holds no {CARD}: not a fetched model (drivelab models get NAME@STAGE)")
    return json.loads(path.read_text())

"""The git side of the registry: the repository's root, a clean working tree, who is acting, and commits."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import List

from drivelab.errors import DrivelabError


def git(repo: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        message = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise DrivelabError(f"git {' '.join(args)} in {repo}: {message[-1] if message else 'failed'}")
    return done.stdout.strip()


def root(path: Path) -> Path:
    """The top of the git working tree holding `path`."""
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if done.returncode != 0:
        raise DrivelabError(f"{Path(path).resolve()} is not inside a git repository: the registry lives in one "
                            "(git init, dvc init)")
    return Path(done.stdout.strip())


def check_clean(repo: Path) -> None:
    """Refuse a working tree with uncommitted changes or untracked files: a promotion's commit holds only itself."""
    # `git` strips its output, and with it the first line's leading status blank: split off the status instead
    changed: List[str] = [line.split(maxsplit=1)[1] for line in git(repo, "status", "--porcelain").splitlines()
                          if line.strip()]
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise DrivelabError(f"the working tree of {repo} is not clean ({shown}): commit or stash the changes first, "
                            "so that the promotion commit holds the promotion alone")


def who(repo: Path) -> str:
    name = git(repo, "config", "user.name", check=False)
    email = git(repo, "config", "user.email", check=False)
    if not name:
        raise DrivelabError(f"git has no user.name in {repo}: set who promotes (git config user.name / user.email)")
    return f"{name} <{email}>" if email else name


def commit(repo: Path, paths: List[str], message: str) -> str:
    """Commit exactly `paths` (added first) with `message`; returns the new commit's hash."""
    git(repo, "add", "--", *paths)
    git(repo, "commit", "-q", "-m", message, "--", *paths)
    return git(repo, "rev-parse", "HEAD")


def show_file(repo: Path, commit_hash: str, path: str) -> str | None:
    done = subprocess.run(["git", "-C", str(repo), "show", f"{commit_hash}:{path}"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None

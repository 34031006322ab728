"""Continuing a run that stopped early (`drivelab train resume=auto [run_dir=DIR]`) in its own directory: which run
(the one named, else the newest unfinished run of the same config), from which checkpoint (the newest that loads;
a truncated or corrupt one is passed over with one line naming it), and its CSV logs without replayed steps.
What the checkpoint carries for an exact continuation is in `resume_state`. Imports no torch until a checkpoint is read.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from drivelab.atomic import write_text
from drivelab.checkpoints import CheckpointError, read_checkpoint
from drivelab.errors import ConfigError
from drivelab.runs.directory import CHECKPOINTS_DIR

UNFINISHED = ("interrupted", "killed", "failed")


def checkpoint_step(checkpoint: Dict[str, Any]) -> int:
    return int(checkpoint.get("global_step") or 0)


def newest_good_checkpoint(run_dir: Path) -> Optional[Path]:
    """The checkpoint of `run_dir` furthest into training that loads weights-only; unreadable ones are reported on
    stderr (one line each) and passed over. None when the run saved none."""
    candidates = []
    for path in sorted(Path(run_dir, CHECKPOINTS_DIR).glob("*.ckpt")):
        try:
            state = read_checkpoint(path)
        except CheckpointError as exc:
            print(f"drivelab train: skipping {exc}", file=sys.stderr, flush=True)
            continue
        candidates.append((checkpoint_step(state), path.stat().st_mtime, path))
    return max(candidates)[2] if candidates else None


def check_resumable(manifest: Dict[str, Any], status: str, run_dir: Path) -> None:
    if status == "completed":
        raise ConfigError(f"resume=auto: the run in {run_dir} has already completed; nothing to resume")
    if status == "running":
        raise ConfigError(f"resume=auto: the run in {run_dir} is still running (pid {manifest.get('pid')} on "
                          f"{manifest.get('host')}); stop it first or wait for it")
    if status not in UNFINISHED:
        raise ConfigError(f"resume=auto: the run in {run_dir} has status '{status}'; only an interrupted, killed or "
                          "failed run can be resumed")


def comparable_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """What makes two runs "the same config": everything but how and where they were started."""
    return {key: value for key, value in config.items()
            if key not in ("resume", "run_dir", "ckpt_path", "lock_timeout_s", "windows", "hydra", "paths")}


def drop_replayed_rows(csv_dir: Path) -> None:
    """A resumed run logs the steps after its checkpoint again, into a new CSV version: drop from older versions
    the values that a newer version logged for the same step, so every (step, metric) appears once."""
    files = sorted(Path(csv_dir).glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[-1]))
    seen: set = set()
    for path in reversed(files):  # newest first: it wins
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
        if not rows:
            continue
        columns = list(rows[0].keys())
        kept: List[Dict[str, str]] = []
        mine: set = set()
        for row in rows:
            cells = {(row.get("step"), name) for name, value in row.items() if name not in ("step", "epoch") and value}
            mine |= cells
            if cells and cells <= seen:
                continue  # replayed by a newer version
            kept.append(row)
        seen |= mine
        if len(kept) != len(rows):
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(kept)
            write_text(path, buffer.getvalue())


def resume_target(cfg: Any) -> Optional[Path]:
    """The run directory `resume=auto` continues: `run_dir` when given, else the newest unfinished run under
    `paths.runs_dir` trained with the same config. None when the config asks for no resume."""
    from omegaconf import OmegaConf

    from drivelab.runs.opened import Run, find_runs

    if cfg.get("resume") is None:
        if cfg.get("run_dir"):
            raise ConfigError(f"run_dir={cfg.run_dir} goes with resume=auto (a new run's directory is "
                              "hydra.run.dir=DIR)")
        return None
    if cfg.resume != "auto":
        raise ConfigError(f"resume={cfg.resume} is not an option; choose auto (or leave it null)")
    if cfg.get("ckpt_path"):
        raise ConfigError("resume=auto finds its checkpoint itself; drop ckpt_path")
    if cfg.get("run_dir"):
        run = Run(Path(cfg.run_dir))  # one line naming the folder when it holds no run
        check_resumable(run.manifest, run.status, run.path)
        _ = run.config  # it arrived from elsewhere: schemas and registry are checked before anything runs
        return run.path
    wanted = comparable_config(OmegaConf.to_container(cfg, resolve=True))
    unfinished = []
    for path in find_runs(cfg.paths.runs_dir):
        run = Run(path)
        if run.status in UNFINISHED and comparable_config(run.saved_config) == wanted:
            unfinished.append(run)
    if not unfinished:
        raise ConfigError(f"resume=auto: no interrupted, killed or failed run of this config under "
                          f"{Path(cfg.paths.runs_dir).resolve()}; name one with run_dir=DIR")
    return max(unfinished, key=lambda run: (str(run.manifest.get("started_at") or ""), str(run.path))).path


def preflight(cfg: Any) -> List[str]:
    """`drivelab train`'s check before a run directory is made: a checkpoint named by `ckpt_path` loads
    weights-only, and `resume=auto` has a run to continue. Returns the overrides that point Hydra's run directory at
    that run, so that it continues in place."""
    from drivelab.checkpoints import check_resume

    check_resume(cfg)
    target = resume_target(cfg)
    return [f"hydra.run.dir='{target}'"] if target is not None else []

"""`drivelab doctor run_dir=DIR`: why a run ended as it did, from what it left behind — the exception and where it
was raised, the last health figures, where the NaN guard stopped it, whether it was killed (and the OOM killer's
record of it when the kernel log is readable), whether it was data-bound, and whether the workspace still has its
code and data version."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

from drivelab import lineage
from drivelab.doctor.checks import FAIL, OK, WARN, Row
from drivelab.monitoring.records import read_health, read_non_finite
from drivelab.monitoring.verdict import is_healthy
from drivelab.runs.opened import Run, find_runs

KERNEL_LOGS = (Path("/var/log/kern.log"), Path("/var/log/messages"))


def latest_unfinished(folders: List[Path]) -> Optional[Run]:
    """The most recently started run under the folders that did not complete (failed, killed, still running)."""
    runs = []
    for folder in folders:
        for path in find_runs(folder) if folder.exists() else []:
            try:
                runs.append(Run(path))
            except Exception:
                continue
    unfinished = [run for run in runs if run.status != "completed"]
    return max(unfinished, key=lambda run: str(run.manifest.get("started_at") or "")) if unfinished else None


def kernel_oom_lines(pid: Optional[int]) -> Optional[List[str]]:
    """Lines of the kernel log where the OOM killer killed `pid`; None when no kernel log is readable here."""
    texts = []
    try:
        done = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10)
        if done.returncode == 0 and done.stdout:
            texts.append(done.stdout)
    except (OSError, subprocess.TimeoutExpired):
        pass
    for path in KERNEL_LOGS:
        try:
            texts.append(path.read_text(errors="replace"))
        except OSError:
            continue
    return oom_lines("\n".join(texts), pid) if texts else None


def oom_lines(kernel_log: str, pid: Optional[int]) -> List[str]:
    """The kernel log's lines where the OOM killer names `pid` ('Out of memory: Killed process 123 (python)',
    'oom-kill:...,task=python,pid=123,...')."""
    if pid is None:
        return []
    pattern = re.compile(rf"(Out of memory|oom-kill|Killed process).*\b(pid={pid}|process {pid})\b")
    return [line.strip() for line in kernel_log.splitlines() if pattern.search(line)]


def explain(run: Run, root: Path) -> List[Row]:
    """Rows that explain the run; any `fail` row means the run was not healthy."""
    manifest, status = run.manifest, run.status
    rows = [Row("run", OK if status == "completed" else FAIL if status in ("failed", "killed") else WARN,
                f"{run.path}: {status}, {run.label}, started {manifest.get('started_at')}")]
    health = read_health(run.path) or {}
    non_finite = read_non_finite(run.path)
    if manifest.get("error") and not non_finite:
        exception = health.get("exception") or {}
        where = f" (raised at {exception['where']})" if exception.get("where") else ""
        rows.append(Row("exception", FAIL, f"{manifest['error']}{where}", "read the message; train.log holds the "
                                                                             "full log"))
    if non_finite:
        rows.append(Row("non-finite", FAIL, non_finite.get("message", ""),
                        "lower model.optimizer.lr, clip gradients (trainer.gradient_clip_val), or check the windows "
                        "named; resume from the last good checkpoint with ckpt_path=..."))
    if status == "killed":
        oom = kernel_oom_lines(manifest.get("pid"))
        evidence = ("the kernel log is not readable here, so an OOM kill cannot be confirmed" if oom is None else
                    f"OOM killer: {oom[-1]}" if oom else "no OOM-killer record for its process in the kernel log")
        rows.append(Row("killed", FAIL, f"no clean finish: process {manifest.get('pid')} on {manifest.get('host')} is "
                                        f"gone or its heartbeat stopped; {evidence}",
                        "lower data.batch_size or memory use if the OOM killer ended it; resume with "
                        "ckpt_path=<run>/checkpoints/last.ckpt"))
    if health:
        last = (health.get("history") or [{}])[-1]
        figures = ", ".join(f"{key} {value}" for key, value in last.items() if key in (
            "step", "samples_per_s", "step_ms_p50", "data_wait_share", "rss_anon_mb", "rss_file_mb", "grad_norm"))
        verdict = health.get("verdict") or ""
        rows.append(Row("health", OK if is_healthy(verdict) else FAIL, f"{verdict}; last figures: {figures or 'none'}",
                        "" if is_healthy(verdict) else "see health.png and health.json in the run directory"))
        data_bound = [problem for problem in health.get("problems") or [] if problem.startswith("data-bound")]
        if data_bound:
            rows.append(Row("data-bound", WARN, data_bound[0], "data.num_workers, or a cheaper loader"))
    else:
        rows.append(Row("health", WARN, "no health.json (a run without the training_health callback, or no step "
                                        "was trained)"))
    rows += versions_match(run, root)
    return rows


def versions_match(run: Run, root: Path) -> List[Row]:
    """Whether the workspace still holds the run's code (git commit, uncommitted changes) and data version."""
    manifest, rows = run.manifest, []
    git = lineage.git_state(root)
    recorded = manifest.get("git_commit")
    if recorded and git.get("git_commit"):
        same = recorded == git["git_commit"]
        dirty = " (the run had uncommitted changes: git.diff)" if manifest.get("git_dirty") else ""
        rows.append(Row("code version", OK if same and not manifest.get("git_dirty") else WARN,
                        ("same commit as the workspace" if same else
                         f"run {recorded[:10]}, workspace {git['git_commit'][:10]}") + dirty,
                        "" if same else f"git checkout {recorded[:10]} to reproduce it exactly"))
    windows_dir = Path(str(manifest.get("windows_dir") or ""))
    if manifest.get("data_version") and windows_dir.is_dir():
        current = lineage.dvc_dir_md5(windows_dir)
        same = current == manifest["data_version"]
        rows.append(Row("data version", OK if same else WARN,
                        f"{windows_dir} " + ("is the version trained on" if same else
                                             f"changed: run {manifest['data_version'][:8]}, now {current[:8]}"),
                        "" if same else "dvc checkout (or git checkout + dvc pull) the run's revision"))
    elif manifest.get("data_version"):
        rows.append(Row("data version", WARN, f"{windows_dir} no longer exists", "dvc pull the run's data version"))
    return rows


def summary_of(rows: List[Row]) -> Dict[str, Any]:
    return {"healthy": not any(row.status == FAIL for row in rows), "rows": [row.as_dict() for row in rows]}

"""The environment checks of `drivelab doctor`: each gives one row (what, ok | warn | fail, what was found, the fix).

A `fail` makes doctor exit 1; a `warn` is worth knowing but does not stop work.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, Dict, List, Optional

from drivelab import resources
from drivelab.monitoring.flow import describe_stage, read_flow

OK, WARN, FAIL = "ok", "warn", "fail"
LOW_DISK_GIB, VERY_LOW_DISK_GIB = 10.0, 1.0
LOSSY_STAGE_SHARE = 0.5  # a stage that keeps less than this share of its rows is worth a look
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)")


@dataclass
class Row:
    check: str
    status: str
    found: str
    fix: str = ""

    def as_dict(self) -> Dict[str, str]:
        return asdict(self)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def python_and_packages(root: Path) -> List[Row]:
    """Python against pyproject's requires-python; every installed package against requirements/constraints.txt."""
    rows = []
    version = sys.version_info
    rows.append(Row("python", OK if version >= (3, 11) else FAIL, sys.version.split()[0],
                    "" if version >= (3, 11) else "use Python 3.11 or newer (pyproject.toml requires-python)"))
    constraints = root / "requirements" / "constraints.txt"
    if not constraints.is_file():
        return rows + [Row("package pins", WARN, f"{constraints} not found", "run from the project root")]
    pins = {}
    for line in constraints.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[_normalise(match.group(1))] = match.group(2)
    installed = {_normalise(dist.metadata["Name"]): dist.version for dist in metadata.distributions()
                 if dist.metadata["Name"]}
    wrong = sorted(f"{name} {installed[name]} (pinned {pin})" for name, pin in pins.items()
                   if name in installed and installed[name].split("+")[0] != pin.split("+")[0])
    if wrong:
        rows.append(Row("package pins", FAIL, f"{len(wrong)} differ: " + ", ".join(wrong[:5])
                        + (" ..." if len(wrong) > 5 else ""),
                        "make setup (pip install -c requirements/constraints.txt -e '.[dev]')"))
    else:
        rows.append(Row("package pins", OK, f"{sum(name in installed for name in pins)} installed packages match "
                                            f"requirements/constraints.txt"))
    return rows


def torch_runtime(root: Path, runs_dirs: List[Path]) -> List[Row]:
    """torch threads against the cores this process may use and the runs already training here; the accelerators
    torch sees."""
    import socket

    import torch

    from drivelab.runs.listing import list_runs

    cores, threads = resources.cpu_count(), torch.get_num_threads()
    here = socket.gethostname()
    live = [row for row in list_runs([d for d in runs_dirs if d.exists()], status="running")
            if row.get("host") == here]
    wanted = threads * (len(live) + 1)  # one more run beside the live ones
    found = f"{threads} threads per process on {cores} available cores; {len(live)} run(s) training here now"
    rows = [Row("torch threads", OK if wanted <= cores else WARN, found,
                "" if wanted <= cores else
                f"threads x runs above the cores slows every run far more than proportionally: "
                f"OMP_NUM_THREADS={max(cores // (len(live) + 1), 1)} (or torch.set_num_threads) per run")]
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        rows.append(Row("devices", OK, f"torch {torch.__version__}: cpu + {len(names)} CUDA ({', '.join(names)})"))
    else:
        rows.append(Row("devices", OK, f"torch {torch.__version__}: cpu only (no CUDA device visible)",
                        "trainer=gpu needs a CUDA build of torch and a visible GPU"))
    return rows


def dvc_state(root: Path) -> List[Row]:
    """`dvc status`: stages whose code, params or data changed, and DVC-tracked files modified outside DVC."""
    if not (root / ".dvc").is_dir():
        return [Row("dvc", WARN, f"{root} is not a DVC project", "run doctor from the project root (or set DRIVELAB_ROOT)")]
    dvc = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
    try:
        done = subprocess.run([dvc, "status", "--json"], cwd=root, capture_output=True, text=True, timeout=300)
        status = json.loads(done.stdout or "{}") if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        status = None
    if status is None:
        return [Row("dvc status", WARN, "dvc status did not answer", "run `dvc status` to see why")]
    modified, missing, stale = [], [], []
    for stage, changes in status.items():
        for change in changes if isinstance(changes, list) else []:
            if not isinstance(change, dict):
                continue
            for path, state in (change.get("changed outs") or {}).items():
                if state == "modified":
                    modified.append(path)
                elif state in ("deleted", "not in cache"):
                    missing.append(path)
            if change.get("changed deps") or change.get("changed outs") or "changed command" in change:
                stale.append(stage.split(":")[-1])
    rows = []
    if modified:
        rows.append(Row("dvc tracked files", FAIL, "modified outside DVC: " + ", ".join(sorted(set(modified))),
                        "`dvc checkout <path>` restores the recorded version; `dvc commit` (or `dvc add`) records "
                        "the new one"))
    else:
        rows.append(Row("dvc tracked files", OK, "every DVC-tracked file matches its record"))
    if missing:
        rows.append(Row("dvc outputs", WARN, f"{len(set(missing))} not in the workspace (e.g. {sorted(set(missing))[0]})",
                        "`dvc pull` fetches them from the remote; `dvc repro` rebuilds them"))
    stale = sorted(set(stale))
    rows.append(Row("dvc pipeline", WARN if stale else OK,
                    ("not up to date: " + ", ".join(stale)) if stale else "data and pipeline up to date",
                    "`dvc repro` (or `dvc exp run`) brings it up to date" if stale else ""))
    return rows


def configs(root: Path) -> List[Row]:
    """Every option of every config group composes with its command and passes validation."""
    from drivelab.doctor.config_options import check_every_option

    checked, failures = check_every_option()
    if failures:
        first = failures[0]
        return [Row("configs", FAIL, f"{len(failures)} of {checked} options fail; first: {first}",
                    "fix the option's YAML in conf/ (the message names the key)")]
    return [Row("configs", OK, f"all {checked} config options compose and validate")]


def wandb_offline(root: Path, runs_dirs: List[Path]) -> List[Row]:
    """W&B offline runs written but never synced (no `.synced` marker from `wandb sync`)."""
    waiting = []
    for folder in runs_dirs:
        if folder.is_dir():
            for run in folder.glob("**/logs/wandb/offline-run-*"):
                if run.is_dir() and not any(run.glob("*.synced")):
                    waiting.append(run)
    if not waiting:
        return [Row("wandb offline runs", OK, "none waiting to be synced")]
    return [Row("wandb offline runs", WARN, f"{len(waiting)} waiting to be synced (e.g. {waiting[0]})",
                "where a W&B server is reachable: wandb sync <run>/logs/wandb/offline-run-*")]


def free_disk(folders: Dict[str, Path]) -> List[Row]:
    rows = []
    for label, folder in folders.items():
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        free_gib = shutil.disk_usage(existing).free / 2**30
        status = FAIL if free_gib < VERY_LOW_DISK_GIB else WARN if free_gib < LOW_DISK_GIB else OK
        rows.append(Row(f"free disk: {label}", status, f"{free_gib:.1f} GiB free at {folder}",
                        "" if status == OK else "free space or point it elsewhere (paths.*, `dvc cache dir`)"))
    return rows


def data_flow(data_dir: Path) -> List[Row]:
    """Each data stage's throughput and peak memory from its run record; a stage that drops most rows is flagged."""
    rows = []
    for stage, record in read_flow(data_dir).items():
        rows_in, rows_out = record.get("rows_in"), record.get("rows_out")
        lossy = rows_in and rows_out is not None and stage in ("ingest", "clean") and rows_out < LOSSY_STAGE_SHARE * rows_in
        rows.append(Row(f"data flow: {stage}", WARN if lossy else OK, describe_stage(record),
                        f"the stage keeps {rows_out}/{rows_in} rows: see {data_dir}/clean_report.json and "
                        f"quarantine.parquet" if lossy else ""))
    return rows


def environment(root: Path, data_dir: Path, runs_dir: Path,
                only: Optional[List[str]] = None) -> List[Row]:
    """Every check (or those named in `only`), in the order the table shows them."""
    dvc_cache = root / ".dvc" / "cache"
    checks: Dict[str, Callable[[], List[Row]]] = {
        "python": lambda: python_and_packages(root),
        "torch": lambda: torch_runtime(root, [runs_dir, root / "models" / "train"]),
        "dvc": lambda: dvc_state(root),
        "configs": lambda: configs(root),
        "wandb": lambda: wandb_offline(root, [runs_dir, root / "models"]),
        "disk": lambda: free_disk({"data": data_dir, "runs": runs_dir, "dvc cache": dvc_cache}),
        "flow": lambda: data_flow(data_dir),
    }
    rows: List[Row] = []
    for name, check in checks.items():
        if only and name not in only:
            continue
        try:
            rows.extend(check())
        except Exception as exc:  # a check that breaks is itself a finding, not a crash of the doctor
            rows.append(Row(name, FAIL, f"the check raised {type(exc).__name__}: {exc}", "report this"))
    return rows


CHECK_NAMES = ("python", "torch", "dvc", "configs", "wandb", "disk", "flow")


def project_root() -> Path:
    return Path(os.environ.get("DRIVELAB_ROOT") or ".").resolve()

"""Config-only commands: time of `drivelab train --cfg job` and `drivelab --help` / `drivelab train --help`,
each a fresh process as a user starts it, with torch, Lightning and W&B proven not imported (the benchmark fails
otherwise); beside them, in the same rounds, a process that only imports Lightning (what an entry point that imports
the training stack up front pays before it can print anything).

    .venv/bin/python benchmarks/config_commands.py [--quick]     # or through the suite: make bench

Goal: <= 1.0 s per command; the ratio is the command's median CPU seconds (its wall time on an idle machine, far
steadier on a shared one) over that 1.0 s budget. On a loaded machine
the second figure, the same command against importing Lightning in the same rounds, is the one to read (goal 0.25x).
"""

from __future__ import annotations

import resource
import ast
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Sequence

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 1.0
IMPORT_SHARE_GOAL = 0.25  # 1 s against the ~4 s an entry point importing Lightning takes on an idle 2-core machine
HEAVY = ("torch", "pytorch_lightning", "lightning_fabric", "wandb")
COMMANDS = {"train_cfg_job": ["train", "--cfg", "job"], "help": ["--help"], "train_help": ["train", "--help"]}
PROBE = ("import atexit, sys\n"
         "atexit.register(lambda: print('HEAVY', sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr))\n"
         "from drivelab.cli import main\nmain({argv!r})\n")


def seconds(argv: Sequence[str]) -> float:
    """CPU seconds (user + system) of the command and every process it waited for; on an idle machine about its
    wall time, on a shared one far steadier."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heavy_imports(args: Sequence[str]) -> List[str]:
    """The heavy modules a config-only command imported (checked at interpreter exit, as the command ends)."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY, argv=list(args))], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    line = [line for line in done.stderr.splitlines() if line.startswith("HEAVY ")][-1]
    return ast.literal_eval(line[len("HEAVY "):])


def measure(quick: bool) -> List[Dict[str, Any]]:
    rounds = 3 if quick else 10
    drivelab = [sys.executable, "-m", "drivelab"]
    for name, args in COMMANDS.items():
        imported = heavy_imports(args)
        if imported:
            raise AssertionError(f"`drivelab {' '.join(args)}` imported {imported}: config-only commands must not")
    arms = {name: [*drivelab, *args] for name, args in COMMANDS.items()}
    arms["import_lightning"] = [sys.executable, "-c", "import pytorch_lightning"]
    arms["python"] = [sys.executable, "-c", "pass"]
    times: Dict[str, List[float]] = {name: [] for name in arms}
    for _ in range(rounds):
        for name, argv in arms.items():
            times[name].append(seconds(argv))
    median = {name: statistics.median(values) for name, values in times.items()}
    raw: Dict[str, Any] = {f"{name}_s": round(value, 3) for name, value in median.items()}
    raw.update(rounds=rounds, heavy_modules_imported=[], checked=list(HEAVY))
    figures = []
    for name, args in COMMANDS.items():
        figures.append({"name": f"config_{name}_vs_1s", "what": f"`drivelab {' '.join(args)}` CPU seconds / 1.0 s budget "
                        f"({median[name]:.2f} s; torch, Lightning, W&B not imported)",
                        "ratio": median[name] / BUDGET_S, "goal": 1.0, "better": "lower", "raw": raw})
    figures.append({"name": "config_train_cfg_job_vs_importing_lightning",
                    "what": "`drivelab train --cfg job` vs a process that only imports Lightning",
                    "ratio": median["train_cfg_job"] / median["import_lightning"], "goal": IMPORT_SHARE_GOAL,
                    "better": "lower",
                    "raw": raw})
    return figures


if __name__ == "__main__":
    from suite import run_alone

    run_alone(measure, __doc__)

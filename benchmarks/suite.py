"""The benchmark suite: every benchmark in this folder, one table of ratios, a JSON and Markdown record, and a
regression check against the committed record.

    .venv/bin/python benchmarks/suite.py --quick                 # the small size (~8 min on 2 idle cores); `make bench-quick`
    .venv/bin/python benchmarks/suite.py                         # the full size; `make bench`
    .venv/bin/python benchmarks/suite.py --quick --only training_step data_loading
    .venv/bin/python benchmarks/suite.py --quick --check docs/benchmarks.json --margin 0.15

A benchmark is a module `benchmarks/<name>.py` with `measure(quick: bool) -> list of figures`; each figure is a dict
with `name`, `what`, `ratio` (two arms measured side by side in the same run: this machine is shared and noisy, so
absolute times are reported, never judged), `goal` and `better` ("lower" or "higher"; no goal: reported only) and
`raw` (the measured times and sizes behind the ratio). Each benchmark runs in its own Python process, so imports and
torch thread settings of one cannot flatter or slow another.

Writes `docs/benchmarks.json` (per figure: ratio, goal, meets_goal, raw figures, machine, command) and
`docs/benchmarks.md`. `--check FILE` compares the new ratios with FILE (read before anything is written) and exits 1
when a ratio got worse than recorded by more than `--margin` (a share of the recorded ratio).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOT_TIMING = {"suite", "model_quality"}  # model_quality measures accuracy (an hour); the suite is this file
BETTER = ("lower", "higher")

Figure = Dict[str, Any]


def benchmark_names() -> List[str]:
    """Every module in benchmarks/ that defines `measure`, by file name."""
    names = []
    for path in sorted(HERE.glob("*.py")):
        if path.stem in NOT_TIMING or path.stem.startswith("_"):
            continue
        if "\ndef measure(" in path.read_text():
            names.append(path.stem)
    return names


def scripts_outside_the_suite() -> List[str]:
    """Benchmark scripts without `measure` (run on their own; listed so that none is forgotten silently)."""
    return sorted(path.stem for path in HERE.glob("*.py") if not path.stem.startswith("_")
                  and path.stem not in {"suite"} and path.stem not in benchmark_names())


def meets_goal(figure: Figure) -> Optional[bool]:
    goal, ratio = figure.get("goal"), figure.get("ratio")
    if goal is None or ratio is None:
        return None
    return ratio <= goal if figure["better"] == "lower" else ratio >= goal


def check_figure(figure: Figure, benchmark: str) -> Figure:
    """A figure as recorded: its fields checked, `meets_goal` added."""
    missing = {"name", "what", "ratio", "better", "raw"} - set(figure)
    if missing:
        raise ValueError(f"benchmark {benchmark}: figure {figure.get('name')!r} lacks {sorted(missing)}")
    if figure["better"] not in BETTER:
        raise ValueError(f"benchmark {benchmark}: figure {figure['name']!r} has better={figure['better']!r}, "
                         f"expected one of {BETTER}")
    return {"benchmark": benchmark, "goal": None, **figure, "meets_goal": meets_goal(figure)}


def regressions(new: Sequence[Figure], recorded: Sequence[Figure], margin: float) -> List[str]:
    """One line per figure whose ratio got worse than `recorded` by more than `margin` (a share of the recorded
    ratio), in the figure's own direction. Figures only one side has are not compared."""
    before = {figure["name"]: figure for figure in recorded if figure.get("ratio") is not None}
    lines = []
    for figure in new:
        old = before.get(figure["name"])
        if old is None or figure.get("ratio") is None:
            continue
        ratio, old_ratio = float(figure["ratio"]), float(old["ratio"])
        if figure["better"] == "lower":
            worse, limit = ratio > old_ratio * (1 + margin), old_ratio * (1 + margin)
        else:
            worse, limit = ratio < old_ratio * (1 - margin), old_ratio * (1 - margin)
        if worse:
            lines.append(f"{figure['name']}: {ratio:.3g}x, recorded {old_ratio:.3g}x "
                         f"({figure['better']} is better; limit {limit:.3g}x at margin {margin:.0%})")
    return lines


def machine() -> Dict[str, Any]:
    import torch

    return {"host": platform.node(), "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def run_one(name: str, quick: bool) -> List[Figure]:
    """Run one benchmark in a fresh process; its figures, checked."""
    with tempfile.TemporaryDirectory(prefix="drivelab-suite-") as scratch:
        out = Path(scratch) / "figures.json"
        command = [sys.executable, str(Path(__file__)), "--measure", name, "--figures-out", str(out)]
        subprocess.run(command + (["--quick"] if quick else []), cwd=ROOT, check=True)
        return [check_figure(figure, name) for figure in json.loads(out.read_text())]


def table(figures: Sequence[Figure]) -> str:
    lines = ["| benchmark | figure | ratio | goal | meets goal |", "|---|---|---|---|---|"]
    for figure in figures:
        goal = "-" if figure["goal"] is None else f"{'<=' if figure['better'] == 'lower' else '>='} {figure['goal']}x"
        verdict = {True: "yes", False: "**no**", None: "-"}[figure["meets_goal"]]
        lines.append(f"| {figure['benchmark']} | {figure['what']} | {figure['ratio']:.3f}x | {goal} | {verdict} |")
    return "\n".join(lines)


def markdown(record: Dict[str, Any]) -> str:
    figures = record["figures"]
    raw = "\n".join(f"- `{figure['name']}`: " + ", ".join(f"{key} {_short(value)}" for key, value in figure["raw"].items())
                    for figure in figures)
    host = record["machine"]
    return (f"# Benchmarks\n\nMeasured with `{record['command']}` ({record['size']} size) on {host['cores']} cores "
            f"({host['cpu']}, load {host['load_average_1min']}), Python {host['python']}, torch {host['torch']}, "
            f"at {record['finished_at']}, in {record['seconds']:.0f} s. Every ratio compares two arms measured side "
            f"by side in the same run; absolute times vary with the machine and are reported, not judged.\n\n"
            f"{table(figures)}\n\n## Raw figures\n\n{raw}\n")


def _command(*args: str) -> str:
    return shlex.join([".venv/bin/python", "benchmarks/suite.py", *args])


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def run_alone(measure: Any, doc: str) -> None:
    """`python benchmarks/<name>.py [--quick]`: one benchmark's figures without the suite's table and record."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    print_figures(measure(parser.parse_args().quick))


def print_figures(figures: Sequence[Figure]) -> None:
    for figure in figures:
        print(f"{figure['what']}: {figure['ratio']:.3f}x  {figure['raw']}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the small size: ~8 minutes in all on 2 idle cores")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for benchmarks.json and .md")
    parser.add_argument("--no-write", action="store_true", help="print only; write no record")
    parser.add_argument("--check", type=Path, metavar="FILE", help="a recorded benchmarks.json to compare with")
    parser.add_argument("--margin", type=float, default=0.15, help="how much worse a ratio may get (share; 0.15)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # one benchmark, inside its own process
    parser.add_argument("--figures-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        sys.path.insert(0, str(HERE))
        figures = importlib.import_module(args.measure).measure(args.quick)
        args.figures_out.write_text(json.dumps(figures))
        return 0

    names = benchmark_names()
    unknown = sorted(set(args.only or ()) - set(names))
    if unknown:
        parser.error(f"no benchmark {unknown}; known: {', '.join(names)}")
    recorded = json.loads(args.check.read_text())["figures"] if args.check else None
    started = time.perf_counter()
    figures: List[Figure] = []
    for name in args.only or names:
        print(f"== {name} ({'quick' if args.quick else 'full'} size) ...", flush=True)
        figures.extend(run_one(name, args.quick))
    host = machine()
    for figure in figures:
        figure.update(machine=host, command=_command("--only", figure["benchmark"], *(["--quick"] if args.quick else [])))
    record = {"command": _command(*(argv if argv is not None else sys.argv[1:])), "size": "quick" if args.quick else "full",
              "machine": host,
              "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "seconds": time.perf_counter() - started, "figures": figures}
    record["outside_the_suite"] = scripts_outside_the_suite()
    print("\n" + table(figures))
    if record["outside_the_suite"]:
        print(f"\nnot in the suite (no measure(quick) function): {', '.join(record['outside_the_suite'])}")
    if not args.no_write:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "benchmarks.json").write_text(json.dumps(record, indent=2) + "\n")
        (args.out / "benchmarks.md").write_text(markdown(record))
        print(f"\nwrote {args.out / 'benchmarks.json'} and {args.out / 'benchmarks.md'}")
    if recorded is not None:
        worse = regressions(figures, recorded, args.margin)
        for line in worse:
            print(f"REGRESSION {line}")
        print(f"regression check against {args.check}: "
              f"{len(worse)} ratio(s) worse by more than {args.margin:.0%}" if worse else
              f"regression check against {args.check}: no ratio worse by more than {args.margin:.0%}")
        return 1 if worse else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

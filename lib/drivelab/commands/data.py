"""`drivelab data diff A B [key=value ...]`: what changed between two data versions, and whether any feature's
distribution shifted beyond a threshold (exit status 1 if so, 0 if not, 2 for a usage or input error).

A and B are windows folders, data folders holding `windows/`, or DVC revisions (a commit, branch, tag or `dvc exp`
name, read from the DVC cache). Not a Hydra app: it takes its own few settings as key=value.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List

from drivelab.atomic import write_json
from drivelab.data import drift, health, store
from drivelab.data.versions import WINDOWS_OUT, open_version
from drivelab.errors import DrivelabError
from drivelab.lineage import dvc_dir_md5

USAGE = """usage: drivelab data diff A B [statistic=psi|ks] [threshold=T] [max_windows=N] [json=FILE] [out=PATH]

Compare two data versions: windows per split, new/removed/changed recordings, window settings, and per feature
(speed, acceleration, lateral speed, headway, neighbour count, lane change) the PSI and KS statistics.
A and B: a windows folder, a data folder holding windows/, or a DVC revision (commit, branch, tag, experiment).
  statistic=psi     the statistic that flags a shift (psi or ks)
  threshold=0.2     flag a feature whose statistic exceeds this (default 0.2 for psi, 0.1 for ks)
  max_windows=1000000  windows sampled evenly per version (all of them when fewer)
  json=FILE         also write the comparison as JSON
  out=data/windows  the windows output to look up in a revision's dvc.lock
Exit status: 0 no shift above the threshold, 1 a shift was flagged, 2 a usage or input error."""

SETTINGS = {"statistic": str, "threshold": float, "max_windows": int, "json": str, "out": str}


def main(argv: List[str]) -> None:
    if not argv or any(arg in ("-h", "--help", "help") for arg in argv):
        print(USAGE)
        return
    if argv[0] != "diff":
        _fail(f"unknown data command {argv[0]!r}; the one command is `drivelab data diff A B`")
    try:
        refs, settings = _parse(argv[1:])
        json_file = settings.pop("json", None)
        result = diff(refs[0], refs[1], **settings)
    except DrivelabError as exc:
        _fail(str(exc))
    print(format_diff(result))
    if json_file:
        write_json(Path(json_file), result)
    raise SystemExit(1 if result["shifted"] else 0)


def _fail(message: str) -> None:
    print(f"drivelab data: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _parse(args: List[str]) -> tuple[List[str], Dict[str, Any]]:
    refs, settings = [], {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            refs.append(arg)
        elif key in SETTINGS:
            try:
                settings[key] = SETTINGS[key](value)
            except ValueError:
                raise DrivelabError(f"{key}={value}: not a valid {SETTINGS[key].__name__}") from None
        else:
            raise DrivelabError(f"unknown setting {key!r}; choose from: {', '.join(SETTINGS)}")
    if len(refs) != 2:
        raise DrivelabError(f"give exactly two data versions A and B, got {len(refs)}: {' '.join(refs) or '(none)'}")
    statistic = settings.get("statistic", "psi")
    if statistic not in drift.STATISTICS:
        raise DrivelabError(f"statistic={statistic}: choose one of {', '.join(drift.STATISTICS)}")
    return refs, settings


def diff(ref_a: str, ref_b: str, statistic: str = "psi", threshold: float | None = None, max_windows: int = 1_000_000,
         out: str = WINDOWS_OUT) -> Dict[str, Any]:
    """The comparison of two data versions as a JSON-ready dict (see the module docstring)."""
    threshold = drift.DEFAULT_THRESHOLDS[statistic] if threshold is None else threshold
    with open_version(ref_a, windows_out=out) as version_a, open_version(ref_b, windows_out=out) as version_b:
        info_a, info_b = store.read_info(version_a.windows_dir), store.read_info(version_b.windows_dir)
        md5_a = version_a.md5 or dvc_dir_md5(version_a.windows_dir)
        md5_b = version_b.md5 or dvc_dir_md5(version_b.windows_dir)
        sample_a = health.sample_features(version_a.windows_dir, max_windows)
        sample_b = health.sample_features(version_b.windows_dir, max_windows)
    features = drift.feature_shift(sample_a, sample_b, statistic, threshold)
    counts = {split: {"a": sample_a.splits[split], "b": sample_b.splits[split]} for split in store.SPLITS}
    counts["recordings"] = {"a": len(info_a.get("recordings", [])), "b": len(info_b.get("recordings", []))}
    return {
        "a": {"ref": ref_a, "data_version": md5_a},
        "b": {"ref": ref_b, "data_version": md5_b},
        "identical": md5_a == md5_b,
        "statistic": statistic,
        "threshold": threshold,
        "counts": counts,
        "recordings": drift.recording_changes(info_a, info_b),
        "spec_changes": drift.spec_changes(info_a, info_b),
        "features": features,
        "shifted": sorted(name for name, row in features.items() if row["shifted"]),
    }


def format_diff(result: Dict[str, Any]) -> str:
    a, b = result["a"], result["b"]
    lines = [f"A: {a['ref']} ({a['data_version']})", f"B: {b['ref']} ({b['data_version']})"
             + ("  identical content" if result["identical"] else "")]
    lines.append(f"{'windows':<12}{'A':>10}{'B':>10}{'change':>10}")
    for name, count in result["counts"].items():
        change = (count["b"] - count["a"]) / count["a"] * 100 if count["a"] else float("nan")
        lines.append(f"  {name:<10}{count['a']:>10}{count['b']:>10}{change:>+9.1f}%")
    recordings = result["recordings"]
    lines.append("recordings: " + "; ".join(
        f"{len(names)} {kind}" + (f" ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})" if names else "")
        for kind, names in recordings.items()))
    if result["spec_changes"]:
        lines.append("window settings changed: " + ", ".join(f"{key} {old} -> {new}"
                                                             for key, (old, new) in result["spec_changes"].items()))
    statistic, threshold = result["statistic"], result["threshold"]
    lines.append(f"{'feature':<20}{'PSI':>8}{'KS':>8}{'mean A':>10}{'mean B':>10}  (flag: {statistic} > {threshold})")
    for name, row in result["features"].items():
        cells = [_cell(row["psi"], 8), _cell(row["ks"], 8), _cell(row["mean_a"], 10), _cell(row["mean_b"], 10)]
        lines.append(f"  {name:<18}{''.join(cells)}" + ("  SHIFTED" if row["shifted"] else ""))
    shifted = result["shifted"]
    lines.append(f"shift above {threshold} ({statistic}) in: {', '.join(shifted)}" if shifted
                 else f"no feature shifted above {threshold} ({statistic})")
    return "\n".join(lines)


def _cell(value: Any, width: int) -> str:
    return f"{value:>{width}.3f}" if isinstance(value, (int, float)) else f"{'-':>{width}}"

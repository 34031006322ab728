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
from drivelab.data.health import drift
from drivelab.errors import DrivelabError

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
        result = drift.diff(refs[0], refs[1], **settings)
    except DrivelabError as exc:
        _fail(str(exc))
    print(drift.format_diff(result))
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

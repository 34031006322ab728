"""`drivelab models [list|get|demote|rollback]`: the model registry of the repository (GTO tags, DVC files).
Not a Hydra app: it takes a model reference and a few key=value settings."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List

from drivelab.errors import DrivelabError

USAGE = """usage: drivelab models [list] [name=NAME] [repo=DIR]
       drivelab models get NAME@STAGE|NAME@VERSION [out=DIR] [repo=DIR]
       drivelab models demote NAME@STAGE reason="..." [repo=DIR]
       drivelab models rollback NAME@STAGE [to=VERSION] reason="..." [repo=DIR]

list      every registered version: stages, who registered it and when, run, data version, git commit, gate result
get       fetch a version's files (ONNX, torch.export program, model card, gate report) from the DVC cache or
          remote into out (default models/registry/NAME@STAGE); works in a fresh clone
demote    take the stage from its present version (the version that held it before, if any, holds it again)
rollback  give the stage back to the version that held it before the present one (or to=VERSION)
Promotion: drivelab promote run_dir=DIR stage=STAGE reason="...". Nothing here pushes: git push --tags, dvc push."""

SETTINGS = {"list": ("name", "repo"), "get": ("out", "repo"), "demote": ("reason", "repo"),
            "rollback": ("to", "reason", "repo")}


def main(argv: List[str]) -> None:
    if any(arg in ("-h", "--help", "help") for arg in argv):
        print(USAGE)
        return
    action = argv[0] if argv and "=" not in argv[0] and "@" not in argv[0] else "list"
    rest = argv[1:] if argv and argv[0] == action else argv
    try:
        if action not in SETTINGS:
            raise DrivelabError(f"unknown models command {action!r}; choose one of: {', '.join(SETTINGS)}")
        references, settings = _parse(action, rest)
        _run(action, references, settings)
    except DrivelabError as exc:
        print(f"drivelab models: error: {exc}", file=sys.stderr)
        raise SystemExit(2)


def _parse(action: str, args: List[str]) -> tuple[List[str], Dict[str, str]]:
    references, settings = [], {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            references.append(arg)
        elif key in SETTINGS[action]:
            settings[key] = value
        else:
            raise DrivelabError(f"models {action}: unknown setting {key!r}; choose from: {', '.join(SETTINGS[action])}")
    wanted = 0 if action == "list" else 1
    if len(references) != wanted:
        raise DrivelabError(f"models {action} takes {'no' if not wanted else 'one'} model reference "
                            f"(NAME@STAGE), got {len(references)}: {' '.join(references) or '(none)'}")
    if action in ("demote", "rollback") and not settings.get("reason"):
        raise DrivelabError(f"models {action}: say why with reason=\"...\" (it goes into the tag)")
    return references, settings


def _run(action: str, references: List[str], settings: Dict[str, str]) -> None:
    from drivelab.registry import repository
    from drivelab.registry.state import parse_reference

    repo = repository.root(Path(settings.get("repo", ".")))
    if action == "list":
        from drivelab.registry.table import format_table, rows

        print(format_table(rows(repo, settings.get("name"))))
        return
    if action == "get":
        from drivelab.registry.fetch import get, read_card

        version, folder = get(repo, references[0], Path(settings["out"]) if "out" in settings else None)
        card = read_card(folder)
        files = ", ".join(sorted(path.name for path in folder.iterdir()))
        print(f"{references[0]}: {version.reference} (commit {version.commit[:10]}, stages: "
              f"{', '.join(version.stages) or 'none'}) -> {folder}")
        print(f"files: {files}")
        print(f"model card: {folder / 'card.md'} ({card['model']['name']}, task {card['model']['task']}, "
              f"data version {card.get('data_version')})")
        return
    from drivelab.registry import promote

    name, stage = parse_reference(references[0])
    if action == "demote":
        demoted, now = promote.demote(repo, name, stage, settings["reason"])
        print(f"{name} {demoted.version} demoted from {stage}; {stage} is now held by "
              f"{now.version if now else 'no version'}")
    else:
        previous, target = promote.rollback(repo, name, stage, settings["reason"], settings.get("to"))
        print(f"{name} {stage} rolled back to {target.version}"
              + (f" (was {previous.version})" if previous else ""))
    print("not pushed: git push origin --tags")
